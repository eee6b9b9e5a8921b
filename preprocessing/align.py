"""Face alignment: rotate so the eyes are level, then a fixed-size square crop, gray or RGB.

Eye positions come from the detector's landmarks (``haar`` with ``eyes=True`` gives them) or, when
the detector gave none, from OpenCV's eye cascade searched inside the face box. Without two eyes
the face is cropped unrotated. Rotation and crop are one affine warp, so a large photo is never
rotated as a whole.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from registry.detector import Face

from .faces import square_box

__all__ = ["align_face", "eye_angle", "find_eyes", "to_gray"]

Landmarks = Mapping[str, Sequence[float]]


def eye_angle(landmarks: Landmarks | None) -> float | None:
    """Degrees the line from the left eye (image left) to the right eye dips below horizontal, or None."""
    if not landmarks or "left_eye" not in landmarks or "right_eye" not in landmarks:
        return None
    (lx, ly), (rx, ry) = landmarks["left_eye"], landmarks["right_eye"]
    if lx > rx:  # the detector named them from the subject's side
        (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
    return math.degrees(math.atan2(ry - ly, rx - lx))


@functools.lru_cache(maxsize=1)
def _eye_finder():
    from plugins.detectors.haar import HaarCascade

    return HaarCascade.from_config(eyes=True)


def find_eyes(image: np.ndarray, box: Sequence[float]) -> dict[str, tuple[float, float]] | None:
    """Both eye centres inside ``box`` found by OpenCV's eye cascade, or None."""
    return _eye_finder().find_eyes(image, tuple(int(round(v)) for v in box))


def to_gray(face: np.ndarray) -> np.ndarray:
    """An RGB uint8 face as one-channel HxW luma."""
    import cv2

    return cv2.cvtColor(face, cv2.COLOR_RGB2GRAY) if face.ndim == 3 else face


def align_face(image: np.ndarray, face: Face | Sequence[float], *, size: int = 64, margin: float = 0.1,
               gray: bool = False, find_missing_eyes: bool = True) -> np.ndarray:
    """The ``size`` x ``size`` crop of ``face`` (a :class:`Face` or an (x, y, w, h) box), eyes levelled.

    Returns HxWx3 RGB, or HxW when ``gray``. Pixels outside the image repeat its edge.
    """
    import cv2

    box = face.box if isinstance(face, Face) else tuple(face)
    landmarks = face.landmarks if isinstance(face, Face) else None
    if landmarks is None and find_missing_eyes:
        landmarks = find_eyes(image, box)
    angle = eye_angle(landmarks) or 0.0
    left, top, side = square_box(box, margin)
    centre = (left + side / 2.0, top + side / 2.0)
    # rotate about the crop centre by `angle` (which levels the eyes), then map the square onto the output
    rotation = cv2.getRotationMatrix2D(centre, angle, 1.0)
    work = max(size, min(side, 4 * size))  # warp at most 4x the output size, then area-downscale
    matrix = rotation * (work / side)
    matrix[:, 2] -= np.array([centre[0] - side / 2.0, centre[1] - side / 2.0]) * (work / side)
    crop = cv2.warpAffine(image, matrix, (work, work), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if work != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return to_gray(crop) if gray else crop
