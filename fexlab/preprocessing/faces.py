"""Square face crops with a margin, padded at image borders so a face near the edge stays centred."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["square_box", "crop_face", "crop_faces"]


def square_box(box: Sequence[float], margin: float = 0.1) -> tuple[int, int, int]:
    """(x, y, w, h) -> (left, top, side) of the square around the box centre.

    The side is the box's longer side grown by ``margin`` of it on each side.
    """
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    side_i = max(1, int(round(side)))
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side_i


def crop_face(
    image: np.ndarray, box: Sequence[float], *, margin: float = 0.1, size: int | None = None
) -> np.ndarray:
    """The square crop around ``box`` (edge pixels replicated outside the image), resized to ``size``."""
    import cv2

    left, top, side = square_box(box, margin)
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, width), min(top + side, height)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {tuple(box)} lies outside the {width}x{height} image")
    crop = image[y0:y1, x0:x1]
    pads = (y0 - top, top + side - y1, x0 - left, left + side - x1)
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, borderType=cv2.BORDER_REPLICATE)
    if size is not None and crop.shape[0] != size:
        interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(crop)


def crop_faces(
    image: np.ndarray, boxes: Sequence[Sequence[float]], *, margin: float = 0.1, size: int | None = None
) -> list[np.ndarray]:
    """:func:`crop_face` for every box."""
    return [crop_face(image, box, margin=margin, size=size) for box in boxes]
