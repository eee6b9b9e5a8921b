"""The inside of a mouth that opens, which a warp cannot make.

A warp stretches what lies between the lips; when they were closed, that is a line of lip, and an
opening mouth would show lip colour smeared into a hole. Where the edit opens the mouth more than
it was, the opening (the inner contour of the lips in the target mesh) is painted: a dark cavity in
the shade of the person's own lips, darker towards the back, upper teeth under the upper lip (the
face's brightest skin, turned towards white), lower teeth when it opens wide, all
softened to the photo's sharpness and blended in by how much more open the mouth is than before.
This is the synthesised interior of Averbuch-Elor et al., "Bringing Portraits to Life" (2017),
drawn from the face's own colours instead of a reference mouth.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INNER_LIPS", "LOWER_INNER", "OUTER_LIPS", "UPPER_INNER", "opening", "paint_mouth"]

#: The inner contour of the lips in MediaPipe's mesh, corner to corner: upper, then lower.
UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
#: The closed inner contour (the opening of the mouth).
INNER_LIPS = UPPER_INNER + LOWER_INNER[-2:0:-1]
#: The mouth's inside is drawn at most this many pixels wide, then resized to the photo's.
RENDER = 64
#: The outer contour of the lips, corner to corner over the top, then back under.
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2.0)


def opening(mesh: np.ndarray) -> float:
    """How open the mouth is: the area inside the lips over the square of the mouth's width."""
    mesh = np.asarray(mesh)[:, :2]
    width = float(np.linalg.norm(mesh[78] - mesh[308]))
    return _area(mesh[list(INNER_LIPS)]) / max(width * width, 1e-6)


