"""The inside of a mouth that opens, which a warp cannot make: taken from real mouths.

A warp stretches what lies between the lips; when they were closed, that is a line of lip, and an
opening mouth would show lip colour smeared into a hole. Where the edit opens the mouth more than
it was, the inside comes from the bank of real mouths (:mod:`.mouth_bank`): the bank mouth whose
shape (opening, gap, smile, width) is nearest the target's, reconstructed from the bank's
appearance model in the canonical mouth frame, is warped piecewise-affinely into the target's
lips (its inner contour onto the target's inner contour, the inner half of its lips onto theirs),
its colour and light matched to the face's lips in Lab (gray in a gray photo), and blended in by
Poisson blending (:func:`poisson_blend`, its boundary halfway through the lips, so the face's own
lip colour carries across and no seam shows), then feathered over a pixel or two into the photo.

A mouth already open shows its own teeth, which the warp carries along: they are kept while the
mouth opens up to 1.3 times as much, and the bank's mouth replaces them from twice (stretched
teeth look wrong), the two mixed in between. A mouth that opens no more is not touched.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fexlab.registry import CheckpointError

if TYPE_CHECKING:  # the bank's module is imported when a mouth is first needed (it is also a command)
    from .mouth_bank import MouthBank

__all__ = ["INNER_LIPS", "LOWER_INNER", "OUTER_LIPS", "UPPER_INNER", "blend_mouth", "default_bank", "load_bank",
           "match_colour", "opening", "paint_mouth", "poisson_blend"]

#: The inner contour of the lips in MediaPipe's mesh, corner to corner: upper, then lower.
UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
#: The closed inner contour (the opening of the mouth).
INNER_LIPS = UPPER_INNER + LOWER_INNER[-2:0:-1]
#: The outer contour of the lips, corner to corner over the top, then back under.
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
#: The bank shipped with the package.
SHIPPED = Path(__file__).resolve().parent / "weights" / "fer2013"
#: The blended region reaches this far from the inner contour towards the bank texture's edge
#: (halfway through the lips): the Poisson boundary lies in the lips, the feather inside the texture.
BLEND = 0.5
#: The hue (Lab a, b) of teeth in a colour photo, beside 0.3 of the lips' (the photo's light): a warm white.
TEETH_HUE = np.array([0.0, 5.0])


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2.0)


def opening(mesh: np.ndarray) -> float:
    """How open the mouth is: the area inside the lips over the square of the mouth's width."""
    mesh = np.asarray(mesh)[:, :2]
    width = float(np.linalg.norm(mesh[78] - mesh[308]))
    return _area(mesh[list(INNER_LIPS)]) / max(width * width, 1e-6)


@lru_cache(maxsize=1)
def default_bank() -> MouthBank | None:
    """The bank shipped with the package (None if it is missing: mouths are then left as the warp makes them)."""
    from .mouth_bank import MouthBank

    try:
        return MouthBank.load(SHIPPED)
    except CheckpointError:
        return None


def load_bank(directory: str | Path) -> MouthBank | None:
    """The bank in weights folder ``directory``; a folder without one (an expression model fitted
    alone) takes the bank shipped with the package."""
    from .mouth_bank import FILE, MouthBank

    if (Path(directory) / FILE).is_file():
        return MouthBank.load(directory)
    return default_bank()


def _pixels(image: np.ndarray, polygon: np.ndarray, hole: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) float pixels of ``image`` inside ``polygon`` and outside ``hole``."""
    import cv2

    points = np.round(polygon).astype(np.int32)
    x0, y0 = np.maximum(points.min(axis=0), 0)
    x1, y1 = np.minimum(points.max(axis=0) + 1, [image.shape[1], image.shape[0]])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 3))
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [points - [x0, y0]], 1)
    if hole is not None:
        cv2.fillPoly(mask, [np.round(hole).astype(np.int32) - [x0, y0]], 0)
    return image[y0:y1, x0:x1][mask.astype(bool)].astype(np.float64)


def _gray(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` (N, 3) are gray (their channels differ by under 2 levels on average)."""
    return bool(len(pixels)) and float(np.abs(pixels - pixels.mean(axis=1, keepdims=True)).mean()) < 2.0


def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.clip(np.asarray(rgb, np.float32) / 255.0, 0, 1).reshape(-1, 1, 3),
                        cv2.COLOR_RGB2Lab).reshape(np.shape(rgb))


def _rgb(lab: np.ndarray) -> np.ndarray:
    import cv2

    shape = np.shape(lab)
    return cv2.cvtColor(np.asarray(lab, np.float32).reshape(-1, 1, 3), cv2.COLOR_Lab2RGB).reshape(shape) * 255.0


