"""The expression model: how the face mesh moves and how its shading changes with the blendshapes.

Everything is linear in an expression code: MediaPipe's 51 ARKit blendshape scores, then one weight
per emotion (what the emotion's real faces share beyond their blendshapes: the mesh and the shading
of a sad face that its blendshapes miss; neutral's is 0), fitted by ridge regression on real faces
(:mod:`.fit`). A face's own code is its blendshapes and no emotion weight.

- geometry: the 478-point mesh in a pose-normalised frame (:func:`pose_frame`: the face's scale,
  rotation and position fitted to MediaPipe's canonical face on its 33 stable landmarks, which an
  expression does not move) is ``intercept + code @ geometry``; so the change of the mesh
  between two expressions is ``(target - current) @ geometry``, in the canonical face's units
  (centimetres), and a face's own pose and scale carry it into the photo's pixels;
- shading: the log of the face's luminance, laid out on MediaPipe's texture coordinates (a
  ``texture_size`` square) and centred per face (the light of the photo drops out), is
  ``blendshapes @ shading`` + a constant: the ratio of a smile's luminance to the face's own is the
  exponential of ``(target - current) @ shading`` there (an expression ratio image: the folds of a
  smile, the wrinkles of a sneer).

What an emotion edit aims at, how strongly real faces of the emotion show it, is kept beside this
model (:mod:`.magnitudes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fexlab.registry import EMOTIONS, CheckpointError, InputError

from ..face_mesh.action_units import BLENDSHAPES_OF_UNIT
from ..face_mesh.blendshapes import ARKIT_NAMES
from ..face_mesh.bundle import CanonicalFace

if TYPE_CHECKING:
    from .magnitudes import Magnitudes

__all__ = ["CODE_SIZE", "ExpressionModel", "FILE", "Pose", "face_code", "pose_frame", "target_code"]

#: The model's file inside a checkpoint folder.
FILE = "expression_model.safetensors"
#: The expression code: the 51 blendshapes, then a weight per emotion (EMOTIONS order).
CODE_SIZE = len(ARKIT_NAMES) + len(EMOTIONS)
#: Image axes (x right, y down, z away from the camera) to the canonical face's (x right, y up, z toward it).
_FLIP = np.array([1.0, -1.0, -1.0])
#: The model's arrays (an older file's ``prototypes``, the mean blendshapes per emotion, is ignored:
#: the edits aim at :mod:`.magnitudes` instead).
_ARRAYS = ("intercept", "geometry", "shading")


@dataclass(frozen=True)
class Pose:
    """A face's place in the photo: ``image = scale * canonical @ rotation.T + offset`` (right-handed axes)."""

    scale: float
    rotation: np.ndarray
    offset: np.ndarray

    def normalise(self, mesh: np.ndarray) -> np.ndarray:
        """(N, 3) image pixels -> the pose-normalised frame (the canonical face's units)."""
        return ((np.asarray(mesh, np.float64) * _FLIP - self.offset) @ self.rotation) / self.scale

    def to_image(self, delta: np.ndarray) -> np.ndarray:
        """(N, 3) displacements in the normalised frame -> (N, 3) in image pixels."""
        return (self.scale * np.asarray(delta, np.float64) @ self.rotation.T) * _FLIP


def pose_frame(mesh: np.ndarray, canonical: CanonicalFace) -> Pose:
    """The similarity (scale, rotation, offset) taking the canonical face onto ``mesh`` ((478, 3)
    image pixels), fitted by weighted least squares on MediaPipe's stable landmarks (Umeyama)."""
    ids, weights = canonical.landmark_ids, canonical.weights / canonical.weights.sum()
    seen = np.asarray(mesh, np.float64)[ids] * _FLIP
    model = canonical.vertices[ids]
    mean_seen, mean_model = weights @ seen, weights @ model
    a, b = seen - mean_seen, model - mean_model
    covariance = (a * weights[:, None]).T @ b
    u, sigma, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign) / (weights @ (b * b).sum(axis=1)))
    return Pose(scale, rotation, mean_seen - scale * mean_model @ rotation.T)


def face_code(blendshapes: Mapping[str, float]) -> np.ndarray:
    """A face's own expression code: its blendshape scores and no emotion weight."""
    code = np.zeros(CODE_SIZE)
    code[: len(ARKIT_NAMES)] = [float(blendshapes.get(name, 0.0)) for name in ARKIT_NAMES]
    return code


