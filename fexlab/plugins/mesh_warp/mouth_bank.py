"""A bank of real mouth interiors, shipped as a fitted appearance model, not as pictures.

An edit that opens a mouth needs what lies inside it: teeth, tongue, the dark of the throat, the
inner edge of the lips. These come from real open mouths (the training photos of muxspace), but no
photo or crop of a data set may ship in the package. So each real mouth is mapped to a canonical
mouth frame, a :data:`TEXTURE` (32 x 64) image in which the inner contour of the lips (MediaPipe's
mesh) is always the same oval and a ring halfway through the lips bounds the picture
(piecewise affine on those landmarks); what ships is a PCA appearance model of those textures (the
mean and :data:`COMPONENTS` components) and, for each bank mouth, its shape descriptor
(:func:`descriptor`: opening, gap between the lips' centres, smile, width) and its coefficients.
An edit takes the bank mouth whose shape is nearest the target's (:meth:`MouthBank.nearest`) and
the model's reconstruction of it (:meth:`MouthBank.texture`), which :mod:`.mouth` warps into the
target's lips, matches to the face's colour and light, and blends in.

A projection on a few dozen components from about a thousand mouths keeps what mouths share
(rows of teeth, their gaps and shading, a tongue, a dark throat, the lip's inner edge) and drops
most of what makes one photo that photo; it is a model fitted on the data, as the expression
model is, with the data's terms (see the model card). Shipping nearest-neighbour crops would be
sharper, and is ruled out; generating a mouth with a network trained on these mouths would also
satisfy both constraints but needs far more data than a thousand 40-pixel mouths.

Build (the mesh runs on the training photos whose mouth the blendshape cache says is open; without
``--cache``, on every training photo)::

    python -m fexlab.plugins.mesh_warp.mouth_bank --data ../shared/data/muxspace/legend.csv \\
        --out fexlab/plugins/mesh_warp/weights/fer2013 --cache /work/cache/geometry.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry import CheckpointError

__all__ = ["COMPONENTS", "FILE", "MouthBank", "TEXTURE", "canonical_points", "descriptor", "fit_bank",
           "mouth_points", "to_canonical"]

FILE = "mouth_bank.safetensors"
#: (rows, columns) of the canonical mouth texture.
TEXTURE = (32, 64)
#: Principal components kept.
COMPONENTS = 80
#: The inner contour of the lips, corner to corner over the top then back under (as ``mouth.INNER_LIPS``).
INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
#: The outer contour, point for point beside ``INNER``.
OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
#: Where each inner point lies across the mouth, corner (0) to corner (1): MediaPipe's canonical face.
_ACROSS = (0.0, 0.07, 0.16, 0.26, 0.38, 0.5, 0.62, 0.74, 0.84, 0.93, 1.0,
           0.92, 0.86, 0.76, 0.64, 0.5, 0.36, 0.24, 0.14, 0.08)
#: The texture's bounding ring lies this far from the inner contour towards the outer one.
RING = 0.5
#: Names of the shape descriptor's entries.
DESCRIPTOR = ("opening", "gap", "smile", "width")


def mouth_points(mesh: np.ndarray) -> np.ndarray:
    """(49, 2) control points of the mouth in a (478, 2+) mesh: the 20 inner points, the 20 of the
    ring :data:`RING` of the way to the outer lips, and 9 midpoints between the upper and lower lip."""
    mesh = np.asarray(mesh, np.float64)[:, :2]
    inner, outer = mesh[list(INNER)], mesh[list(OUTER)]
    middle = (inner[1:10] + inner[19:10:-1]) / 2.0
    return np.vstack([inner, inner + RING * (outer - inner), middle])


def canonical_points() -> np.ndarray:
    """The same 49 points in the canonical texture (x right, y down, pixels)."""
    rows, cols = TEXTURE
    across = np.asarray(_ACROSS)
    x = 0.09 * cols + across * 0.82 * cols
    bulge = np.sin(np.pi * across) ** 0.6
    sign = np.where(np.arange(20) <= 10, -1.0, 1.0)
    sign[[0, 10]] = 0.0
    y = rows / 2.0 + sign * bulge * 0.3 * rows
    inner = np.stack([x, y], axis=1)
    centre = np.array([cols / 2.0, rows / 2.0])
    ring = centre + (inner - centre) * [1.09, 1.5]
    ring[[0, 10], 0] += [-0.5, 0.5]
    middle = (inner[1:10] + inner[19:10:-1]) / 2.0
    return np.vstack([inner, ring, middle])


def _triangles() -> np.ndarray:
    from scipy.spatial import Delaunay

    return Delaunay(canonical_points()).simplices.astype(np.int64)


TRIANGLES = _triangles()


def facing_triangles(points: np.ndarray) -> np.ndarray:
    """Which :data:`TRIANGLES` on ``points`` (49, 2) face the camera: those turned as in the
    canonical frame. A triangle turned over is the far side of the lips of a turned face, hidden
    behind the near side, as a back face is in a rendering."""
    def signed(q: np.ndarray) -> np.ndarray:
        a, b, c = (q[TRIANGLES[:, k]] for k in range(3))
        return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])

    return signed(np.asarray(points, np.float64)) * np.sign(signed(canonical_points())) > 0


def _locate(points: np.ndarray, shape: tuple[int, int], origin: Sequence[float] = (0.0, 0.0),
            visible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of a ``shape`` grid whose corner is at ``origin``: the triangle of
    :data:`TRIANGLES` on ``points`` it lies in (-1: none) and its (rows, cols, 3) barycentric weights;
    only the triangles ``visible`` (bool per triangle; default all) are drawn."""
    import cv2

    label = np.zeros(shape, np.int32)
    local = np.asarray(points, np.float64) - np.asarray(origin, np.float64)
    for k, triangle in enumerate(TRIANGLES):
        if visible is not None and not visible[k]:
            continue
        cv2.fillConvexPoly(label, np.round(local[triangle] * 16).astype(np.int32), k + 1, lineType=cv2.LINE_8,
                           shift=4)
    label -= 1
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    corners = local[TRIANGLES[np.maximum(label, 0)]]  # (rows, cols, 3, 2)
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    v0, v1 = b - a, c - a
    v2 = np.stack([xs, ys], axis=-1) - a
    d00, d01, d11 = (v0 * v0).sum(-1), (v0 * v1).sum(-1), (v1 * v1).sum(-1)
    d20, d21 = (v2 * v0).sum(-1), (v2 * v1).sum(-1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    second, third = (d11 * d20 - d01 * d21) / den, (d00 * d21 - d01 * d20) / den
    return label, np.stack([1.0 - second - third, second, third], axis=-1)


def _canonical_map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    label, weights = _locate(canonical_points(), TEXTURE)
    return label, weights, label >= 0


_LABEL, _WEIGHTS, MASK = _canonical_map()


def _inner_mask() -> np.ndarray:
    import cv2

    mask = np.zeros(TEXTURE, np.uint8)
    cv2.fillPoly(mask, [np.round(canonical_points()[:20] * 16).astype(np.int32)], 1, shift=4)
    return mask.astype(bool)


#: Pixels of the texture inside the inner contour (the opening), and the band of lip around it.
OPENING = _inner_mask()
LIP_BAND = MASK & ~OPENING


def to_canonical(image: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The (32, 64, 3) float32 texture of the mouth of ``image`` (RGB) whose (478, 2+) mesh is
    ``mesh``, in the canonical frame (0 outside :data:`MASK`)."""
    import cv2

    points = mouth_points(mesh)
    source = (_WEIGHTS[..., None] * points[TRIANGLES[np.maximum(_LABEL, 0)]]).sum(axis=2).astype(np.float32)
    # a mouth smaller than the texture is read as it is; a larger one is first smoothed to the texture's scale
    width = float(np.linalg.norm(points[0] - points[10]))
    sigma = 0.5 * width / (0.82 * TEXTURE[1])
    src = image.astype(np.float32)
    if sigma > 0.6:
        src = cv2.GaussianBlur(src, (0, 0), sigma)
    out = cv2.remap(src, source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.where(MASK[..., None], out, 0.0).astype(np.float32)


def _level(mesh: np.ndarray) -> tuple[np.ndarray, float]:
    """The mesh's points turned so the mouth's corners are level (the subject's right corner at
    the origin, x towards the left one, y down), and the mouth's width."""
    mesh = np.asarray(mesh, np.float64)[:, :2]
    axis = mesh[308] - mesh[78]
    width = float(np.linalg.norm(axis))
    cos, sin = axis / max(width, 1e-9)
    turn = np.array([[cos, -sin], [sin, cos]])
    return (mesh - mesh[78]) @ turn, width


def descriptor(mesh: np.ndarray) -> np.ndarray:
    """The mouth's shape: (opening: the area inside the lips over the width squared, gap: the
    distance between the lips' centres over the width, smile: how far the corners lie above the
    lips' centre over the width, width: the mouth's width over the outer eye corners' distance)."""
    level, width = _level(mesh)
    inner = level[list(INNER)]
    x, y = inner[:, 0], inner[:, 1]
    area = abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2.0
    w = max(width, 1e-9)
    centre = (level[13, 1] + level[14, 1]) / 2.0
    eyes = float(np.linalg.norm(level[33] - level[263]))
    return np.array([area / w ** 2, (level[14, 1] - level[13, 1]) / w, centre / w, width / max(eyes, 1e-9)])


@dataclass
class MouthBank:
    """The appearance model of the bank's mouths (``mean`` (D,), ``components`` (K, D), on the
    flattened canonical texture, 0-255 RGB), and each mouth's ``descriptors`` (N, 4),
    ``coefficients`` (N, K) and whether it came from a colour photo (``colour`` (N,) bool);
    ``scale`` (4,) divides descriptors before the nearest one is looked for."""

    mean: np.ndarray
    components: np.ndarray
    coefficients: np.ndarray
    descriptors: np.ndarray
    colour: np.ndarray
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.descriptors)

    def nearest(self, shape: np.ndarray, *, colour: bool = False) -> int:
        """The index of the bank mouth whose descriptor is nearest ``shape`` (in units of ``scale``);
        with ``colour``, a mouth from a colour photo is preferred to a gray one up to one unit
        farther (the face's colour is put on a gray mouth by :func:`.mouth.match_colour`)."""
        distance = np.sqrt((((self.descriptors - np.asarray(shape)[None]) / self.scale[None]) ** 2).sum(axis=1))
        if colour:
            distance = distance + np.where(self.colour, 0.0, 1.0)
        return int(np.argmin(distance))

    def texture(self, index: int) -> np.ndarray:
        """The (32, 64, 3) float32 texture of bank mouth ``index``, reconstructed from the model."""
        flat = self.mean.astype(np.float32) + self.coefficients[index].astype(np.float32) @ self.components.astype(
            np.float32)
        return np.clip(flat.reshape(*TEXTURE, 3), 0.0, 255.0) * MASK[..., None]

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.ascontiguousarray(getattr(self, name), np.float16)
                  for name in ("mean", "components", "coefficients", "descriptors", "scale")}
        arrays["colour"] = np.ascontiguousarray(self.colour, np.uint8)
        save_file(arrays, str(path), metadata={"texture": f"{TEXTURE[0]}x{TEXTURE[1]}x3"})
        return path

    @classmethod
    def load(cls, directory: str | Path) -> MouthBank:
        """The bank saved in ``directory``; a :class:`CheckpointError` if it has none or a damaged one."""
        from safetensors import safe_open
        from safetensors.numpy import load_file

        path = Path(directory) / FILE
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {FILE} (the bank of real mouths); build one with `python -m "
                                  "fexlab.plugins.mesh_warp.mouth_bank --data ../shared/data/muxspace/legend.csv "
                                  f"--out {directory}`")
        try:
            arrays = load_file(str(path))
            with safe_open(str(path), "np") as handle:
                texture = (handle.metadata() or {}).get("texture")
        except Exception as error:  # a truncated or foreign file
            raise CheckpointError(f"{path} is not a readable mouth bank: {error}") from None
        names = ("mean", "components", "coefficients", "descriptors", "colour", "scale")
        missing = [name for name in names if name not in arrays]
        if missing or texture != f"{TEXTURE[0]}x{TEXTURE[1]}x3":
            raise CheckpointError(f"{path} is not a mouth bank of this version (missing {missing or 'nothing'}, "
                                  f"texture {texture})")
        bank = cls(**{name: arrays[name] for name in names})
        bank.colour = bank.colour.astype(bool)
        bank.mean, bank.components = bank.mean.astype(np.float32), bank.components.astype(np.float32)
        bank.coefficients = bank.coefficients.astype(np.float32)
        bank.descriptors, bank.scale = bank.descriptors.astype(np.float64), bank.scale.astype(np.float64)
        return bank