def _inside(image: np.ndarray, polygon: np.ndarray, *, hole: np.ndarray | None = None,
            convex: bool = False, samples: int = 96) -> np.ndarray:
    """(N, 3) float pixels of ``image`` inside ``polygon`` (its convex hull with ``convex``) and
    outside ``hole``, read from the polygon's bounding box only, on a grid of at most about
    ``samples`` pixels a side (colour statistics need no more)."""
    import cv2

    points = cv2.convexHull(np.round(polygon).astype(np.int32)).reshape(-1, 2) if convex \
        else np.round(polygon).astype(np.int32)
    x0, y0 = np.maximum(points.min(axis=0), 0)
    x1, y1 = np.minimum(points.max(axis=0) + 1, [image.shape[1], image.shape[0]])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 3))
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [points - [x0, y0]], 1)
    if hole is not None:
        cv2.fillPoly(mask, [np.round(hole).astype(np.int32) - [x0, y0]], 0)
    step = max(1, max(x1 - x0, y1 - y0) // samples)
    return image[y0:y1:step, x0:x1:step][mask[::step, ::step].astype(bool)].astype(np.float64)


def _gray(pixels: np.ndarray) -> bool:
    """Whether the face's ``pixels`` (N, 3) are gray (their channels differ by under 2 levels on average)."""
    return bool(len(pixels)) and float(np.abs(pixels - pixels.mean(axis=1, keepdims=True)).mean()) < 2.0


def _lip_colour(image: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The median colour of the darker part of the lips (between their outer and inner contours)."""
    pixels = _inside(image, mesh[list(OUTER_LIPS), :2], hole=mesh[list(INNER_LIPS), :2])
    if not len(pixels):
        return np.array([120.0, 60.0, 60.0])
    luma = pixels.mean(axis=1)
    return np.median(pixels[luma <= np.percentile(luma, 60)], axis=0)  # teeth of an open mouth left out


def _teeth_colour(pixels: np.ndarray) -> np.ndarray:
    """Off-white in the hue of the face's brightest skin (``pixels``, (N, 3): the photo's white
    balance), at a brightness between that skin's and 235, so teeth are never the photo's brightest white."""
    if not len(pixels):
        return np.array([215.0, 210.0, 198.0])
    luma = pixels.mean(axis=1)
    bright = pixels[luma >= np.percentile(luma, 90)].mean(axis=0)
    hue = bright / max(bright.mean(), 1.0)
    level = min(232.0, 0.6 * bright.mean() + 0.4 * 225.0)
    return np.clip(level * (0.75 + 0.25 * hue) * np.array([1.0, 0.99, 0.95]), 0, 250)


def paint_mouth(image: np.ndarray, source_mesh: np.ndarray, target_mesh: np.ndarray, *,
                colours_from: np.ndarray | None = None) -> np.ndarray:
    """``image`` (the warped photo, the face at ``target_mesh``) with the mouth's inside painted
    where the target opens it more than ``source_mesh`` was open; the face's colours are read
    from ``colours_from`` (default ``image``) at ``source_mesh``. Unchanged when it opens no more."""
    import cv2

    source, target = np.asarray(source_mesh, np.float64), np.asarray(target_mesh, np.float64)
    before, after = opening(source), opening(target)
    if after <= before + 0.01:
        return image
    # a mouth already open shows its own teeth, which the warp carries along: they are kept while
    # the mouth opens up to 1.3 times as wide, painted over from twice (stretched teeth look wrong)
    ratio = after / max(before, 1e-6)
    amount = float(np.clip((ratio - 1.3) / 0.7, 0.0, 1.0))
    if amount == 0.0:
        return image
    polygon = target[list(INNER_LIPS), :2]
    width = float(np.linalg.norm(target[78, :2] - target[308, :2]))
    pad = int(np.ceil(0.2 * width)) + 2
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + pad
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(image.shape[1], x1), min(image.shape[0], y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image
    colours = image if colours_from is None else colours_from
    face = _inside(colours, source[:468, :2], convex=True)  # the face's own colours, read once
    lips, teeth = _lip_colour(colours, source), _teeth_colour(face)
    # drawn with the mouth at most RENDER pixels wide, then resized to the patch (it is blurred anyway)
    scale = min(1.0, RENDER / max(width, 1.0))
    shape = (max(2, round((y1 - y0) * scale)), max(2, round((x1 - x0) * scale)))
    local, upper, lower = ((target[list(ids), :2] - [x0, y0]) * scale for ids in (INNER_LIPS, UPPER_INNER, LOWER_INNER))
    span = width * scale
    hole = np.zeros(shape, np.float32)
    cv2.fillPoly(hole, [np.round(local * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)

    # the cavity: the lips' shade, darkest at the middle of the opening
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    centre = local.mean(axis=0)
    half_width = max(span / 2.0, 1.0)
    height = max(float(np.ptp(local[:, 1])), 1.0)
    depth = np.exp(-(((xs - centre[0]) / half_width) ** 2 + ((ys - centre[1]) / (0.6 * height)) ** 2))
    throat = lips * np.array([1.0, 0.7, 0.65])  # the inside of a mouth is redder than its lips
    cavity = throat[None, None, :] * (0.32 - 0.2 * depth[..., None])

    # upper teeth: the band below the upper inner lip; a mouth opened only to a slit shows its
    # dark inside, no teeth
    tooth = min(0.15 * span, 0.5 * height) * float(np.clip((height / span - 0.06) / 0.06, 0.0, 1.0))
    band = np.zeros(shape, np.float32)
    band_polygon = np.vstack([upper, (upper + [0.0, tooth])[::-1]])
    cv2.fillPoly(band, [np.round(band_polygon * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    # the teeth recede into shadow towards the corners of the mouth, the upper lip shades their
    # top, and a thin darker seam parts each tooth from the next (incisors, laterals, canines)
    recede = np.clip(1.0 - np.abs(xs - centre[0]) / (0.9 * half_width), 0.0, 1.0) ** 0.8
    if height > 0.35 * span:  # a wide-open mouth shows its tongue and, at the middle, the lower teeth
        tongue = np.exp(-(((xs - centre[0]) / (0.45 * half_width)) ** 2
                          + ((ys - (centre[1] + 0.45 * height)) / (0.3 * height)) ** 2))
        cavity = cavity * (1 - 0.8 * tongue[..., None]) + (throat * 0.6)[None, None, :] * 0.8 * tongue[..., None]
        low_band = np.zeros(shape, np.float32)
        low_polygon = np.vstack([lower, (lower - [0.0, 0.35 * tooth])[::-1]])
        cv2.fillPoly(low_band, [np.round(low_polygon * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
        band = np.maximum(band, 0.7 * low_band * recede ** 2)
    lip_line = np.interp(xs, upper[:, 0], upper[:, 1]) if np.all(np.diff(upper[:, 0]) > 0) else centre[1] - height / 2
    under_lip = np.clip((ys - lip_line) / max(0.2 * tooth, 1.0), 0.0, 1.0)
    seams = np.zeros(shape, np.float32)
    for offset in (0.0, -0.1, 0.1, -0.19, 0.19, -0.27, 0.27):
        seams = np.maximum(seams, np.exp(-(((xs - centre[0] - offset * span) / max(span / 110.0, 0.5)) ** 2)))
    light = (0.5 + 0.5 * recede) * (0.85 + 0.15 * under_lip) * (1.0 - 0.12 * seams)
    shaded_teeth = teeth[None, None, :] * light[..., None]
    inside = cavity * (1 - band[..., None]) + shaded_teeth * band[..., None]

    blur = max(0.6, span / 70.0)
    if _gray(face):  # a gray photo gets a gray mouth
        inside = np.repeat(inside.mean(axis=2, keepdims=True), 3, axis=2)
    inside = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), blur)
    alpha = cv2.GaussianBlur(hole, (0, 0), blur)
    if scale < 1.0:
        inside = cv2.resize(inside, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    alpha = alpha[..., None] * amount
    out = image.copy()
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + inside * alpha, 0, 255).round().astype(np.uint8)
    return out
