"""Expression detail from real faces: per emotion, a ratio image of its folds and furrows.

An emotion shows in small creases as much as in the shape of the face: the nasolabial folds of a
smile, the furrow between the brows of anger, the wrinkled nose and raised upper lip of disgust,
the creased forehead under raised inner brows of sadness and fear. Following expression ratio
images (Liu, Shan and Zhang 2001, "Expressive expression mapping with ratio images"; Averbuch-Elor
et al. 2017, "Bringing Portraits to Life"), each is taken from real faces of the emotion, laid out
on MediaPipe's texture square at the detail they have (:data:`TEXTURE_SIZE` texels a side; the
muxspace photos are up to 160 px):

- each face's log luminance on the texture square, with its own light removed: around each texel
  a plane fitted over the skin (Gaussian weights of sigma :data:`HIGH_PASS` of the square's side)
  is subtracted, so only the creases, furrows and folds remain and the face's light, tan and
  make-up drop out;
- per emotion, the robust mean of its faces' detail (each texel winsorised to its 10th-90th
  percentile across faces) minus that of the neutral faces of the same source: the emotion's
  log-ratio image, in which the light of no one photo survives, so no dark patch;
- shrunk toward 0 where the faces disagree (multiplied by ``t^2 / (t^2 + GATE^2)``, ``t`` the
  texel's Welch t-statistic), so what survives is the detail the emotion's faces share, and masked
  to the skin (:func:`skin_mask`: no eyes, no lips, whose look the bank of real mouths gives).

Where an emotion has few photos, FER2013's training faces of it and of neutral (48 px, FER+
majority labels) add their own emotion-minus-neutral difference, the sources combined per texel by
the inverse of their variance.

At edit time (:meth:`Wrinkles.shade`) the change of log luminance is the ratio images weighted by
the emotion weights of the target code minus those of the face's own code (a face's own code has
none: the face's own creases are kept and the target's are added), applied through the editor's
shading on the warped face. Build::

    python -m fexlab.plugins.mesh_warp.wrinkles --data ../shared/data --out fexlab/plugins/mesh_warp/weights/fer2013
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

from fexlab.registry import EMOTIONS, CheckpointError

__all__ = ["FILE", "GATE", "HIGH_PASS", "TEXTURE_SIZE", "Wrinkles", "detail", "fit_ratios", "load_wrinkles",
           "skin_mask"]

#: The ratio images' file inside a checkpoint folder.
FILE = "wrinkles.safetensors"
#: Side of the texture square the faces are laid out on (texels).
TEXTURE_SIZE = 128
#: The blur subtracted from each face (its light), as a fraction of the square's side (the sigma).
HIGH_PASS = 1.0 / 24.0
#: A texel's difference is kept by ``t^2 / (t^2 + GATE^2)`` of its t-statistic ``t``.
GATE = 3.0
#: Each texel is winsorised to these percentiles across an emotion's faces before the mean.
TRIM = (10.0, 90.0)
#: The photos' source and the 48 px complement's, in the order the counts are kept.
SOURCES = ("muxspace", "fer2013")


def detail(logs: np.ndarray, valid: np.ndarray, size: int | None = None) -> np.ndarray:
    """The high-passed log luminance ``logs`` (S, S): minus the plane fitted around each texel over
    the ``valid`` texels, weighted by a Gaussian of sigma :data:`HIGH_PASS` of the side (a local
    linear fit, so the face's light, a slope, leaves nothing even beside the eyes and the mouth);
    NaN where not ``valid``."""
    import cv2

    size = int(size or logs.shape[0])
    valid = np.asarray(valid, bool) & np.isfinite(logs)
    values = np.where(valid, logs, 0.0).astype(np.float64)
    ys, xs = np.mgrid[0:logs.shape[0], 0:logs.shape[1]].astype(np.float64) / size
    weight = valid.astype(np.float64)
    sigma = HIGH_PASS * size

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (0, 0), sigma)

    s1, sx, sy = blur(weight), blur(weight * xs), blur(weight * ys)
    sxx, sxy, syy = blur(weight * xs * xs), blur(weight * xs * ys), blur(weight * ys * ys)
    sf, sxf, syf = blur(values), blur(values * xs), blur(values * ys)
    ridge = 1e-3 * (HIGH_PASS ** 2) * s1 + 1e-12  # where the skin around is a thin strip, a flat fit
    moments = np.stack([np.stack([s1, sx, sy], -1), np.stack([sx, sxx + ridge, sxy], -1),
                        np.stack([sy, sxy, syy + ridge], -1)], -2)
    moments[..., 0, 0] += 1e-12
    a, b, c = np.moveaxis(np.linalg.solve(moments, np.stack([sf, sxf, syf], -1)[..., None])[..., 0], -1, 0)
    low = a + b * xs + c * ys
    return np.where(valid, values - low, np.nan).astype(np.float32)


def _robust_stats(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per texel of (N, S, S) ``stack`` (NaN: not seen): the winsorised mean, its variance and the faces seen."""
    seen = np.isfinite(stack).sum(axis=0)
    if len(stack) == 0:
        zeros = np.zeros(stack.shape[1:])
        return zeros, zeros + np.inf, seen
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # texels no face sees
        low, high = np.nanpercentile(stack, TRIM, axis=0)
        clipped = np.clip(stack, low, high)
        mean = np.nanmean(clipped, axis=0)
        var = np.nanvar(clipped, axis=0, ddof=1) if len(stack) > 1 else np.full(stack.shape[1:], np.inf)
    mean = np.where(seen > 0, mean, 0.0)
    var = np.where(seen > 1, var, np.inf)
    return mean, var / np.maximum(seen, 1), seen


def fit_ratios(textures: np.ndarray, labels: np.ndarray, sources: np.ndarray | None = None,
               mask: np.ndarray | None = None, *, gate: float = GATE, min_faces: int = 3
               ) -> tuple[np.ndarray, np.ndarray]:
    """(ratios (7, S, S), t-statistics (7, S, S)) of faces' high-passed log luminance ``textures``
    (N, S, S; NaN where a face shows nothing) labelled ``labels`` (EMOTIONS indices), each from
    source ``sources`` (N,) (0 for all when None): per source, the emotion's robust mean minus the
    neutral faces', the sources combined by inverse variance, shrunk by the t-statistic and times
    ``mask`` (S, S). Neutral's is 0, and so is that of an emotion with fewer than ``min_faces``."""
    textures = np.asarray(textures, np.float32)
    labels = np.asarray(labels)
    sources = np.zeros(len(labels), int) if sources is None else np.asarray(sources)
    shape = textures.shape[1:]
    neutral = EMOTIONS.index("neutral")
    weight_sum = np.zeros((len(EMOTIONS), *shape))
    weighted = np.zeros((len(EMOTIONS), *shape))
    for source in np.unique(sources):
        here = sources == source
        base, base_var, base_seen = _robust_stats(textures[here & (labels == neutral)])
        for k in range(len(EMOTIONS)):
            chosen = here & (labels == k)
            if k == neutral or chosen.sum() < min_faces:
                continue
            mean, var, seen = _robust_stats(textures[chosen])
            ok = (seen >= min_faces) & (base_seen >= min_faces)
            total = var + base_var
            w = np.where(ok & np.isfinite(total), 1.0 / np.maximum(total, 1e-12), 0.0)
            weight_sum[k] += w
            weighted[k] += w * (mean - base)
    ratios = np.divide(weighted, weight_sum, out=np.zeros_like(weighted), where=weight_sum > 0)
    t = ratios * np.sqrt(weight_sum)
    ratios = ratios * t ** 2 / (t ** 2 + float(gate) ** 2) if gate > 0 else ratios
    if mask is not None:
        ratios = ratios * np.asarray(mask)[None]
    return ratios, t


@dataclass
class Wrinkles:
    """Per emotion (EMOTIONS order), the log-ratio image of its detail on the texture square, and its faces."""

    #: (7, S, S) change of log luminance on the texture square from a neutral face to one of the emotion.
    ratios: np.ndarray
    #: (7, 2) faces each ratio image was fitted on, from muxspace and from FER2013.
    faces: np.ndarray

    def __post_init__(self) -> None:
        ratios = np.asarray(self.ratios)
        if ratios.ndim != 3 or ratios.shape[0] != len(EMOTIONS) or ratios.shape[1] != ratios.shape[2]:
            raise CheckpointError(f"the wrinkles' ratio images have shape {ratios.shape}, not ({len(EMOTIONS)}, S, S)")
        if np.shape(self.faces) != (len(EMOTIONS), len(SOURCES)):
            raise CheckpointError(f"the wrinkles' face counts have shape {np.shape(self.faces)}, "
                                  f"not ({len(EMOTIONS)}, {len(SOURCES)})")
        if not np.isfinite(ratios).all():
            raise CheckpointError("the wrinkles' ratio images hold values that are not finite")

    @property
    def texture_size(self) -> int:
        return int(self.ratios.shape[1])

    def mix(self, code: np.ndarray) -> np.ndarray:
        """(S, S) the ratio images weighted by the emotion weights of ``code`` (its last 7 entries)."""
        weights = np.asarray(code, np.float64)[-len(EMOTIONS):]
        return np.tensordot(weights, np.asarray(self.ratios, np.float64), axes=1)

    def shade(self, current: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(S, S) change of log luminance from expression code ``current`` to ``target``."""
        return self.mix(np.asarray(target, np.float64) - np.asarray(current, np.float64))

    def save(self, directory: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / FILE
        save_file({"ratios": np.ascontiguousarray(self.ratios, np.float16),
                   "faces": np.ascontiguousarray(self.faces, np.int32)}, str(path),
                  metadata={"emotions": ",".join(EMOTIONS), "sources": ",".join(SOURCES)})
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Wrinkles:
        from safetensors.numpy import load_file

        path = Path(directory) / FILE
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {FILE}; build it with `python -m "
                                  f"fexlab.plugins.mesh_warp.wrinkles --data ../shared/data --out {directory}`")
        try:
            arrays = load_file(str(path))
        except Exception as error:  # noqa: BLE001 - a damaged file, whatever safetensors says
            raise CheckpointError(f"{path} cannot be read: {error}") from None
        missing = {"ratios", "faces"} - set(arrays)
        if missing:
            raise CheckpointError(f"{path} lacks {sorted(missing)}")
        return cls(arrays["ratios"].astype(np.float32), arrays["faces"].astype(np.int64))


def load_wrinkles(directory: str | Path) -> Wrinkles | None:
    """The ratio images in weights folder ``directory``, or None when it has none (an expression
    model fitted alone: the editor then shades with the model's linear shading only)."""
    return Wrinkles.load(directory) if (Path(directory) / FILE).is_file() else None


# -- measuring real faces -----------------------------------------------------------------------------------
class _Layout:
    """Lays a face's log luminance out on the texture square and keeps its detail."""

    def __init__(self, size: int):
        from ..face_mesh import FaceMesh
        from ..face_mesh.bundle import canonical_face
        from .fit import shading_mask, texture_sampler

        self.mesh = FaceMesh()
        uv = canonical_face(str(self.mesh.bundle)).uv[:468]
        self.size = size
        self.sample = texture_sampler(uv, size)
        self.valid = shading_mask(uv, size) > 0.5

    def __call__(self, image: np.ndarray, box: Sequence[float]) -> np.ndarray | None:
        """The log luminance (S, S) of the face in ``box`` of RGB ``image`` on the texture square, less
        its mean, NaN off the skin or the photo; None when the mesh misses the face."""
        import cv2

        from fexlab.registry import Face

        analysis = self.mesh.analyze(image, [Face(tuple(box), 1.0, None)])[0]
        if not self.mesh.present(analysis):
            return None
        coords = self.sample(np.asarray(analysis["mesh"], np.float64))
        seen = np.isfinite(coords).all(axis=2)
        coords = np.where(seen[..., None], coords, -10.0).astype(np.float32)
        height, width = image.shape[:2]
        seen &= (coords[..., 0] >= 0) & (coords[..., 0] <= width - 1) & (coords[..., 1] >= 0) & (
            coords[..., 1] <= height - 1)
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
        luma = cv2.remap(gray, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        logs = np.where(self.valid & seen, np.log(luma + 10.0), np.nan)
        return logs - np.nanmean(logs) if np.isfinite(logs).any() else None


def _capped(indices: np.ndarray, labels: np.ndarray, per_emotion: int, seed: int,
            emotions: Sequence[int] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    keep = []
    for k in range(len(EMOTIONS)) if emotions is None else emotions:
        keep.append(rng.permutation(indices[labels[indices] == k])[:per_emotion])
    return np.sort(np.concatenate(keep)) if keep else indices[:0]


def measure(data: str | Path, *, size: int = TEXTURE_SIZE, per_emotion: int = 600, complement_below: int = 60,
            detector: str = "yunet", seed: int = 0, limit: int | None = None,
            log: Callable[[str], Any] = print) -> dict[str, np.ndarray]:
    """The log luminance (see :class:`_Layout`) of real training faces under ``data`` (the shared data folder): muxspace's
    training photos (the detector's largest face), at most ``per_emotion`` of each emotion, and for
    each emotion with fewer than ``complement_below`` of them, FER2013's training faces of it and
    of neutral with a FER+ majority label (at most ``per_emotion`` each). Validation and test faces
    are never opened."""
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import Face, default_registry

    data = Path(data)
    layout = _Layout(size)
    finder = default_registry().detector(detector)
    textures, labels, sources = [], [], []
    photos = open_dataset(str(data / "muxspace" / "legend.csv"))
    train = np.flatnonzero(photos.split_names() == "train")
    chosen = _capped(train, photos.labels(), per_emotion, seed)
    if limit is not None:
        chosen = chosen[:limit]
    start = time.monotonic()
    for first in range(0, len(chosen), 64):
        batch = chosen[first:first + 64]
        for index, image in zip(batch, photos.images(batch)):
            faces = finder.detect(image) or [Face((0, 0, image.shape[1], image.shape[0]), 1.0, None)]
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
            texture = layout(image, face.box)
            if texture is not None:
                textures.append(texture.astype(np.float16))
                labels.append(int(photos.labels()[index]))
                sources.append(0)
        done = min(first + 64, len(chosen))
        log(f"muxspace: {done}/{len(chosen)} training photos read, {len(textures)} meshes, "
            f"{(time.monotonic() - start) / max(done, 1) * 1000:.0f} ms a photo")
    have = np.bincount(np.asarray(labels, int), minlength=len(EMOTIONS))
    few = [k for k in range(len(EMOTIONS)) if have[k] < complement_below and EMOTIONS[k] != "neutral"]
    if few:
        crops = open_dataset(str(data / "fer2013" / "ferplus_votes.csv"))
        ids = crops.source_ids()
        train = np.flatnonzero((crops.split_names() == "train") & np.char.startswith(ids.astype(str), "train/"))
        chosen = _capped(train, crops.labels(), per_emotion, seed, [*few, EMOTIONS.index("neutral")])
        if limit is not None:
            chosen = chosen[:limit]
        log(f"FER2013 complement for {', '.join(EMOTIONS[k] for k in few)} (and neutral): {len(chosen)} faces")
        for first in range(0, len(chosen), 256):
            batch = chosen[first:first + 256]
            for index, image in zip(batch, crops.images(batch)):
                texture = layout(image, (0, 0, image.shape[1], image.shape[0]))
                if texture is not None:
                    textures.append(texture.astype(np.float16))
                    labels.append(int(crops.labels()[index]))
                    sources.append(1)
    return {"textures": np.asarray(textures, np.float16).reshape(-1, size, size),
            "labels": np.asarray(labels, np.int64), "sources": np.asarray(sources, np.int64)}


#: The outer contour of the lips: inside it the mouth's look comes from the bank of real mouths
#: (:mod:`.mouth`), and the teeth of the open mouths among the faces would only brighten the lips.
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)


def skin_mask(size: int) -> np.ndarray:
    """(size, size) where the ratio images apply: :func:`.fit.shading_mask` (the skin, no eyes) less
    the lips (:data:`OUTER_LIPS`), soft-edged."""
    import cv2

    from ..face_mesh.bundle import canonical_face
    from .fit import shading_mask

    uv = canonical_face().uv
    lips = np.zeros((size, size), np.float32)
    cv2.fillPoly(lips, [np.round((uv[list(OUTER_LIPS)] * size - 0.5) * 4).astype(np.int32)], 1.0,
                 lineType=cv2.LINE_AA, shift=2)
    lips = cv2.GaussianBlur(cv2.dilate(lips, np.ones((3, 3), np.uint8)), (0, 0), size / 96.0)
    return shading_mask(uv[:468], size) * (1.0 - np.clip(lips, 0.0, 1.0))


def build(arrays: dict[str, np.ndarray], *, gate: float = GATE) -> Wrinkles:
    """The ratio images of what :func:`measure` found (each face's detail: :func:`detail`)."""
    textures = np.stack([detail(logs, np.isfinite(logs)) for logs in np.asarray(arrays["textures"], np.float32)])
    ratios, _ = fit_ratios(textures, arrays["labels"], arrays["sources"], skin_mask(textures.shape[1]), gate=gate)
    faces = np.zeros((len(EMOTIONS), len(SOURCES)), np.int64)
    np.add.at(faces, (np.asarray(arrays["labels"]), np.asarray(arrays["sources"])), 1)
    return Wrinkles(ratios.astype(np.float32), faces)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.mesh_warp.wrinkles",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="the shared data folder (muxspace/, fer2013/)")
    parser.add_argument("--out", required=True, type=Path, help=f"the weights folder {FILE} is written to")
    parser.add_argument("--size", type=int, default=TEXTURE_SIZE, help=f"texture side (default {TEXTURE_SIZE})")
    parser.add_argument("--per-emotion", type=int, default=600, help="faces of each emotion at most (default 600)")
    parser.add_argument("--complement-below", type=int, default=60,
                        help="add FER2013 faces for emotions with fewer muxspace photos than this (default 60)")
    parser.add_argument("--gate", type=float, default=GATE, help=f"t-statistic shrinkage (default {GATE:g})")
    parser.add_argument("--detector", default="yunet", help="face detector (default yunet)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="read at most this many faces of each source (to time a run)")
    parser.add_argument("--cache", type=Path, help="an .npz of the measured faces outside the repository: read when "
                        "it exists, else written")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    began = time.monotonic()
    if args.cache is not None and args.cache.is_file():
        with np.load(args.cache, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in ("textures", "labels", "sources")}
    else:
        arrays = measure(args.data, size=args.size, per_emotion=args.per_emotion,
                         complement_below=args.complement_below, detector=args.detector, seed=args.seed,
                         limit=args.limit, log=log)
        if args.cache is not None:
            np.savez(args.cache, **arrays)
    wrinkles = build(arrays, gate=args.gate)
    path = wrinkles.save(args.out)
    counts = ", ".join(f"{e} {m}+{f}" for e, (m, f) in zip(EMOTIONS, wrinkles.faces))
    log(f"faces (muxspace+FER2013): {counts}; wrote {path} ({path.stat().st_size / 1e3:.0f} kB) in "
        f"{time.monotonic() - began:.0f} s")
    for k, name in enumerate(EMOTIONS):
        r = wrinkles.ratios[k]
        log(f"  {name}: log-ratio from {r.min():+.3f} to {r.max():+.3f}, mean |.| {np.abs(r).mean():.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
