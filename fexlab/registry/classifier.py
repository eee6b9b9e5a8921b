"""The ``Classifier`` plugin kind: face crops in, probabilities over the 7 emotions out, batched.

A classifier declares how its network wants its input (:class:`InputSpec`: size, gray or RGB,
normalisation) and returns its ``nn.Module``; this base class does the rest the same way for every
model: per-face resize, one forward pass per batch, softmax, and the mapping of the model's own
labels onto :data:`~fexlab.registry.emotions.EMOTIONS`.
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .emotions import EMOTIONS, LabelMapping
from .errors import InputError
from .onnx_runtime import OnnxModule, engine
from .plugin import Plugin

__all__ = ["DEFAULT_CLASSIFIER", "DEFAULT_MESH_CLASSIFIER", "Classifier", "InputSpec"]

# torch's OpenMP threads spin while they wait for each other. When another process, or OpenCV's
# face detection in the same one, holds a core, a spinning thread waits for a thread that is not
# running: a 1.5 ms mini-Xception call then takes hundreds of milliseconds. Waiting passively
# keeps inference fast on a shared or busy CPU. It must be set before torch is imported (this
# module imports torch only inside functions); a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


#: The classifier the CLI and every app tab use unless told otherwise: the best shipped model on
#: real faces by the measurements of docs/classifiers.md (``efficientnet``'s default tag is ``ferplus``).
DEFAULT_CLASSIFIER = "efficientnet"
#: The default where the face mesh runs anyway (``fexlab predict --analyzer face_mesh``): appearance
#: and the mesh's geometry fused late, better on every validation split measured and, with the
#: mesh already run, no slower than :data:`DEFAULT_CLASSIFIER` (docs/classifiers.md).
DEFAULT_MESH_CLASSIFIER = "ensemble.geometry"


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: square side in pixels, channels, per-channel mean / std, and
    the margin (a fraction of the detector's box side) the face crop should have."""

    size: int
    grayscale: bool = False
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    crop_margin: float = 0.1

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3


def _as_rgb_uint8(face: np.ndarray) -> np.ndarray:
    face = np.asarray(face)
    if face.ndim == 2:
        face = np.repeat(face[:, :, None], 3, axis=2)
    if face.ndim != 3 or face.shape[2] not in (1, 3, 4) or face.shape[0] == 0 or face.shape[1] == 0:
        raise InputError(f"a face must be an HxWx3 RGB array, got shape {face.shape}")
    if face.shape[2] == 1:
        face = np.repeat(face, 3, axis=2)
    if face.shape[2] == 4:
        face = face[:, :, :3]
    if face.dtype != np.uint8:
        face = np.clip(face, 0, 255).astype(np.uint8)
    return face