def match_colour(texture: np.ndarray, lips: np.ndarray, *, gray: bool = False) -> np.ndarray:
    """The bank ``texture`` (32, 64, 3) with its lips' colour and light (the inner half of its
    lips, :data:`.mouth_bank.LIP_BAND`) matched to ``lips`` (N, 3), the face's pixels in the same
    band: lightness by mean and spread (the spread's ratio kept within 0.7-1.4); the hue by
    lightness, as real mouths have it (the bank's mouths are gray): what is well above the lips'
    light (teeth) a warm white (:data:`TEETH_HUE` and a little of the lips' hue, the photo's
    light), the rest the lips' hue, fainter in the dark (a throat). ``gray``: a gray texture."""
    from .mouth_bank import LIP_BAND

    lab = _lab(texture)
    band = lab[LIP_BAND]
    face = _lab(np.asarray(lips, np.float64).reshape(-1, 1, 3)).reshape(-1, 3) if len(lips) else band
    out = lab.copy()
    spread = float(np.clip(face[:, 0].std() / max(band[:, 0].std(), 1e-3), 0.7, 1.4))
    out[..., 0] = (lab[..., 0] - band[:, 0].mean()) * spread + face[:, 0].mean()
    if gray:
        out[..., 1:] = 0.0
    else:  # colour by lightness, as in real mouths: teeth a warm white, the rest the lips' hue, darker deeper in
        lips_hue = face[:, 1:].mean(axis=0)
        dark = np.clip(out[..., :1] / max(face[:, 0].mean(), 1.0), 0.3, 1.0)
        teeth = np.clip((out[..., :1] - face[:, 0].mean() - 6.0) / 12.0, 0.0, 1.0)  # well above the lips' light
        out[..., 1:] = lips_hue * (0.4 + 0.6 * dark) * (1.0 - teeth) + teeth * (TEETH_HUE + 0.3 * lips_hue)
    out[..., 0] = np.clip(out[..., 0], 0.0, 100.0)
    rgb = np.clip(_rgb(out), 0.0, 255.0)
    if gray:
        rgb = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2)
    return rgb.astype(np.float32)


