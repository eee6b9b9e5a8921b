"""OpenCV Haar-cascade face detector, with optional eye landmarks from the eye cascade.

Fast and fully offline (the cascades ship with ``opencv-python-headless<5``). Detection runs on
a grayscale copy scaled so its longer side is at most ``max_side`` pixels, which bounds the cost
on large photos and video frames; boxes are returned in the input image's pixels.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from registry import Face, FaceDetector, InputError

__all__ = ["HaarCascade", "HaarConfig"]


@dataclass
class HaarConfig:
    cascade: str = "haarcascade_frontalface_default.xml"
    #: Image pyramid step; smaller finds more faces, slower.
    scale_factor: float = 1.1
    #: Neighbouring detections needed to keep a face; larger means fewer false faces.
    min_neighbors: int = 5
    #: Smallest face side as a fraction of the image's shorter side (never under 20 px).
    min_face_fraction: float = 0.04
    #: Detect on a copy whose longer side is at most this many pixels (0: full size).
    max_side: int = 640
    #: Also find both eyes inside each face with OpenCV's eye cascade (for alignment).
    eyes: bool = False


class HaarCascade(FaceDetector):
    """Viola-Jones face detection with OpenCV's bundled frontal-face cascade."""

    name: ClassVar[str] = "haar"
    description: ClassVar[str] = "OpenCV Haar cascade (frontal faces), offline, optional eye landmarks"
    config_class: ClassVar[type] = HaarConfig

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        if cfg.scale_factor <= 1.0:
            raise InputError(f"scale_factor must be > 1.0, got {cfg.scale_factor}")
        if cfg.min_neighbors < 0:
            raise InputError(f"min_neighbors must be >= 0, got {cfg.min_neighbors}")
        self._local = threading.local()  # cv2 cascades are not shared between threads
        self._cascade("face")

    def _cascade(self, which: str):
        import cv2

        cascades = getattr(self._local, "cascades", None)
        if cascades is None:
            cascades = self._local.cascades = {}
        if which not in cascades:
            filename = self.config.cascade if which == "face" else "haarcascade_eye.xml"
            path = filename if os.path.isabs(filename) else os.path.join(cv2.data.haarcascades, filename)
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():
                raise InputError(f"cannot load the Haar cascade '{path}'")
            cascades[which] = cascade
        return cascades[which]

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        cfg = self.config
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        height, width = gray.shape[:2]
        factor = 1.0
        if cfg.max_side and max(height, width) > cfg.max_side:
            factor = cfg.max_side / max(height, width)
            gray = cv2.resize(gray, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(20, int(cfg.min_face_fraction * min(gray.shape[:2])))
        if min(gray.shape[:2]) < min_side:
            return []
        boxes, neighbours = self._cascade("face").detectMultiScale2(
            gray, scaleFactor=cfg.scale_factor, minNeighbors=cfg.min_neighbors, minSize=(min_side, min_side)
        )
        faces = []
        for (x, y, w, h), n in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(neighbours).reshape(-1)):
            score = float(n) / (float(n) + max(cfg.min_neighbors, 1))
            face = Face((int(x), int(y), int(w), int(h)), score).scaled(1.0 / factor)
            if cfg.eyes:
                face = Face(face.box, face.score, self.find_eyes(image, face.box))
            faces.append(face)
        faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return faces

    def find_eyes(self, image: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, tuple[float, float]] | None:
        """Centres of the two eyes in the face's upper half, or None if not both are found."""
        import cv2

        x, y, w, h = box
        top = image[max(y, 0) : max(y, 0) + int(h * 0.6), max(x, 0) : max(x, 0) + w]
        if top.size == 0:
            return None
        gray = cv2.equalizeHist(cv2.cvtColor(top, cv2.COLOR_RGB2GRAY) if top.ndim == 3 else top)
        side = max(8, w // 12)
        found = self._cascade("eye").detectMultiScale(gray, scaleFactor=1.05, minNeighbors=3, minSize=(side, side))
        found = sorted(np.asarray(found).reshape(-1, 4).tolist(), key=lambda e: e[2] * e[3], reverse=True)
        left = [e for e in found if e[0] + e[2] / 2 < w / 2]
        right = [e for e in found if e[0] + e[2] / 2 >= w / 2]
        if not left or not right:
            return None
        centre = lambda e: (max(x, 0) + e[0] + e[2] / 2.0, max(y, 0) + e[1] + e[3] / 2.0)  # noqa: E731
        return {"left_eye": centre(left[0]), "right_eye": centre(right[0])}