def fit_bank(textures: np.ndarray, descriptors: np.ndarray, colour: np.ndarray, *,
             components: int = COMPONENTS) -> MouthBank:
    """The PCA model of ``textures`` (N, 32, 64, 3) (fitted on them and their mirror images) with each
    mouth's ``descriptors`` (N, 4), coefficients and ``colour`` flag."""
    textures = np.asarray(textures, np.float64)
    flat = textures.reshape(len(textures), -1)
    both = np.vstack([flat, textures[:, :, ::-1].reshape(len(textures), -1)])
    mean = both.mean(axis=0)
    count = max(1, min(components, *both.shape))
    if count >= min(both.shape) - 1:
        basis = np.linalg.svd(both - mean, full_matrices=False)[2][:count]
    else:  # the leading components only (seeded randomized SVD: seconds for thousands of mouths)
        from sklearn.utils.extmath import randomized_svd

        basis = randomized_svd(both - mean, count, n_iter=6, random_state=0)[2]
    coefficients = (flat - mean) @ basis.T
    descriptors = np.asarray(descriptors, np.float64)
    scale = descriptors.std(axis=0) if len(descriptors) > 1 else np.ones(descriptors.shape[1])
    return MouthBank(mean.astype(np.float32), basis.astype(np.float32), coefficients.astype(np.float32),
                     descriptors, np.asarray(colour, bool), np.where(scale > 1e-6, scale, 1.0))


