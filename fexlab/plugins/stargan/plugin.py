"""The ``stargan`` generator plugin: expression editing of a real face ("make this face smile").

It takes a face crop and target emotions and returns the same face showing each emotion. The
checkpoint holds the translator (:class:`~fexlab.plugins.stargan.model.StarGANGenerator`, the EMA copy)
and the translator's own expression classifier, trained with it on real faces only. The
classifier estimates the emotion the input already shows, so ``strength`` can blend the
condition from that emotion (0: the face as it is) to the target (1).

There is nothing to draw without a face: :meth:`generate` without the ``image`` option is
refused. Finding faces in a photo, cropping, and pasting the edit back live in :mod:`editing`;
this plugin sees one square face at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from fexlab.registry import EMOTIONS, Generator, InputError, emotion_index

from ..cgan.model import ExpressionClassifier
from .model import PatchDiscriminator, StarGANGenerator

__all__ = ["StarGAN", "StarGANConfig", "Translator", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class StarGANConfig:
    resolution: int = 48
    grayscale: bool = True
    #: Channels of the translator's first layer (doubled twice on the way down).
    width: int = 16
    #: Residual blocks at a quarter of the resolution.
    blocks: int = 3
    #: Channels of the discriminator's first layer (training only).
    d_width: int = 32
    num_classes: int = len(EMOTIONS)


class Translator(nn.Module):
    """What a checkpoint holds: the translator and its own expression classifier."""

    def __init__(self, cfg: StarGANConfig):
        super().__init__()
        channels = 1 if cfg.grayscale else 3
        self.generator = StarGANGenerator(cfg.num_classes, channels, cfg.width, cfg.blocks)
        self.classifier = ExpressionClassifier(cfg.num_classes, channels, cfg.resolution)


class StarGAN(Generator):
    """Edits the expression of a face: one translator for all seven emotions (StarGAN, GANimation mask)."""

    name: ClassVar[str] = "stargan"
    description: ClassVar[str] = "edits the expression of an uploaded face (StarGAN translator, 48 px)"
    config_class: ClassVar[type] = StarGANConfig
    pretrained: ClassVar[dict[str, str]] = {"fer2013": str(WEIGHTS_DIR / "fer2013")}
    weights_hint: ClassVar[str] = ("train one with `fexlab train stargan --data ../shared/data/fer2013/ferplus_votes.csv "
                                   "--out runs/stargan`")
    #: ``image``: the face to edit (required); ``strength``: 0 keeps the face, 1 shows the target.
    options: ClassVar[dict[str, Any]] = {"image": None, "strength": 1.0}
    needs_image: ClassVar[bool] = True
    batch_size: ClassVar[int] = 64
    #: Margin around the detector's box when a photo's face is cropped for editing: FER2013-like framing.
    crop_margin: ClassVar[float] = 0.1

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.module = Translator(self.config).eval()

    @property
    def channels(self) -> int:
        return 1 if self.config.grayscale else 3

    def torch_module(self) -> Translator:
        return self.module

    def build_discriminator(self) -> PatchDiscriminator:
        """A fresh discriminator matching this translator, for training."""
        return PatchDiscriminator(self.channels, self.config.d_width)

    # -- tensors ----------------------------------------------------------------------------------
    def to_tensor(self, faces: Sequence[Any]) -> torch.Tensor:
        """Face crops (path, PIL or array, any size and mode) -> (N, C, R, R) floats in [-1, 1]:
        the centre square, resized to the model's resolution, gray when the model is."""
        import cv2

        from fexlab.preprocessing.images import load_image

        size, out = self.config.resolution, []
        for face in faces:
            array = load_image(face) if not isinstance(face, np.ndarray) else face
            if array.ndim == 2:
                array = np.repeat(array[..., None], 3, axis=2)
            array = np.ascontiguousarray(array[..., :3]).astype(np.uint8)
            h, w = array.shape[:2]
            side = min(h, w)
            array = array[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
            if side != size:
                array = cv2.resize(array, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
            if self.config.grayscale:
                array = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)[..., None]
            out.append(torch.from_numpy(array.transpose(2, 0, 1).copy()))
        return torch.stack(out).float() / 127.5 - 1.0

    @staticmethod
    def to_images(batch: torch.Tensor) -> list:
        """(N, C, R, R) floats in [-1, 1] -> RGB ``PIL.Image`` list."""
        from PIL import Image

        arrays = ((batch.float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return [Image.fromarray(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a) for a in arrays]

    def source_weights(self, faces: torch.Tensor) -> torch.Tensor:
        """The translator's own estimate of the emotion each face shows, (N, 7) probabilities."""
        with torch.inference_mode():
            return torch.softmax(self.module.classifier.eval()(faces), dim=1)

    def translate(self, faces: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(N, C, R, R) faces and (N, 7) target class weights -> (N, C, R, R) edited faces."""
        module = self.module.generator.eval()
        device = next(module.parameters()).device
        out = []
        with torch.inference_mode():
            for start in range(0, faces.shape[0], self.batch_size):
                stop = start + self.batch_size
                out.append(module(faces[start:stop].to(device), targets[start:stop].to(device)).image.cpu())
        return torch.cat(out) if out else faces[:0]

    def conditions(self, faces: torch.Tensor, emotions: Sequence[str], strength: float) -> torch.Tensor:
        """(len(emotions), 7) targets for one face: ``strength`` of the way from the emotion the
        face shows (the translator's classifier) to each emotion."""
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {strength}")
        targets = torch.eye(self.config.num_classes)[[emotion_index(e) for e in emotions]]
        if strength == 1.0:
            return targets
        source = self.source_weights(faces[:1])
        return strength * targets + (1 - strength) * source

    # -- the Generator interface -----------------------------------------------------------------
    def _face(self, options: dict[str, Any]) -> torch.Tensor:
        image = options.get("image")
        if image is None:
            raise InputError("stargan edits a face, it does not draw one: give the face to edit (`fexlab generate "
                             "--plugin stargan --image PHOTO`, or upload one under Generate > Edit a face); to draw "
                             "new faces use cgan")
        return self.to_tensor([image])

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """The face in ``options["image"]`` showing each of ``emotions`` (``seed`` is unused:
        the edit is deterministic). ``strength`` (default 1) scales the change."""
        names = self.check_inputs(emotions, options)
        face = self._face(options)
        strength = float(options.get("strength", self.options["strength"]))
        targets = self.conditions(face, names, strength)
        return self.to_images(self.translate(face.expand(len(names), -1, -1, -1), targets))

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8, **options: Any) -> list:
        """The face in ``options["image"]`` morphing from the ``start`` emotion to the ``end``
        one: the condition blends linearly (the seeds are unused; the identity is the photo's)."""
        if frames < 2:
            raise InputError(f"interpolation needs at least 2 frames, got {frames}")
        (emo_a, _), (emo_b, _) = start, end
        self.check_inputs([emo_a, emo_b], options)
        face = self._face(options)
        strength = float(options.get("strength", self.options["strength"]))
        a, b = self.conditions(face, [emo_a, emo_b], strength)
        t = torch.linspace(0, 1, frames)[:, None]
        return self.to_images(self.translate(face.expand(frames, -1, -1, -1), (1 - t) * a + t * b))
