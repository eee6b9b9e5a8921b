"""The ``FaceDetector`` plugin kind: an RGB image in, face boxes (and eye landmarks if known) out."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .plugin import Plugin

__all__ = ["DEFAULT_ALIGN", "DEFAULT_DETECTOR", "Face", "FaceDetector"]

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


class FaceDetector(Plugin):
    """Base of face detectors. ``detect`` takes an HxWx3 RGB uint8 array."""

    kind: ClassVar[str] = "detector"
    requires_weights: ClassVar[bool] = False

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image``, largest first."""