# -- building the bank from real photos --------------------------------------------------------------------
#: A bank mouth is open at least this much (:func:`descriptor`'s opening and gap) and this many pixels wide.
MIN_OPENING, MIN_GAP, MIN_WIDTH = 0.05, 0.1, 18.0
#: ... and shows an inside: at least this fraction of its opening is far darker (throat) or brighter
#: (teeth) than its lips (where the mesh's inner contour lies on the lips, the "opening" is lip).
MIN_INSIDE = 0.55
#: ... and is lit alike on both sides: its halves' mean lightness differ at most this many times.
MAX_SIDES = 1.2


def inside_fraction(textures: np.ndarray) -> np.ndarray:
    """(N,) the fraction of each texture's opening under 0.6 or over 1.2 times its lips' median lightness."""
    light = np.asarray(textures, np.float64).mean(axis=-1)
    lips = np.median(light[:, LIP_BAND], axis=1)[:, None]
    opening = light[:, OPENING]
    return ((opening < 0.6 * lips) | (opening > 1.2 * lips)).mean(axis=1)


def side_ratio(textures: np.ndarray) -> np.ndarray:
    """(N,) how many times brighter each texture's brighter half (left or right) is than the other."""
    light = np.asarray(textures, np.float64).mean(axis=-1)
    left = MASK & (np.arange(TEXTURE[1]) < TEXTURE[1] // 2)[None, :]
    a, b = light[:, left].mean(axis=1), light[:, MASK & ~left].mean(axis=1)
    return np.maximum(a, b) / np.maximum(np.minimum(a, b), 1.0)


def _open_in_cache(cache: str | Path, names: Sequence[str]) -> np.ndarray:
    """Whether the blendshape cache says each photo (by file name) might show an open mouth (True
    where the cache does not hold it)."""
    from ..face_mesh.blendshapes import ARKIT_NAMES

    with np.load(cache, allow_pickle=False) as data:
        keys, shapes, found = data["keys"], data["blendshapes"], data["found"]
    row = {str(key).rsplit("/", 1)[-1]: i for i, key in enumerate(keys)}
    at = {name: ARKIT_NAMES.index(name) for name in ARKIT_NAMES}
    out = np.ones(len(names), bool)
    for i, name in enumerate(names):
        k = row.get(str(name).rsplit("/", 1)[-1])
        if k is None:
            continue
        s = shapes[k]
        lower = (s[at["mouthLowerDownLeft"]] + s[at["mouthLowerDownRight"]]) / 2
        upper = (s[at["mouthUpperUpLeft"]] + s[at["mouthUpperUpRight"]]) / 2
        out[i] = bool(found[k]) and (s[at["jawOpen"]] - s[at["mouthClose"]] > 0.05 or lower > 0.2 or upper > 0.25)
    return out


def _is_gray(pixels: np.ndarray) -> bool:
    pixels = np.asarray(pixels, np.float64).reshape(-1, 3)
    return float(np.abs(pixels - pixels.mean(axis=1, keepdims=True)).mean()) < 2.0


def collect(data: str | Path, *, cache: str | Path | None = None, detector: str = "yunet", limit: int | None = None,
            log: Callable[[str], Any] = print) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(textures, descriptors, colour flags) of the open mouths in the training split of ``data``
    (a data set fexlab reads; only its ``train`` faces are opened)."""
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import Face, default_registry

    from ..face_mesh import FaceMesh

    dataset = open_dataset(str(data))
    train = np.flatnonzero(dataset.split_names() == "train")
    names = dataset.source_ids()[train]
    if cache is not None and Path(cache).is_file():
        keep = _open_in_cache(cache, names)
        log(f"{len(train)} training photos; the cache says {int(keep.sum())} may have an open mouth")
        train = train[keep]
    if limit is not None:
        train = train[:limit]
    finder = default_registry().detector(detector)
    mesh = FaceMesh()
    textures, shapes, colour = [], [], []
    start = time.monotonic()
    for first in range(0, len(train), 64):
        batch = train[first:first + 64]
        for image in dataset.images(batch):
            faces = finder.detect(image) or [Face((0, 0, image.shape[1], image.shape[0]), 1.0, None)]
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
            analysis = mesh.analyze(image, [face])[0]
            if not mesh.present(analysis):
                continue
            points = np.asarray(analysis["mesh"], np.float64)
            shape = descriptor(points)
            yaw = abs(float(analysis.get("head_pose", {}).get("yaw", 0.0)))
            ring = mouth_points(points)
            inside = (ring.min() >= 0) and (ring[:, 0].max() < image.shape[1] - 1) and (
                ring[:, 1].max() < image.shape[0] - 1)
            width = float(np.linalg.norm(points[78, :2] - points[308, :2]))
            if shape[0] < MIN_OPENING or shape[1] < MIN_GAP or width < MIN_WIDTH or yaw > 25 or not inside:
                continue
            textures.append(to_canonical(image, points))
            shapes.append(shape)
            colour.append(not _is_gray(textures[-1][MASK]))
        done = min(first + 64, len(train))
        log(f"{done}/{len(train)} photos read, {len(textures)} open mouths, "
            f"{(time.monotonic() - start) / max(done, 1) * 1000:.0f} ms a photo")
    return np.asarray(textures, np.float32), np.asarray(shapes), np.asarray(colour, bool)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.mesh_warp.mouth_bank",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a data set of photos fexlab reads (its train split is used)")
    parser.add_argument("--out", required=True, type=Path, help=f"the weights folder {FILE} is written to")
    parser.add_argument("--cache", type=Path, help="a blendshape cache (geometry.cache) to skip closed mouths")
    parser.add_argument("--components", type=int, default=COMPONENTS, help=f"principal components (default {COMPONENTS})")
    parser.add_argument("--detector", default="yunet", help="face detector (default yunet)")
    parser.add_argument("--limit", type=int, help="read at most this many photos (to time a run)")
    parser.add_argument("--textures", type=Path, help="keep the mouths' textures in this .npz outside the repository "
                        "(read back if it exists, to refit without the mesh)")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.textures is not None and args.textures.is_file():
        with np.load(args.textures) as saved:
            textures, shapes, colour = saved["textures"], saved["descriptors"], saved["colour"]
    else:
        textures, shapes, colour = collect(args.data, cache=args.cache, detector=args.detector, limit=args.limit,
                                           log=log)
        if args.textures is not None:
            np.savez(args.textures, textures=textures, descriptors=shapes, colour=colour)
    shown = (inside_fraction(textures) >= MIN_INSIDE) & (side_ratio(textures) <= MAX_SIDES)
    log(f"{int(shown.sum())} of {len(textures)} open mouths show their inside, lit alike on both sides")
    textures, shapes, colour = textures[shown], shapes[shown], colour[shown]
    if not len(textures):
        raise SystemExit("no open mouth was found; nothing to build")
    bank = fit_bank(textures, shapes, colour, components=args.components)
    path = bank.save(args.out)
    flat = textures.reshape(len(textures), -1)
    error = np.abs((bank.coefficients @ bank.components + bank.mean) - flat).mean()
    log(f"{len(bank)} mouths ({int(colour.sum())} in colour), {len(bank.components)} components, mean absolute "
        f"reconstruction error {error:.1f} levels; wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
