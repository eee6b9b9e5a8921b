"""The ``geometry`` classifier plugin: emotions from the face's geometry, not its pixels.

fexlab's image classifiers read 48-80 px gray crops and were trained on faces in the wild; the
Face Landmarker (``face_mesh``) reads what posed expressions are made of: 51 ARKit blendshapes,
the head pose and the mesh. This classifier is a small network on those (:mod:`.model`), trained
on FER2013's training faces with FER+ vote distributions as soft targets and muxspace's training
photos (``python -m fexlab.plugins.geometry.train``, from the cache of :mod:`.cache`). It runs the mesh on
each crop it is given (:class:`~.features.MeshReader`); where the pipeline already ran
``face_mesh`` on the photo, :meth:`Geometry.predict_analysed` takes those outputs instead. A face
in which no mesh is found gets the config's ``no_mesh`` probabilities (the training faces' mean
target), and :meth:`Geometry.predict_or_abstain` marks it, so an ensemble leaves this member out
for that face.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import Classifier, InputSpec
from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.plugin import PluginStatus

from .features import CROP_MARGIN, UPSCALE, MeshFeatures, MeshReader, from_analysis
from .model import GeometryNet, feature_matrix, feature_size

__all__ = ["Geometry", "GeometryConfig", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class GeometryConfig:
    #: Whether the network also reads the 146 mesh points (pose-normalised), not only the blendshapes and pose.
    points: bool = True
    #: Width of the hidden layer (0: a linear model, multinomial logistic regression).
    hidden: int = 128
    #: Margin added around the detector's box, as a fraction of its side (the crop the mesh reads).
    crop_margin: float = CROP_MARGIN
    #: Side the crop is scaled to before the mesh (:data:`~.features.UPSCALE`); reported as the input size.
    input_size: int = UPSCALE
    grayscale: bool = False
    #: Divides the logits before the softmax (fitted on a validation split).
    temperature: float = 1.0
    #: Probabilities over the seven emotions of a face with no mesh (empty: uniform).
    no_mesh: tuple[float, ...] = ()


class Geometry(Classifier):
    """A small network on the Face Landmarker's blendshapes, head pose and mesh."""

    name: ClassVar[str] = "geometry"
    description: ClassVar[str] = ("emotions from the face's geometry: the Face Landmarker's blendshapes, head pose and "
                                  "mesh, read by a small network trained on FER+ votes")
    config_class: ClassVar[type] = GeometryConfig
    pretrained: ClassVar[dict[str, str]] = {"ferplus": str(WEIGHTS_DIR / "ferplus")}
    weights_hint: ClassVar[str] = ("build the cache (python -m fexlab.plugins.geometry.cache), then "
                                   "python -m fexlab.plugins.geometry.train")
    #: Trained by its own script on cached mesh features, not by the image trainer.
    trainable: ClassVar[bool] = False
    onnx_export: ClassVar[bool] = False

    def __init__(self, config: Any = None, *, reader: MeshReader | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.module = GeometryNet(feature_size(cfg.points), cfg.hidden).eval()
        self._reader = reader

    def torch_module(self) -> GeometryNet:
        return self.module

    def input_spec(self) -> InputSpec:
        return InputSpec(int(self.config.input_size), False, crop_margin=float(self.config.crop_margin))

    @classmethod
    def status(cls) -> PluginStatus:
        """Its own weights' status, unless the face mesh it needs is not ready."""
        from fexlab.plugins.face_mesh import FaceMesh

        mesh = FaceMesh.status()
        if not mesh.ready:
            return PluginStatus(mesh.state, f"the face mesh it reads is not ready: {mesh.detail}")
        return super().status()

    @property
    def reader(self) -> MeshReader:
        if self._reader is None:
            self._reader = MeshReader()
        return self._reader

    # -- inference ---------------------------------------------------------------------------------
    def no_mesh_probabilities(self) -> np.ndarray:
        """What a face without a mesh gets: the config's ``no_mesh``, else uniform."""
        prior = np.asarray(self.config.no_mesh or [1.0] * len(EMOTIONS), dtype=np.float64)
        return (prior / prior.sum()).astype(np.float32)

    def features_probabilities(self, features: MeshFeatures) -> np.ndarray:
        """(N, 7) probabilities from mesh features, NaN rows for faces without a mesh."""
        import torch

        out = np.full((len(features), len(EMOTIONS)), np.nan, dtype=np.float32)
        found = np.asarray(features.found, bool)
        if found.any():
            rows = torch.from_numpy(feature_matrix(features.take(np.flatnonzero(found)), self.config.points))
            with torch.inference_mode():
                logits = self.module(rows).numpy()
            out[found] = self.logits_to_probabilities(logits)
        return out

    def predict_or_abstain(self, faces: Sequence[np.ndarray],
                           analyses: Sequence[Mapping[str, Any] | None] | None = None) -> np.ndarray:
        """(N, 7) probabilities, NaN rows where no mesh was found in the face. Each face's mesh comes
        from ``analyses`` (the pipeline's ``face_mesh`` outputs) where it has them, else from the crop;
        with ``+flip`` the mirrored crop's probabilities are averaged in (a mirror has no analysis)."""
        faces = list(faces)
        features = from_analysis(analyses) if analyses is not None else MeshFeatures.empty(len(faces))
        missing = np.flatnonzero(~features.found)
        if len(missing):
            read = self.reader.read([faces[i] for i in missing])
            for name in MeshFeatures.__dataclass_fields__:
                getattr(features, name)[missing] = getattr(read, name)
        probs = self.features_probabilities(features)
        if self.test_time_flip:
            mirrored = [np.ascontiguousarray(np.flip(np.asarray(face), axis=1)) for face in faces]
            probs = (probs + self.features_probabilities(self.reader.read(mirrored))) / 2
        return probs

    def predict_analysed(self, faces: Sequence[np.ndarray], analyses: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
        """:meth:`predict`, reading each face's mesh from the pipeline's ``face_mesh`` analysis where it
        has one (see :meth:`predict_or_abstain`)."""
        return self.with_fallback(self.predict_or_abstain(faces, analyses))

    def with_fallback(self, probs: np.ndarray) -> np.ndarray:
        """``probs`` with its NaN rows (faces without a mesh) replaced by :meth:`no_mesh_probabilities`."""
        missing = np.isnan(probs).any(axis=1)
        probs[missing] = self.no_mesh_probabilities()
        return probs

    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) probabilities for N face crops, the mesh run on each (see :meth:`predict_or_abstain`)."""
        return self.with_fallback(self.predict_or_abstain(faces))

    def _probabilities(self, faces: list[np.ndarray]) -> np.ndarray:
        return self.predict(faces)

    def embed(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """The standardised feature rows the network reads (zeros for faces without a mesh)."""
        rows = feature_matrix(self.reader.read(list(faces)), self.config.points)
        mean, scale = self.module.mean.numpy(), self.module.scale.numpy()
        return ((rows - mean) / scale).astype(np.float32)
