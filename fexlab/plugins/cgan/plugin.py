"""The ``cgan`` generator plugin: a class-conditional GAN drawing 48x48, 64x64 or 128x128 faces.

The latent ``z`` is drawn from the seed alone, so one seed is one identity and the emotions only
change its expression. The checkpoint holds the EMA copy of the generator (the weights that
sample best); the discriminator exists only while training (``fexlab/trainers/cgan``). Two tags ship
inside this package: ``fer2013`` (the default), trained on FER2013's real training faces with
FER+ labels, 48x48 gray (``weights/fer2013/README.md``), and ``synthetic``, trained on fexlab's
synthetic cartoon faces, not on photographs (``weights/synthetic/README.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from fexlab.registry import EMOTIONS, Generator, InputError, emotion_index
from fexlab.registry.generator import slerp

from .model import CGANGenerator, ExpressionClassifier, ProjectionDiscriminator

__all__ = ["CGAN", "CGANConfig", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class CGANConfig:
    resolution: int = 64
    grayscale: bool = False
    z_dim: int = 128
    #: Generator width: its 4x4 stage has ``8 * g_width`` channels, halving per doubling.
    g_width: int = 32
    #: Discriminator width: its first stage has ``d_width`` channels, doubling per halving.
    d_width: int = 32
    num_classes: int = len(EMOTIONS)


class CGAN(Generator):
    """Class-conditional GAN: conditional batch norm generator, projection discriminator."""

    name: ClassVar[str] = "cgan"
    description: ClassVar[str] = "class-conditional GAN (48-128 px faces)"
    config_class: ClassVar[type] = CGANConfig
    #: ``fer2013`` (default): real FER2013 faces, 48 px gray; ``synthetic``: cartoons of the renderer.
    pretrained: ClassVar[dict[str, str]] = {"fer2013": str(WEIGHTS_DIR / "fer2013"),
                                             "synthetic": str(WEIGHTS_DIR / "synthetic")}
    weights_hint: ClassVar[str] = ("train one with `fexlab train cgan --data ../shared/data/fer2013/ferplus_votes.csv "
                                   "--resolution 48 --grayscale --out runs/cgan`")
    options: ClassVar[dict[str, Any]] = {"truncation": 1.0}
    #: Images per forward pass when sampling.
    batch_size: ClassVar[int] = 64

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.module = CGANGenerator(cfg.z_dim, cfg.num_classes, self.channels, cfg.resolution, cfg.g_width).eval()

    @property
    def channels(self) -> int:
        return 1 if self.config.grayscale else 3

    def torch_module(self) -> CGANGenerator:
        return self.module

    def build_discriminator(self) -> ProjectionDiscriminator:
        """A fresh discriminator matching this generator, for training."""
        cfg = self.config
        return ProjectionDiscriminator(cfg.num_classes, self.channels, cfg.resolution, cfg.d_width)

    def build_classifier(self) -> ExpressionClassifier:
        """A fresh auxiliary expression classifier for training (``fexlab.trainers.cgan`` ``aux_weight``)."""
        return ExpressionClassifier(self.config.num_classes, self.channels, self.config.resolution)

    # -- latents and sampling ---------------------------------------------------------------------
    def latent(self, seed: int, truncation: float = 1.0) -> torch.Tensor:
        """The identity of ``seed``: a (z_dim,) normal vector, scaled by ``truncation`` (psi).

        psi = 1 draws from the prior; smaller values pull the face toward the average one,
        trading variety for typical faces.
        """
        if not 0.0 < truncation <= 1.0:
            raise InputError(f"truncation must be in (0, 1], got {truncation}")
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(self.config.z_dim, generator=g) * truncation

    def sample(self, z: torch.Tensor, classes: torch.Tensor) -> np.ndarray:
        """(N, z_dim) latents and (N,) class indices or (N, K) class weights -> (N, H, W, 3) uint8."""
        module = self.module.eval()
        device = next(module.parameters()).device
        out = []
        with torch.inference_mode():
            for start in range(0, z.shape[0], self.batch_size):
                stop = start + self.batch_size
                x = module(z[start:stop].to(device), classes[start:stop].to(device))
                out.append(((x.float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(out).permute(0, 2, 3, 1).numpy() if out else np.zeros((0, 1, 1, 3), np.uint8)
        return np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """One face per emotion, all with the identity of ``seed`` (random when None)."""
        from PIL import Image

        names = self.check_inputs(emotions, options)
        truncation = float(options.get("truncation", self.options["truncation"]))
        z = self.latent(self.resolve_seed(seed), truncation).expand(len(names), -1)
        classes = torch.tensor([emotion_index(n) for n in names])
        return [Image.fromarray(a) for a in self.sample(z, classes)]

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8,
                    **options: Any) -> list:
        """Faces morphing from ``(emotion, seed)`` ``start`` to ``end`` in ``frames`` images.

        The latent moves along the great circle between the two identities (slerp) while the
        class weights blend linearly from one emotion to the other; equal seeds keep the
        identity and morph the expression, equal emotions keep the expression and morph the face.
        """
        from PIL import Image

        if frames < 2:
            raise InputError(f"interpolation needs at least 2 frames, got {frames}")
        (emo_a, seed_a), (emo_b, seed_b) = start, end
        self.check_inputs([emo_a, emo_b], options)
        truncation = float(options.get("truncation", self.options["truncation"]))
        za, zb = self.latent(seed_a, truncation), self.latent(seed_b, truncation)
        t = torch.linspace(0, 1, frames)
        z = torch.stack([slerp(za, zb, float(v)) for v in t])
        onehot = torch.eye(self.config.num_classes)
        weights = (1 - t)[:, None] * onehot[emotion_index(emo_a)] + t[:, None] * onehot[emotion_index(emo_b)]
        return [Image.fromarray(a) for a in self.sample(z, weights)]

