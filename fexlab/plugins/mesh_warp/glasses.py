"""Glasses found in the photo, so an edit keeps their frames rigid with the head.

A warp that moves the brows bends whatever lies on them; glasses' frames sit just below the brows
and around the eyes, so an edit that raises or lowers the brows would bend them. :func:`find_glasses`
reads the photo where frames would be, on lines laid out by the face mesh: down from the middle of
each eye past the lower lid, where a frame's lower rim crosses, and down the bridge of the nose
between the eyes, where its bridge crosses. A frame is a thin line (darker or brighter than what is
on both sides of it), skin and the shading of a nose are smooth, so each line's strongest thin-line
response (the depth of a line of a few pixels against its two sides, less any plain step from one
side to the other) in 255ths of the nose's light is a cue, and the weakest of the three is the
score: glasses when all three lines cross a frame. :func:`frame_points` then traces the frames
(the strongest thin line on rays out from each eye, and the bridge), points the warp holds still
(``edit_field``'s ``anchors``), and :func:`hold_frames` keeps the mesh from moving across them:
the brows and eyes move, the frames do not.

Thin rimless or metal frames may score below the threshold; they also bend least.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GLASSES_SCORE", "Glasses", "find_glasses", "frame_points", "hold_frames"]

#: The score above which frames are taken to be there (their thin-line depth, in 255ths of the
#: nose's light). Chosen by looking at 240 muxspace photos and the example photos: above it most
#: faces wear clear frames; thin metal frames often score lower.
GLASSES_SCORE = 12.0
#: The eye contours in MediaPipe's mesh (right eye of the person first), and their corners.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
_NOSE_TIP = 1
#: Samples along each line, and the half-width (in samples) of the thin line looked for.
_SAMPLES, _HALF = 40, 3
#: The frame points lie this far (in eye widths) outside and inside the rim line found.
BAND = (0.2, -0.15)


@dataclass(frozen=True)
class Glasses:
    """Where a face's frames are: each eye's centre, its lower rim's distance below it (pixels,
    along the face's own down), the face's right and down directions, the eye width, the score."""

    centres: np.ndarray  # (2, 2)
    rims: np.ndarray  # (2,)
    right: np.ndarray
    down: np.ndarray
    eye_width: float
    score: float


def _profile(gray: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    import cv2

    t = np.linspace(0.0, 1.0, _SAMPLES)[:, None]
    points = (start * (1 - t) + end * t).astype(np.float32)
    return cv2.remap(gray, points[None, :, 0], points[None, :, 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)[0].astype(np.float64)


def _thin_line(profile: np.ndarray) -> tuple[float, int]:
    """(depth, position) of the strongest thin line along ``profile``: how far a sample lies from
    the mean of its two sides ``_HALF`` samples away, less half the step between those sides."""
    middle = profile[_HALF:-_HALF]
    left, right = profile[: -2 * _HALF], profile[2 * _HALF:]
    depth = np.abs(0.5 * (left + right) - middle) - 0.5 * np.abs(left - right)
    k = int(depth.argmax())
    return float(depth[k]), k + _HALF


def find_glasses(image: np.ndarray, mesh: np.ndarray, threshold: float = GLASSES_SCORE) -> Glasses | None:
    """The :class:`Glasses` of the face whose (478, 2+) ``mesh`` lies in ``image`` (RGB uint8), or
    None when its score (see the module) is below ``threshold``."""
    import cv2

    mesh = np.asarray(mesh, np.float64)[:, :2]
    gray = cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32),
                            (0, 0), 0.8)
    right = mesh[LEFT_EYE[0]] - mesh[RIGHT_EYE[0]]
    right /= max(np.linalg.norm(right), 1e-9)
    down = np.array([-right[1], right[0]])
    width = float(np.linalg.norm(mesh[RIGHT_EYE[0]] - mesh[RIGHT_EYE[8]]))
    if width < 4:
        return None
    light = max(float(gray[int(np.clip(mesh[_NOSE_TIP, 1], 0, gray.shape[0] - 1)),
                           int(np.clip(mesh[_NOSE_TIP, 0], 0, gray.shape[1] - 1))]), 1.0)
    centres, rims, cues = [], [], []
    for eye in (RIGHT_EYE, LEFT_EYE):
        centre = mesh[list(eye)].mean(axis=0)
        start, end = centre + 0.35 * width * down, centre + 1.1 * width * down
        depth, at = _thin_line(_profile(gray, start, end))
        centres.append(centre)
        rims.append(0.35 * width + (0.75 * width) * at / (_SAMPLES - 1))
        cues.append(depth)
    bridge = 0.5 * (mesh[RIGHT_EYE[8]] + mesh[LEFT_EYE[8]])
    cues.append(_thin_line(_profile(gray, bridge - 0.6 * width * down, bridge + 0.3 * width * down))[0])
    score = 255.0 * min(cues) / light
    if score < threshold:
        return None
    return Glasses(np.array(centres), np.full(2, np.mean(rims)), right, down, width, score)  # frames are symmetric


def frame_points(image: np.ndarray, glasses: Glasses, count: int = 16) -> np.ndarray:
    """(4 * count + 3, 2) fixed points along the frames of ``glasses`` in ``image``: around each
    eye, on ``count`` rays from its centre, the strongest thin line between 0.5 and 1.6 eye widths
    out (the rim; a circular median over neighbouring rays keeps one stray line, a brow or a
    fold, from pulling it off), a point just outside it and one just inside (:data:`BAND`), and
    three points down the bridge."""
    import cv2

    gray = cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32),
                            (0, 0), 0.8)
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    near, far = 0.5 * glasses.eye_width, 1.6 * glasses.eye_width
    out = []
    for centre in glasses.centres:
        directions = np.cos(angles)[:, None] * glasses.right + np.sin(angles)[:, None] * glasses.down
        radii = []
        for direction in directions:
            _, at = _thin_line(_profile(gray, centre + near * direction, centre + far * direction))
            radii.append(near + (far - near) * at / (_SAMPLES - 1))
        radii = np.median(np.stack([np.roll(radii, k) for k in (-2, -1, 0, 1, 2)]), axis=0)
        for band in BAND:  # just outside and just inside the frame: all of its thickness holds still
            out.append(centre + (radii + band * glasses.eye_width)[:, None] * directions)
    middle = glasses.centres.mean(axis=0)
    out.append(middle + np.array([-0.3, 0.0, 0.3])[:, None] * glasses.eye_width * glasses.down)
    return np.vstack(out)


def hold_frames(source: np.ndarray, target: np.ndarray, frames: np.ndarray, free: Sequence[int] = ()) -> np.ndarray:
    """``target`` (where the edit moves the (N, 2+) mesh ``source``) with every point that lies
    within the frames' outer outline (the first of :func:`frame_points`' rings around each eye)
    held where it is, but those in ``free`` (the eyes, seen through the lenses); and no point
    moving across the ``frames`` points (the Delaunay triangles of the points and ``frames``, where
    they are, that touch a frame point may not turn over: :func:`.warp.prevent_folds`)."""
    import cv2
    from scipy.spatial import Delaunay

    from .warp import prevent_folds

    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64).copy()
    frames = np.asarray(frames, np.float64)[:, :2]
    count = (len(frames) - 3) // 4
    held = np.zeros(len(source), bool)
    for eye in range(2):
        outline = frames[eye * 2 * count : eye * 2 * count + count].astype(np.float32)
        held |= np.array([cv2.pointPolygonTest(outline, (float(x), float(y)), False) >= 0
                          for x, y in source[:, :2]])
    held[list(free)] = False
    target[held] = source[held]
    points = np.vstack([source[:, :2], frames])
    triangles = Delaunay(points).simplices
    touching = triangles[(triangles >= len(source)).any(axis=1)]
    moved = prevent_folds(points, np.vstack([target[:, :2], frames]), touching)
    target[:, :2] = moved[: len(source)]
    return target
