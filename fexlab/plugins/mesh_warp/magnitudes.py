"""How strongly real faces show each emotion: the targets of ``mesh_warp``'s emotion edits.

``python -m fexlab.plugins.mesh_warp.magnitudes --data ../shared/data --cache /work/cache/geometry.npz
--out fexlab/plugins/mesh_warp/weights/fer2013`` reads the Face Landmarker's 51 blendshapes of real
*training* faces (FER2013's training faces with their FER+ majority label, and muxspace's training
photos with their label; never a validation or test face, on which the editor is measured), from
the blendshape cache of :mod:`fexlab.plugins.geometry.cache` (built from the images, and kept at
``--cache``, when it lacks them), and stores per emotion:

- ``typical``, strength 1: a typical real face of the emotion, the *mode* of its faces'
  blendshapes: the face whose ``share`` (a tenth) of nearest neighbours lie closest around it, and
  the mean of those neighbours. A per-blendshape mean is milder than any real face (half the happy
  faces open the mouth, half do not: their mean is a half-open mouth that no one makes), and the
  centre of the largest k-means cluster depends on how many clusters are asked for (with three,
  surprise's largest cluster raises the brows less than most surprised faces do); the densest
  neighbourhood is a face that many real faces of the emotion nearly share, whatever the other
  modes are;
- ``intense``, strength 2: the same mode among the emotion's most intense faces, the ``top``
  tenth furthest from the neutral faces' mean along the line from it to the emotion's mean (what
  the strongest real faces of the emotion share);
- ``floor`` and ``ceiling``: per blendshape, the ``low`` (5th) and ``high`` (95th) percentiles of
  the emotion's faces: the range its real faces reach. Both codes are clipped into it, so no
  strength asks for a blendshape beyond what 95% of the emotion's real faces show;
- ``faces``: how many faces of the emotion it was fitted on.

Nothing here is tuned to make a classifier agree: the numbers are what the real faces do.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry import EMOTIONS, CheckpointError, InputError

from ..face_mesh.blendshapes import ARKIT_NAMES

__all__ = ["FILE", "Magnitudes", "fit_magnitudes", "main", "mode", "training_shapes"]

#: The magnitudes' file inside a ``mesh_warp`` checkpoint folder.
FILE = "magnitudes.safetensors"
_ARRAYS = ("typical", "intense", "floor", "ceiling", "faces")
#: What builds the file; quoted by the error for a folder without it.
COMMAND = ("python -m fexlab.plugins.mesh_warp.magnitudes --data ../shared/data --cache /work/cache/geometry.npz "
           "--out FOLDER")


@dataclass
class Magnitudes:
    """Per emotion (EMOTIONS order), (7, 51) blendshape codes: see the module."""

    typical: np.ndarray
    intense: np.ndarray
    floor: np.ndarray
    ceiling: np.ndarray
    #: (7,) faces each emotion was fitted on.
    faces: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(EMOTIONS), len(ARKIT_NAMES))
        for name in _ARRAYS[:4]:
            if np.shape(getattr(self, name)) != shape:
                raise CheckpointError(f"the magnitudes' {name} has shape {np.shape(getattr(self, name))}, not {shape}")
        if np.shape(self.faces) != (len(EMOTIONS),):
            raise CheckpointError(f"the magnitudes' faces has shape {np.shape(self.faces)}, not ({len(EMOTIONS)},)")

    def shapes(self, emotion: str, strength: float) -> np.ndarray:
        """(51,) the blendshapes of ``emotion`` at ``strength`` 1 (typical) to 2 (intense), linearly
        between, inside the range the emotion's real faces reach (see :func:`.model.target_code`
        for strengths below 1, which start from the face's own code)."""
        k = EMOTIONS.index(emotion)
        step = float(np.clip(strength - 1.0, 0.0, 1.0))
        code = self.typical[k] + step * (self.intense[k] - self.typical[k])
        return np.clip(np.clip(code, self.floor[k], self.ceiling[k]), 0.0, 1.0)

    def save(self, directory: str | Path, notes: str = "") -> Path:
        from safetensors.numpy import save_file

        path = Path(directory) / FILE
        save_file({name: np.ascontiguousarray(getattr(self, name), np.float32) for name in _ARRAYS}, str(path),
                  metadata={"emotions": ",".join(EMOTIONS), "blendshapes": ",".join(ARKIT_NAMES), "notes": notes})
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Magnitudes:
        from safetensors.numpy import load_file

        path = Path(directory) / FILE
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {FILE} (how strongly real faces show each emotion, which "
                                  f"the edits aim at); this folder predates it: fit it with `{COMMAND}`")
        try:
            arrays = load_file(str(path))
        except Exception as err:  # safetensors' own error: a damaged file
            raise CheckpointError(f"{path} is not a readable safetensors file ({err})") from None
        missing = set(_ARRAYS) - set(arrays)
        if missing:
            raise CheckpointError(f"{path} lacks {sorted(missing)}; refit it with `{COMMAND}`")
        return cls(**{name: arrays[name].astype(np.float64) for name in _ARRAYS})


def mode(points: np.ndarray, share: float = 0.1, *, most: int = 5000, seed: int = 0) -> np.ndarray:
    """The mode of ``points`` (N, D): the mean of the ``share`` of them nearest to the point whose
    that many neighbours lie closest (at least 5, or all of them when fewer; at most ``most``
    points are searched, a seeded sample, so it stays fast)."""
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(points, np.float64)
    if len(points) > most:
        points = points[np.random.default_rng(seed).choice(len(points), most, replace=False)]
    k = int(min(len(points), max(5, round(share * len(points)))))
    distances, neighbours = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)
    return points[neighbours[distances[:, -1].argmin()]].mean(axis=0)