def poisson_blend(source: np.ndarray, destination: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` (H, W, C) inside ``mask`` (H, W bool, clear of the border) with the gradients it
    has and the values of ``destination`` on the mask's edge (Perez et al. 2003): ``source`` plus
    the harmonic interpolation of the two images' difference around the mask. (OpenCV's
    ``seamlessClone`` writes into its mask and gives different results for equal inputs.)"""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    mask = np.asarray(mask, bool).copy()
    mask[[0, -1], :] = False
    mask[:, [0, -1]] = False
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return source
    index = -np.ones(mask.shape, np.int64)
    index[ys, xs] = np.arange(len(ys))
    difference = (np.asarray(destination, np.float64) - np.asarray(source, np.float64)).reshape(*mask.shape, -1)
    rows, cols = [np.arange(len(ys))], [np.arange(len(ys))]
    values = [np.full(len(ys), 4.0)]
    rhs = np.zeros((len(ys), difference.shape[2]))
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        neighbour = index[ny, nx]
        inner = neighbour >= 0
        rows.append(np.flatnonzero(inner))
        cols.append(neighbour[inner])
        values.append(np.full(int(inner.sum()), -1.0))
        rhs[~inner] += difference[ny[~inner], nx[~inner]]
    matrix = coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(len(ys), len(ys))).tocsc()
    offset = spsolve(matrix, rhs).reshape(len(ys), -1)
    out = np.array(source, np.float64).reshape(*mask.shape, -1)
    out[ys, xs] += offset
    return out.reshape(np.shape(source)).astype(np.float32)


def _blend_lightness(source: np.ndarray, destination: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`poisson_blend` of the lightness (Lab L) only, the hue kept as ``source`` has it, so the
    lips' red carried across the boundary does not tint the teeth."""
    if np.allclose(source, source.mean(axis=-1, keepdims=True)) and np.allclose(destination,
                                                                              destination.mean(axis=-1, keepdims=True)):
        return poisson_blend(source, destination, mask)  # a gray photo: all channels alike
    lab, target = _lab(source), _lab(destination)
    lab[..., 0] = poisson_blend(lab[..., :1], target[..., :1], mask)[..., 0]
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    return np.clip(_rgb(lab), 0.0, 255.0).astype(np.float32)


def _fill_outside(texture: np.ndarray) -> np.ndarray:
    """The canonical ``texture`` with the texels outside :data:`.mouth_bank.MASK` (black) given the
    mean of the masked texels near them (normalised convolution), so sampling or smoothing near the
    mask's edge reads no black."""
    import cv2

    from .mouth_bank import MASK

    inside = MASK.astype(np.float32)
    near = cv2.GaussianBlur(texture * inside[..., None], (0, 0), 3.0)
    weight = cv2.GaussianBlur(inside, (0, 0), 3.0)[..., None]
    spread = near / np.maximum(weight, 1e-6)
    return np.where(MASK[..., None], texture, np.where(weight > 1e-4, spread, texture[MASK].mean(axis=0)))


def blend_mouth(image: np.ndarray, texture: np.ndarray, target_mesh: np.ndarray, amount: float = 1.0, *,
                poisson: bool = True) -> np.ndarray:
    """``image`` with the canonical mouth ``texture`` (32, 64, 3) warped into the lips of
    ``target_mesh`` (piecewise affine, :func:`.mouth_bank.mouth_points`) and blended in (Poisson,
    unless ``poisson`` is False, then feathered), ``amount`` of the way. Only the inside of the
    lips and a ring of a few pixels around it change, and none of the mouth's triangles that the
    turn of the face shows from behind (:func:`.mouth_bank.facing_triangles`)."""
    import cv2

    from .mouth_bank import TRIANGLES, canonical_points, facing_triangles, mouth_points
    from .mouth_bank import _locate as locate

    points = mouth_points(target_mesh)
    inner, ring = points[:20], points[20:40]
    edge = inner + BLEND * (ring - inner)
    width = float(np.linalg.norm(inner[0] - inner[10]))
    pad = 3
    x0, y0 = np.floor(ring.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(image.shape[1], x1), min(image.shape[0], y1)
    if x1 - x0 < 4 or y1 - y0 < 4 or width < 2:
        return image
    # the far side of a turned face's lips hides part of the mouth: its turned-over triangles get no bank mouth
    label, weights = locate(points, (y1 - y0, x1 - x0), (x0, y0), facing_triangles(points))
    canonical = canonical_points()
    where = (weights[..., None] * canonical[TRIANGLES[np.maximum(label, 0)]]).sum(axis=2).astype(np.float32)
    texture = _fill_outside(np.asarray(texture, np.float32))  # near its edge the warp reads past the mask
    shrink = 0.82 * texture.shape[1] / width  # texels per pixel across the mouth
    if shrink > 1.0:  # a mouth smaller than the texture: smoothed first, or its teeth alias into speckles
        texture = cv2.GaussianBlur(texture, (0, 0), 0.5 * shrink)
    warped = cv2.remap(texture, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    patch = image[y0:y1, x0:x1].astype(np.float32)
    covered = (label >= 0)[..., None]
    source = np.where(covered, warped, patch)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((edge - [x0, y0]) * 16).astype(np.int32)], 255, shift=4)
    mask_room = np.where(covered[..., 0], 255, 0).astype(np.uint8)
    mask_room[[0, -1], :] = 0
    mask_room[:, [0, -1]] = 0
    mask &= mask_room
    if not mask.any():
        return image
    feather = max(0.6, 0.012 * width)
    # solved a little past the mask, so the feathered edge shows the blended mouth, not the texture's raw edge
    solved = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=int(np.ceil(2 * feather))) & mask_room
    blended = _blend_lightness(source, patch, solved > 0) if poisson else source
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), feather)
    alpha = (alpha * covered[..., 0] * float(amount))[..., None]
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + blended * alpha, 0, 255).round().astype(np.uint8)
    return out


def paint_mouth(image: np.ndarray, source_mesh: np.ndarray, target_mesh: np.ndarray, *,
                colours_from: np.ndarray | None = None, bank: MouthBank | None = None) -> np.ndarray:
    """``image`` (the warped photo, the face at ``target_mesh``) with a real mouth's inside put
    where the target opens the mouth more than ``source_mesh`` was open; the face's lips are read
    from ``colours_from`` (default ``image``) at ``source_mesh``; ``bank``: default the shipped one.
    ``image`` itself when the mouth opens no more (or no bank is to be had)."""
    from .mouth_bank import descriptor, mouth_points

    source, target = np.asarray(source_mesh, np.float64), np.asarray(target_mesh, np.float64)
    before, after = opening(source), opening(target)
    if after <= before + 0.01:
        return image
    ratio = after / max(before, 1e-6)
    amount = float(np.clip((ratio - 1.3) / 0.7, 0.0, 1.0))
    bank = bank if bank is not None else default_bank()
    if amount == 0.0 or bank is None or not len(bank):
        return image
    colours = image if colours_from is None else colours_from
    points = mouth_points(source)
    lips = _pixels(colours, points[20:40], hole=points[:20])
    if len(lips) < 8:  # lips a few pixels across: their whole outer contour
        lips = _pixels(colours, source[list(OUTER_LIPS), :2])
    gray = _gray(_pixels(colours, source[list(OUTER_LIPS), :2] + 0.0)) and _gray(lips)
    texture = bank.texture(bank.nearest(descriptor(target), colour=not gray))
    return blend_mouth(image, match_colour(texture, lips, gray=gray), target, amount)