def target_code(magnitudes: "Magnitudes", current: np.ndarray, emotion: str | None, strength: float,
                units: Mapping[str, float] | None = None, shapes: Mapping[str, float] | None = None) -> np.ndarray:
    """The expression code an edit aims at. With an ``emotion``: ``strength`` 0 is the face's own
    ``current`` code, 1 a typical real face of the emotion (its blendshapes in place of the face's
    own, so a smile is taken out of a face edited to sad, and emotion weight 1), in between a
    straight line; from 1 to 2 the blendshapes move on toward the emotion's most intense real faces,
    never beyond the range its real faces reach, the emotion weight staying 1 (see
    :mod:`.magnitudes`). Then each action unit in ``units`` ("AU12" -> 0.8) is set through its
    blendshapes, then each blendshape in ``shapes`` as given."""
    n = len(ARKIT_NAMES)
    target = np.asarray(current, np.float64).copy()
    if emotion is not None:
        k = EMOTIONS.index(emotion)
        aim = np.zeros(CODE_SIZE)
        aim[:n] = magnitudes.shapes(emotion, max(float(strength), 1.0))
        aim[n + k] = 1.0
        target = aim if strength >= 1.0 else target + strength * (aim - target)
    index = {name: k for k, name in enumerate(ARKIT_NAMES)}
    for unit, value in (units or {}).items():
        if unit not in BLENDSHAPES_OF_UNIT:
            raise InputError(f"no action unit '{unit}' can be set; units: {', '.join(BLENDSHAPES_OF_UNIT)}")
        for name in BLENDSHAPES_OF_UNIT[unit]:
            target[index[name]] = value
    for name, value in (shapes or {}).items():
        if name not in index:
            raise InputError(f"no blendshape '{name}'; the 51 ARKit names, e.g. mouthSmileLeft, jawOpen, browInnerUp")
        target[index[name]] = value
    target[:n] = np.clip(target[:n], 0.0, 1.0)
    return target


@dataclass
class ExpressionModel:
    """The fitted linear model (see the module): arrays only, saved as safetensors."""

    #: (478, 3) the mesh of blendshapes all 0, in the normalised frame.
    intercept: np.ndarray
    #: (CODE_SIZE, 478 * 3) each code entry's displacement of the normalised mesh.
    geometry: np.ndarray
    #: (CODE_SIZE, S * S) each code entry's change of the centred log luminance on the texture square.
    shading: np.ndarray

    @property
    def texture_size(self) -> int:
        return int(round(np.sqrt(self.shading.shape[1])))

    def __post_init__(self) -> None:
        shapes = {"intercept": (478, 3), "geometry": (CODE_SIZE, 478 * 3)}
        for name, shape in shapes.items():
            if np.shape(getattr(self, name)) != shape:
                raise CheckpointError(f"the expression model's {name} has shape {np.shape(getattr(self, name))}, "
                                      f"not {shape}")
        if self.shading.shape[0] != CODE_SIZE or self.texture_size ** 2 != self.shading.shape[1]:
            raise CheckpointError(f"the expression model's shading has shape {self.shading.shape}, "
                                  f"not ({CODE_SIZE}, S * S)")

    def displacement(self, current: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(478, 3) change of the normalised mesh from expression code ``current`` to ``target``."""
        return ((np.asarray(target) - np.asarray(current)) @ self.geometry).reshape(478, 3)

    def shade(self, current: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(S, S) change of log luminance on the texture square from ``current`` to ``target``."""
        size = self.texture_size
        return ((np.asarray(target) - np.asarray(current)) @ self.shading).reshape(size, size)

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / FILE
        save_file({name: np.ascontiguousarray(getattr(self, name), np.float16)
                   for name in _ARRAYS}, str(path))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "ExpressionModel":
        from safetensors.numpy import load_file

        path = Path(directory) / FILE
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {FILE}; the checkpoint is incomplete")
        arrays = load_file(str(path))
        missing = set(_ARRAYS) - set(arrays)
        if missing:
            raise CheckpointError(f"{path} lacks {sorted(missing)}")
        return cls(**{name: arrays[name].astype(np.float64) for name in _ARRAYS})