class Classifier(Plugin):
    """Base of emotion classifiers. Subclasses implement ``torch_module``.

    :meth:`input_spec` reads the config's ``input_size``, ``grayscale`` and ``crop_margin``
    fields, and its ``image_mean`` / ``image_std`` if it has them (a hub model's preprocessor
    values), else the class's :attr:`input_mean` / :attr:`input_std`.
    """

    kind: ClassVar[str] = "classifier"
    #: Faces per forward pass in :meth:`predict`.
    batch_size: ClassVar[int] = 64
    #: RGB mean / std of the network's normalisation; a gray input uses their averages.
    input_mean: ClassVar[tuple[float, ...]] = (0.5, 0.5, 0.5)
    input_std: ClassVar[tuple[float, ...]] = (0.5, 0.5, 0.5)
    #: Test-time augmentation: average each face's prediction with its mirror image's. Off by
    #: default; the spec suffix ``+flip`` (``mini_xception.fer2013+flip``) turns it on for one
    #: loaded classifier, in prediction, evaluation and the app alike.
    test_time_flip: bool = False
    #: Whether the classifier trainer can train it (an ensemble has no weights of its own).
    trainable: ClassVar[bool] = True
    #: Whether :meth:`predict` may run the module on ONNX Runtime (:mod:`fexlab.registry.onnx_runtime`)
    #: where it is installed; a module that cannot be exported runs on PyTorch all the same.
    onnx_export: ClassVar[bool] = True

    @abc.abstractmethod
    def torch_module(self) -> Any:
        """The ``nn.Module`` mapping a (N, C, H, W) float batch to (N, len(labels)) logits."""

    def input_spec(self) -> InputSpec:
        """Input size, channels and normalisation the module expects."""
        cfg = self.config
        gray = bool(cfg.grayscale)
        mean = tuple(getattr(cfg, "image_mean", None) or self.input_mean)
        std = tuple(getattr(cfg, "image_std", None) or self.input_std)
        if gray:
            mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
        return InputSpec(int(cfg.input_size), gray, mean, std, float(getattr(cfg, "crop_margin", 0.1)))

    @property
    def labels(self) -> tuple[str, ...]:
        """The module's output labels in index order; canonical emotions unless overridden."""
        return EMOTIONS

    @property
    def label_mapping(self) -> LabelMapping:
        """The module's labels -> :data:`EMOTIONS`, with the config's ``label_overrides`` if any.

        Labels that cannot be mapped without ambiguity raise :class:`InputError`, never a
        silently misaligned mapping.
        """
        overrides = dict(getattr(self.config, "label_overrides", None) or {})
        mapping = getattr(self, "_label_mapping", None)
        if mapping is None or mapping.source_labels != tuple(self.labels) or mapping.overrides != overrides:
            try:
                mapping = self._label_mapping = LabelMapping(self.labels, overrides)
            except ValueError as err:
                raise InputError(
                    f"{self.name}: {err}; map them with label_overrides, e.g. {{\"LABEL_0\": \"angry\"}}"
                ) from None
        return mapping

    def init_for_training(self, required: bool = False) -> str:
        """Load the weights a fresh model starts training from; return one line saying which.

        The default keeps the random initialisation of :meth:`from_config`; a plugin with a
        pretrained backbone (ImageNet EfficientNet, ConvNeXt) loads it here, so loading a
        checkpoint never fetches weights it would overwrite. ``required`` (``--init imagenet``)
        makes a missing pretrained start an error instead of a random one.
        """
        if required:
            raise InputError(f"{self.name} has no ImageNet weights to start from; leave out --init imagenet")
        return "random initialisation"

    def checkpoint_labels(self) -> list[str]:
        return list(self.labels)

    # -- input transforms, shared by inference and the trainer ----------------------------------
    def to_array(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 faces of any size -> a normalised float32 (N, C, H, W) batch."""
        import cv2

        spec = self.input_spec()
        batch = np.empty((len(faces), spec.size, spec.size, spec.channels), dtype=np.float32)
        for i, face in enumerate(faces):
            face = _as_rgb_uint8(face)
            if face.shape[0] != spec.size or face.shape[1] != spec.size:
                shrink = face.shape[0] > spec.size
                face = cv2.resize(
                    face, (spec.size, spec.size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
                )
            if spec.grayscale:
                batch[i, :, :, 0] = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
            else:
                batch[i] = face
        mean = np.asarray(spec.mean[: spec.channels], dtype=np.float32) * 255.0
        std = np.asarray(spec.std[: spec.channels], dtype=np.float32) * 255.0
        batch = (batch - mean) / std
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def eval_transform(self) -> Callable[[np.ndarray], Any]:
        """One RGB uint8 face -> a (C, H, W) float tensor, as the module sees it at inference."""
        import torch

        return lambda face: torch.from_numpy(self.to_array([face])[0])

    def train_transform(self) -> Callable[[np.ndarray], Any]:
        """Same as :meth:`eval_transform`; augmentation is applied to the uint8 face beforehand."""
        return self.eval_transform()

    # -- inference --------------------------------------------------------------------------------
    def _forward_batches(self, faces: Sequence[np.ndarray], forward: Callable[[Any, Any], Any]) -> list[np.ndarray]:
        """``forward(module, batch)`` on each :attr:`batch_size` chunk of ``faces``, as numpy."""
        import torch

        module = self.torch_module()
        module.eval()
        device = next(module.parameters()).device
        with torch.inference_mode():
            return [forward(module, torch.from_numpy(batch).to(device)).float().cpu().numpy()
                    for batch in self._input_batches(faces)]

    def _input_batches(self, faces: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
        """:meth:`to_array` of each :attr:`batch_size` chunk of ``faces``."""
        for start in range(0, len(faces), self.batch_size):
            yield self.to_array(faces[start : start + self.batch_size])

    def predict_logits(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (N, len(labels)) logits, batched by :attr:`batch_size`: on ONNX Runtime where it
        is installed (:meth:`onnx_module`), else on PyTorch."""
        runner = self.onnx_module()
        if runner is None:
            out = self._forward_batches(faces, lambda module, batch: module(batch))
        else:
            out = [runner(batch) for batch in self._input_batches(faces)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def onnx_module(self) -> OnnxModule | None:
        """The module's ONNX Runtime twin, exported on first use (and again after its weights
        change); None where prediction runs on PyTorch: ``FEXLAB_ENGINE=torch``, no ONNX Runtime,
        a module on a GPU, or one the exporter cannot translate (said once in the log)."""
        if not self.onnx_export or engine() != "onnx":
            return None
        import torch

        module = self.torch_module()
        if module.training:
            module.eval()
        runner = getattr(self, "_onnx", None)
        if runner is not None and runner.matches(module):
            return runner
        if getattr(self, "_onnx_failed", None) is module or any(t.device.type != "cpu" for t in module.parameters()):
            return None
        spec = self.input_spec()
        try:
            runner = OnnxModule.for_module(module, torch.zeros(1, spec.channels, spec.size, spec.size), self.name)
        except Exception as err:  # an op the exporter or ONNX Runtime lacks: PyTorch runs it instead
            logging.getLogger(__name__).warning("%s runs on PyTorch: its export to ONNX failed (%s)", self.name,
                                                str(err).splitlines()[0] if str(err) else type(err).__name__)
            self._onnx_failed = module
            return None
        self._onnx = runner
        return runner

    def embed(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float32 features of N RGB uint8 faces: this classifier's feature space.

        The evaluation uses it as the judge's space for Frechet / kernel distances and diversity.
        Default: the input of the last layer with weights that the forward pass runs (the
        classification head), averaged over any spatial axes (N, D, H, W) or token axis
        (N, T, D), captured with forward pre-hooks. Override where the plugin knows a better layer.
        """
        leaves = [
            m for m in self.torch_module().modules()
            if not any(True for _ in m.children()) and any(True for _ in m.parameters(recurse=False))
        ]
        captured: dict[str, Any] = {}

        def remember(_module: Any, inputs: tuple) -> None:
            captured["input"] = inputs[0]

        def features(module: Any, batch: Any) -> Any:
            captured.clear()
            module(batch)
            x = captured["input"]
            if x.ndim == 4:
                return x.mean(dim=(2, 3))
            if x.ndim == 3:
                return x.mean(dim=1)
            return x.flatten(1)

        handles = [leaf.register_forward_pre_hook(remember) for leaf in leaves]
        try:
            out = self._forward_batches(list(faces), features)
        finally:
            for handle in handles:
                handle.remove()
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) probabilities over :data:`EMOTIONS` for N RGB uint8 face crops.

        With :attr:`test_time_flip`, each face's probabilities are averaged with its mirror image's.
        """
        faces = list(faces)
        if not faces:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        probs = self._probabilities(faces)
        if self.test_time_flip:
            mirrored = [np.ascontiguousarray(np.flip(np.asarray(face), axis=1)) for face in faces]
            probs = (probs + self._probabilities(mirrored)) / 2
        return probs

    def predict_or_abstain(self, faces: Sequence[np.ndarray],
                           analyses: Sequence[dict[str, Any] | None] | None = None) -> np.ndarray:
        """:meth:`predict_analysed` (:meth:`predict` without ``analyses``), with NaN rows for the
        faces this classifier cannot read (a geometry classifier where no face mesh is found), so
        an ensemble leaves it out for those faces. Default: every face is read."""
        return self.predict(faces) if analyses is None else self.predict_analysed(faces, analyses)

    def predict_analysed(self, faces: Sequence[np.ndarray], analyses: Sequence[dict[str, Any] | None]) -> np.ndarray:
        """:meth:`predict`, given also each face's analysis (the face mesh's outputs) where the
        pipeline ran analyzers; a classifier that reads them (``geometry``) then need not run its
        own. Default: the analyses are not read."""
        return self.predict(faces)

    @property
    def temperature(self) -> float:
        """Divides the logits before the softmax: the config's ``temperature`` (fitted on a
        validation split by ``python -m fexlab.trainers.calibrate``), else 1."""
        return float(getattr(self.config, "temperature", 1.0) or 1.0)

    def _probabilities(self, faces: list[np.ndarray]) -> np.ndarray:
        return self.logits_to_probabilities(self.predict_logits(faces))

    def logits_to_probabilities(self, logits: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(N, 7) probabilities over :data:`EMOTIONS` from the module's (N, len(labels)) logits,
        divided by ``temperature`` (default: :attr:`temperature`) before the softmax."""
        logits = logits / (self.temperature if temperature is None else temperature)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return self.label_mapping.to_canonical(probs)