def fit_magnitudes(shapes: np.ndarray, labels: np.ndarray, *, share: float = 0.1, top: float = 0.1,
                   low: float = 5.0, high: float = 95.0, seed: int = 0) -> Magnitudes:
    """The magnitudes (see the module) of faces with blendshapes ``shapes`` (N, 51) and emotion
    indices ``labels`` (N,); every emotion needs at least 2 faces."""
    shapes, labels = np.asarray(shapes, np.float64), np.asarray(labels)
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    if counts.min() < 2:
        raise InputError("every emotion needs at least 2 real faces; got "
                         + ", ".join(f"{e} {int(c)}" for e, c in zip(EMOTIONS, counts)))
    neutral = EMOTIONS.index("neutral")
    centre = shapes[labels == neutral].mean(axis=0)
    out = {name: np.zeros((len(EMOTIONS), shapes.shape[1])) for name in _ARRAYS[:4]}
    for k in range(len(EMOTIONS)):
        own = shapes[labels == k]
        out["floor"][k], out["ceiling"][k] = np.percentile(own, low, axis=0), np.percentile(own, high, axis=0)
        out["typical"][k] = mode(own, share, seed=seed)
        direction = own.mean(axis=0) - centre
        if k == neutral or not direction.any():
            out["intense"][k] = out["typical"][k]
            continue
        reach = (own - centre) @ direction
        strongest = own[reach >= np.quantile(reach, 1.0 - top)]
        out["intense"][k] = mode(strongest, share, seed=seed)
    for name in ("typical", "intense"):
        out[name] = np.clip(out[name], out["floor"], out["ceiling"])
    return Magnitudes(**out, faces=counts.astype(np.float64))


def training_shapes(cache: str | Path, root: str | Path, *, muxspace: bool = True,
                    log: Any = print) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(blendshapes (N, 51), emotion indices (N,), counts) of the training faces with a mesh:
    FER2013's training faces with a FER+ majority label (``fer2013/ferplus_votes.csv``'s train
    split) and, with ``muxspace``, muxspace's training photos (``muxspace/legend.csv``'s train
    split, the detector's largest face). The faces ``cache`` lacks are measured from the images
    and added to it first (:func:`fexlab.plugins.geometry.cache.build_cache`)."""
    from fexlab.preprocessing.readers import open_dataset

    from ..geometry.cache import BlendshapeCache, build_cache
    from ..geometry.train import _KEY_PREFIX, FERPLUS, MUXSPACE, cached_split

    root = Path(root)
    sources = [(FERPLUS, {"votes": "majority"}, False)] + ([(MUXSPACE, {}, True)] if muxspace else [])
    jobs = []
    for source, options, photo in sources:
        part = open_dataset(root / source, **options).split("train")
        jobs += [(_KEY_PREFIX[source] + str(s), photo) for s in part.source_ids()]
    held = BlendshapeCache.load(cache)
    if any(key not in held for key, _ in jobs):
        detector = None
        if any(photo for _, photo in jobs):
            from fexlab.registry import default_registry

            detector = default_registry().detector("yunet")  # the cache's own default for photos
        held = build_cache(cache, root, jobs, detector=detector, log=log)
    shapes, labels, counts = [], [], {}
    for source, options, _ in sources:
        part = cached_split(held, root, source, "train", **options)
        found = np.asarray(part.features.found & part.held, bool)
        shapes.append(part.features.blendshapes[found])
        labels.append(part.labels[found])
        counts[source] = {"faces": int(len(found)), "with_mesh": int(found.sum())}
    return np.concatenate(shapes).astype(np.float64), np.concatenate(labels), counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.mesh_warp.magnitudes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the data folder (fer2013/, muxspace/)")
    parser.add_argument("--cache", required=True, type=Path,
                        help="the blendshape cache (.npz, outside the repository): read, and built where it lacks faces")
    parser.add_argument("--out", required=True, type=Path, help="the mesh_warp checkpoint folder to write into")
    parser.add_argument("--no-muxspace", action="store_true", help="FER2013's training faces only")
    parser.add_argument("--share", type=float, default=0.1, help="neighbourhood of the mode, a share of the faces")
    parser.add_argument("--top", type=float, default=0.1, help="share of an emotion's faces that are its most intense")
    parser.add_argument("--high", type=float, default=95.0, help="percentile of the ceiling (the floor: 100 - it)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        raise SystemExit(f"{args.out} is not a mesh_warp checkpoint folder")
    shapes, labels, counts = training_shapes(args.cache, args.data, muxspace=not args.no_muxspace,
                                             log=lambda line: print(line, file=sys.stderr, flush=True))
    magnitudes = fit_magnitudes(shapes, labels, share=args.share, top=args.top, low=100.0 - args.high,
                                high=args.high, seed=args.seed)
    command = "python -m fexlab.plugins.mesh_warp.magnitudes " + " ".join(argv if argv is not None else sys.argv[1:])
    path = magnitudes.save(args.out, notes=f"{command}; faces with a mesh: {counts}")
    print(f"wrote {path} from {len(labels)} training faces ({counts}); per emotion "
          + ", ".join(f"{e} {int(n)}" for e, n in zip(EMOTIONS, magnitudes.faces)))
    for k, emotion in enumerate(EMOTIONS):
        order = np.argsort(-np.abs(magnitudes.typical[k] - magnitudes.typical[EMOTIONS.index("neutral")]))[:4]
        print(f"  {emotion}: " + ", ".join(f"{ARKIT_NAMES[i]} {magnitudes.typical[k, i]:.2f} -> "
                                             f"{magnitudes.intense[k, i]:.2f} (ceiling {magnitudes.ceiling[k, i]:.2f})"
                                             for i in order))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
