"""The face's region of interest, the MediaPipe way: a rotated square cut out to 256 x 256 pixels.

From a detection (``region_from_face``): the detector's box centre, turned so the eyes are level
(the angle of the line from one eye keypoint to the other), its longer side enlarged 1.5 times.
From the previous video frame's mesh (``region_from_mesh``, tracking): the same, with the mesh's
bounding box and its outer eye corners (landmarks 33 and 263). The 478 points the model gives in
the crop's pixels are mapped back through the same rectangle (``Region.to_image``), z included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fexlab.registry.detector import Face

__all__ = ["Region", "region_from_face", "region_from_mesh"]

#: MediaPipe's enlargement of the face's box into the landmark model's region.
SCALE = 1.5
#: Outer eye corners in the mesh: the subject's right eye (image left), then the left eye.
RIGHT_EYE_CORNER, LEFT_EYE_CORNER = 33, 263


@dataclass(frozen=True)
class Region:
    """A square of ``side`` pixels centred on ``centre``, its x axis turned ``angle`` radians
    clockwise in the image (y down), so the eyes lie level in the crop."""

    centre: tuple[float, float]
    side: float
    angle: float

    def corners(self) -> np.ndarray:
        """The crop's top-left, top-right and bottom-left corners in image pixels."""
        cos, sin, half = math.cos(self.angle), math.sin(self.angle), self.side / 2.0
        axes = np.array([[cos, sin], [-sin, cos]])  # the crop's x and y axes in the image
        offsets = np.array([[-half, -half], [half, -half], [-half, half]])
        return np.asarray(self.centre) + offsets @ axes

    def matrix(self, size: int) -> np.ndarray:
        """The 2 x 3 affine map from image pixels to the ``size`` x ``size`` crop."""
        import cv2

        target = np.float32([[0, 0], [size, 0], [0, size]])
        return cv2.getAffineTransform(self.corners().astype(np.float32), target)

    def crop(self, image: np.ndarray, size: int) -> np.ndarray:
        """The region cut out of ``image`` as a ``size`` x ``size`` array (black outside the image)."""
        import cv2

        return cv2.warpAffine(image, self.matrix(size), (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """(N, 3) points in the crop's pixels (z on the scale of x) -> (N, 3) in image pixels."""
        corners = self.corners()
        origin, x_axis, y_axis = corners[0], (corners[1] - corners[0]) / size, (corners[2] - corners[0]) / size
        out = np.empty((len(points), 3), np.float64)
        out[:, :2] = origin + points[:, :1] * x_axis + points[:, 1:2] * y_axis
        out[:, 2] = points[:, 2] * self.side / size
        return out


def _angle(first: Sequence[float], second: Sequence[float]) -> float:
    """Radians from the image's x axis to the line from ``first`` to ``second`` (y down)."""
    return math.atan2(second[1] - first[1], second[0] - first[0])


def _eyes(landmarks: Mapping[str, Sequence[float]] | None) -> tuple[Sequence[float], Sequence[float]] | None:
    """(the eye on the image's left, the one on its right), whatever side the detector named them from."""
    if not landmarks or "left_eye" not in landmarks or "right_eye" not in landmarks:
        return None
    a, b = landmarks["right_eye"], landmarks["left_eye"]
    return (a, b) if a[0] <= b[0] else (b, a)


def region_from_face(face: Face, scale: float = SCALE) -> Region:
    """The region of a detected face: its box's centre and longer side times ``scale``, turned so
    its eye keypoints are level (unturned when the detector gave no eyes)."""
    x, y, w, h = (float(v) for v in face.box)
    eyes = _eyes(face.landmarks)
    angle = _angle(*eyes) if eyes else 0.0
    return Region((x + w / 2.0, y + h / 2.0), max(w, h) * scale, angle)


def region_from_mesh(mesh: np.ndarray, scale: float = SCALE) -> Region:
    """The region of the face whose (478, 3) mesh the previous frame gave (MediaPipe's tracking):
    the mesh's bounding box centre and longer side times ``scale``, turned by its eye corners."""
    low, high = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    centre = (low + high) / 2.0
    angle = _angle(mesh[RIGHT_EYE_CORNER], mesh[LEFT_EYE_CORNER])
    return Region((float(centre[0]), float(centre[1])), float((high - low).max()) * scale, angle)
