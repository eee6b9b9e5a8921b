"""The ``FaceDetector`` plugin kind: an RGB image in, face boxes (and eye landmarks if known) out."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .plugin import Plugin

__all__ = ["DEFAULT_ALIGN", "DEFAULT_DETECTOR", "Face", "FaceDetector", "faces_from_arrays"]

#: The detector the CLI, every app tab, ``prepare`` and the trainers use unless told otherwise:
#: chosen by measurement (docs/detection.md): YuNet finds more of the real faces of the
#: detection benchmark than BlazeFace's full-range model (67 of 137 against 60) at no lower
#: precision, none on title cards, text and drawings, in one call where BlazeFace needs tiles and a
#: close-up pass.
DEFAULT_DETECTOR = "yunet"
#: Whether prediction levels the eyes on the detector's keypoints before the crop by default, as
#: the measurement of ``python -m fexlab.eval.crop_fit`` decided (docs/classifiers.md, "Crops fitted to the detector").
DEFAULT_ALIGN = False


@dataclass(frozen=True)
class Face:
    """A detected face: ``box`` is (x, y, w, h) in pixels of the image given to ``detect``.

    ``landmarks`` maps names such as ``left_eye`` / ``right_eye`` (the image's left and right)
    to (x, y) points when the detector finds them.
    """

    box: tuple[int, int, int, int]
    score: float = 1.0
    landmarks: dict[str, tuple[float, float]] | None = field(default=None, compare=False)

    def scaled(self, factor: float) -> "Face":
        """The same face in an image ``factor`` times as large."""
        x, y, w, h = self.box
        box = (round(x * factor), round(y * factor), round(w * factor), round(h * factor))
        marks = None
        if self.landmarks:
            marks = {k: (px * factor, py * factor) for k, (px, py) in self.landmarks.items()}
        return Face(box, self.score, marks)


def faces_from_arrays(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, names: Sequence[str],
                      width: int, height: int) -> list[Face]:
    """A detector's faces from its arrays in the pixels of a ``width`` x ``height`` image: boxes
    (N, 4: x, y, w, h) rounded and clipped to the image (those under 2 px dropped), scores (N,) and
    keypoints (N, K, 2) named ``names``; largest first, as :meth:`FaceDetector.detect` returns them."""
    faces = []
    for (x, y, w, h), score, points in zip(boxes, scores, keypoints):
        x0, y0 = max(0, round(float(x))), max(0, round(float(y)))
        x1, y1 = min(width, round(float(x + w))), min(height, round(float(y + h)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        landmarks = {name: (float(px), float(py)) for name, (px, py) in zip(names, points)}
        faces.append(Face((x0, y0, x1 - x0, y1 - y0), float(score), landmarks))
    faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return faces


class FaceDetector(Plugin):
    """Base of face detectors. ``detect`` takes an HxWx3 RGB uint8 array."""

    kind: ClassVar[str] = "detector"
    requires_weights: ClassVar[bool] = False

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image``, largest first."""
