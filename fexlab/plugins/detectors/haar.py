"""OpenCV Haar-cascade face detector, with optional eye landmarks from the eye cascade.

Fast and fully offline (the cascades ship with ``opencv-python-headless<5``). Detection runs on
a grayscale copy scaled so that the smallest face worth finding (``min_face`` pixels, or
``min_face_fraction`` of the shorter side) becomes ``detect_face_size`` pixels, just above the
cascade's 24-pixel window, and so that its longer side is at most ``max_side``. The cost of the
cascade grows with the area of that copy, so this bounds it on large photos and video frames
without missing the faces a classifier can read; boxes are returned in the input image's pixels.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fexlab.registry import Face, FaceDetector, InputError

__all__ = ["HaarCascade", "HaarConfig"]


@dataclass
class HaarConfig:
    cascade: str = "haarcascade_frontalface_default.xml"
    #: Image pyramid step; smaller finds more faces, slower.
    scale_factor: float = 1.15
    #: Neighbouring detections needed to keep a face; larger means fewer false faces.
    min_neighbors: int = 5
    #: Smallest face side in input pixels (about FER2013's 48; at most a quarter of a small image).
    min_face: int = 48
    #: Smallest face side as a fraction of the image's shorter side; the larger minimum wins.
    min_face_fraction: float = 0.04
    #: The smallest face is this many pixels in the copy the cascade scans (its window is 24).
    detect_face_size: int = 30
    #: Detect on a copy whose longer side is at most this many pixels (0: no cap).
    max_side: int = 640
    #: Equalise the histogram first (helps very dim photos, adds false faces on ordinary ones).
    equalize: bool = False
    #: Also find both eyes inside each face with OpenCV's eye cascade (for alignment).
    eyes: bool = False


class HaarCascade(FaceDetector):
    """Viola-Jones face detection with OpenCV's bundled frontal-face cascade."""

    name: ClassVar[str] = "haar"
    description: ClassVar[str] = "OpenCV Haar cascade (frontal faces), offline, optional eye landmarks"
    config_class: ClassVar[type] = HaarConfig
    #: ``detect`` may run in several threads at once (one cascade per thread): the predictor
    #: detects the frames of a video batch in parallel.
    thread_safe: ClassVar[bool] = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        if cfg.scale_factor <= 1.0:
            raise InputError(f"scale_factor must be > 1.0, got {cfg.scale_factor}")
        if cfg.min_neighbors < 0:
            raise InputError(f"min_neighbors must be >= 0, got {cfg.min_neighbors}")
        if cfg.detect_face_size < 20:
            raise InputError(f"detect_face_size must be >= 20 (the cascade's window is 24), got {cfg.detect_face_size}")
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
        shorter = min(height, width)
        min_face = max(cfg.min_face_fraction * shorter, min(cfg.min_face, shorter / 4))
        factor = min(1.0, cfg.detect_face_size / max(min_face, 1.0))
        if cfg.max_side:
            factor = min(factor, cfg.max_side / max(height, width))
        if factor < 1.0:
            gray = cv2.resize(gray, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
        if cfg.equalize:
            gray = cv2.equalizeHist(gray)
        min_side = max(20, int(min_face * factor))
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

    #: Box shifts and growths (fractions of its side) tried in turn by :meth:`find_eyes`: the eye
    #: cascade is sensitive to the exact crop, and a face box moves by a few pixels between
    #: detection resolutions, so a few nearby crops make the landmarks dependable.
    EYE_CROPS: ClassVar[tuple[tuple[float, float, float], ...]] = (
        (0.0, 0.0, 0.0), (0.0, -0.03, 0.0), (0.0, 0.03, 0.0), (-0.02, 0.0, 0.04), (0.02, 0.0, -0.04),
        (-0.03, -0.03, 0.06),
    )

    def find_eyes(self, image: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, tuple[float, float]] | None:
        """Centres of the two eyes in the face's upper half, or None if not both are found."""
        x, y, w, h = box
        for dx, dy, grow in self.EYE_CROPS:
            crop = (round(x + dx * w), round(y + dy * h), round(w * (1 + grow)), round(h * (1 + grow)))
            eyes = self._eyes_in(image, crop)
            if eyes is not None:
                return eyes
        return None

    def _eyes_in(self, image: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, tuple[float, float]] | None:
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
