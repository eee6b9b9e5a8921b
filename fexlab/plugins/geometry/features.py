"""A face's geometry as numbers: the Face Landmarker's blendshapes, head pose and mesh, per face crop.

The ``geometry`` classifier and its cache (:mod:`.cache`) read a face through the same function,
:meth:`MeshReader.read`, so the features it was trained on are the ones it sees in prediction:
the crop is scaled (bicubic) to :data:`UPSCALE` pixels, the whole crop is taken as the face's box
and the Face Landmarker (``face_mesh``, refined) reads it in a region :data:`REGION_SCALE` times
the crop's side. Measured on 105 FER2013 training faces (48 px gray crops, 15 per emotion):
MediaPipe's own enlargement of 1.5 finds a mesh in 85-86% of them, 1.2 in 92-95%, with the same
separation of smiles (ROC AUC of ``mouthSmileLeft`` for happy 0.88 to 0.91); scaling the crop to
96 or 192 px first changed neither much (the landmark model's input is 256 px anyway). 15-20 ms
a face on one CPU thread.

Where the pipeline already ran ``face_mesh`` on the whole photo, :func:`from_analysis` takes its
outputs instead of running the mesh again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CROP_MARGIN", "POSE_NAMES", "REGION_SCALE", "UPSCALE", "MeshFeatures", "MeshReader", "from_analysis"]

#: Crops are scaled to this side before the mesh (bicubic).
UPSCALE = 96
#: The landmark model's region: the crop's side times this (MediaPipe's 1.5 suits a detector's box,
#: which is tighter than a face crop).
REGION_SCALE = 1.2
#: The band added around a detector's box before the crop the mesh reads, as a fraction of its side
#: (the margin of ``efficientnet.ferplus`` and ``efficientnet.ferplus_muxspace``, so the two read the same crop in a fusion).
CROP_MARGIN = 0.05
#: Head pose angles in degrees, in this order.
POSE_NAMES = ("yaw", "pitch", "roll")


@dataclass
class MeshFeatures:
    """What the mesh gave for N faces: blendshape scores (N, 51) in ARKit order, head pose (N, 3)
    in degrees, the presence probability (N,), whether a mesh was found (N,), and the 146 points
    the blendshape model reads (N, 146, 2), in the crop's coordinates divided by its side."""

    blendshapes: np.ndarray
    pose: np.ndarray
    presence: np.ndarray
    found: np.ndarray
    points: np.ndarray

    @classmethod
    def empty(cls, n: int) -> MeshFeatures:
        from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES, SUBSET

        return cls(np.zeros((n, len(ARKIT_NAMES)), np.float32), np.zeros((n, 3), np.float32),
                   np.zeros(n, np.float32), np.zeros(n, bool), np.zeros((n, len(SUBSET), 2), np.float16))

    def __len__(self) -> int:
        return len(self.found)

    @classmethod
    def concatenate(cls, parts: Sequence[MeshFeatures]) -> MeshFeatures:
        if not parts:
            return cls.empty(0)
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__))

    def take(self, indices: Sequence[int] | np.ndarray) -> MeshFeatures:
        indices = np.asarray(indices, dtype=np.int64)
        return MeshFeatures(*(getattr(self, name)[indices] for name in self.__dataclass_fields__))


def _fill(features: MeshFeatures, i: int, analysis: Mapping[str, Any], origin: np.ndarray, side: float) -> None:
    """Row ``i`` of ``features`` from one face's analysis (``face_mesh``'s outputs)."""
    from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES, SUBSET

    features.presence[i] = float(analysis.get("presence", 0.0))
    shapes = analysis.get("blendshapes")
    if not shapes or "mesh" not in analysis:
        return
    features.found[i] = True
    features.blendshapes[i] = [float(shapes.get(name, 0.0)) for name in ARKIT_NAMES]
    pose = analysis.get("head_pose") or {}
    features.pose[i] = [float(pose.get(name, 0.0)) for name in POSE_NAMES]
    mesh = np.asarray(analysis["mesh"], np.float64)[SUBSET, :2]
    features.points[i] = ((mesh - origin) / max(side, 1e-6)).astype(np.float16)


def from_analysis(analyses: Sequence[Mapping[str, Any] | None]) -> MeshFeatures:
    """The features of faces the pipeline's ``face_mesh`` already analysed on the whole photo (a
    face without blendshapes counts as no mesh found); the points are placed in the mesh's own
    bounding square (the network reads them centred and scaled anyway)."""
    features = MeshFeatures.empty(len(analyses))
    for i, analysis in enumerate(analyses):
        if analysis and "mesh" in analysis:
            mesh = np.asarray(analysis["mesh"], np.float64)[:, :2]
            low = mesh.min(axis=0)
            _fill(features, i, analysis, low, float((mesh.max(axis=0) - low).max()))
    return features


class MeshReader:
    """Runs the Face Landmarker on face crops (see the module's docstring for how)."""

    def __init__(self, mesh: Any = None, *, num_threads: int = 1):
        """``mesh``: a ``face_mesh`` analyzer (default: the shipped one, ``num_threads`` threads)."""
        if mesh is None:
            from fexlab.plugins.face_mesh import FaceMesh

            mesh = FaceMesh.from_config(num_threads=num_threads)
        self.mesh = mesh

    def read(self, crops: Sequence[np.ndarray]) -> MeshFeatures:
        """The features of each RGB uint8 face crop (any size; a gray one is repeated to RGB)."""
        import cv2

        from fexlab.plugins.face_mesh.region import region_from_face
        from fexlab.registry.detector import Face

        features = MeshFeatures.empty(len(crops))
        for i, crop in enumerate(crops):
            crop = np.asarray(crop)
            if crop.ndim == 2:
                crop = np.repeat(crop[:, :, None], 3, axis=2)
            crop = np.ascontiguousarray(crop[:, :, :3], dtype=np.uint8)
            if crop.shape[0] != UPSCALE or crop.shape[1] != UPSCALE:
                crop = cv2.resize(crop, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
            region = region_from_face(Face((0, 0, UPSCALE, UPSCALE), 1.0, None), REGION_SCALE)
            analysis = self.mesh.analyze_region(crop, region, refine=True)
            if not self.mesh.present(analysis):
                features.presence[i] = float(analysis.get("presence", 0.0))
                continue
            _fill(features, i, analysis, np.zeros(2), float(UPSCALE))
        return features
