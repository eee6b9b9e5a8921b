"""Face alignment: rotate so the eyes are level, then a fixed-size square crop, gray or RGB.

Eye positions come from the detector's landmarks (``blazeface`` gives six keypoints, eyes
included) or, when it gave none, from an ``eye_finder`` the caller passes in (the Haar plugin's
eye cascade, for example): preprocessing never picks a plugin itself. Without two eyes the face
is cropped unrotated. Rotation and crop are one affine warp, so a large photo is never rotated as
a whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fexlab.registry.detector import Face

from .faces import crop_face, square_box

__all__ = ["EyeFinder", "align_face", "classifier_crop", "crop_matrix", "eye_angle", "to_gray"]

Landmarks = Mapping[str, Sequence[float]]
#: (image, face box) -> both eye centres ({"left_eye": (x, y), "right_eye": (x, y)}) or None.
EyeFinder = Callable[[np.ndarray, tuple[int, int, int, int]], "Landmarks | None"]


def eye_angle(landmarks: Landmarks | None) -> float | None:
    """Degrees the line from the left eye (image left) to the right eye dips below horizontal, or None."""
    if not landmarks or "left_eye" not in landmarks or "right_eye" not in landmarks:
        return None
    (lx, ly), (rx, ry) = landmarks["left_eye"], landmarks["right_eye"]
    if lx > rx:  # the detector named them from the subject's side
        (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
    return math.degrees(math.atan2(ry - ly, rx - lx))


def to_gray(face: np.ndarray) -> np.ndarray:
    """An RGB uint8 face as one-channel HxW luma."""
    import cv2

    return cv2.cvtColor(face, cv2.COLOR_RGB2GRAY) if face.ndim == 3 else face


def crop_matrix(box: Sequence[float], angle: float, margin: float, size: int) -> np.ndarray:
    """The 2 x 3 affine map from image pixels to the ``size`` x ``size`` square around ``box``
    (grown by ``margin``), rotated by ``angle`` degrees about its centre (``eye_angle`` levels the eyes)."""
    import cv2

    left, top, side = square_box(box, margin)
    centre = (left + side / 2.0, top + side / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, size / side)
    matrix[:, 2] += np.array([size / 2.0 - centre[0], size / 2.0 - centre[1]])
    return matrix


def align_face(image: np.ndarray, face: Face | Sequence[float], *, size: int = 64, margin: float = 0.1,
               gray: bool = False, eye_finder: EyeFinder | None = None) -> np.ndarray:
    """The ``size`` x ``size`` crop of ``face`` (a :class:`Face` or an (x, y, w, h) box), eyes levelled.

    The eyes are the face's landmarks, else what ``eye_finder`` finds in its box, else the crop
    is not rotated. Returns HxWx3 RGB, or HxW when ``gray``. Pixels outside the image repeat its edge.
    """
    import cv2

    box = face.box if isinstance(face, Face) else tuple(face)
    landmarks = face.landmarks if isinstance(face, Face) else None
    if eye_angle(landmarks) is None and eye_finder is not None:
        landmarks = eye_finder(image, tuple(int(round(v)) for v in box))
    angle = eye_angle(landmarks) or 0.0
    side = square_box(box, margin)[2]
    work = max(size, min(side, 4 * size))  # warp at most 4x the output size, then area-downscale
    crop = cv2.warpAffine(image, crop_matrix(box, angle, margin, work), (work, work), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if work != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return to_gray(crop) if gray else crop


def classifier_crop(image: np.ndarray, face: Face, margin: float, align: bool) -> np.ndarray:
    """The square crop of ``face`` a classifier sees: ``margin`` around the detector's box, eyes
    levelled when ``align`` and the face has eye keypoints (at the box's resolution, at most 256 px)."""
    if align and eye_angle(face.landmarks) is not None:
        side = square_box(face.box, margin)[2]
        return align_face(image, face, size=max(8, min(side, 256)), margin=margin)
    return crop_face(image, face.box, margin=margin)
