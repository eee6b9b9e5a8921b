"""The blendshape cache: the Face Landmarker run once per face of a data set, kept in one ``.npz``.

Training the ``geometry`` classifier and fitting its fusion read every face's blendshapes, head
pose, mesh points and whether a mesh was found many times; the mesh takes about 18 ms a face, so
it runs once and its outputs are kept, keyed by each image's path relative to ``--root``::

    OMP_NUM_THREADS=1 python -m fexlab.plugins.geometry.cache --root ../shared/data --out /work/cache/geometry.npz \\
        --crops fer2013/train --crops fer2013/val --photos muxspace/images

``--crops`` folders hold face crops, read as they are (FER2013's 48 px faces); ``--photos``
folders hold photos, in which the detector's largest face is cropped first, with the ``geometry``
classifier's margin, as ``fexlab evaluate --detector`` crops it (a photo with no face is kept as
"no mesh"). The file is rewritten atomically every ``--flush`` faces, and a rerun skips the faces
it already holds, so a killed run resumes. Data never goes into the repository: keep the file
outside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .features import CROP_MARGIN, MeshFeatures, MeshReader

__all__ = ["BlendshapeCache", "build_cache", "image_files"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class BlendshapeCache:
    """Face features by image key; :meth:`load` reads a cache file, :meth:`save` writes one atomically."""

    def __init__(self, keys: Sequence[str] = (), features: MeshFeatures | None = None):
        self.keys = [str(k) for k in keys]
        self.features = features if features is not None else MeshFeatures.empty(0)
        if len(self.keys) != len(self.features):
            raise ValueError(f"{len(self.keys)} keys for {len(self.features)} faces")
        self._index = {key: i for i, key in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    @classmethod
    def load(cls, path: str | os.PathLike) -> BlendshapeCache:
        """The cache in ``path``; an empty one if the file does not exist yet."""
        path = Path(path)
        if not path.is_file():
            return cls()
        with np.load(path, allow_pickle=False) as data:
            fields = {name: data[name] for name in MeshFeatures.__dataclass_fields__}
            return cls(data["keys"].tolist(), MeshFeatures(**fields))

    def save(self, path: str | os.PathLike) -> None:
        """Write every face to ``path`` through a temporary file, so a kill never leaves half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        arrays = {name: getattr(self.features, name) for name in MeshFeatures.__dataclass_fields__}
        np.savez(tmp, keys=np.asarray(self.keys, dtype=str), **arrays)
        os.replace(tmp, path)

    def add(self, keys: Sequence[str], features: MeshFeatures) -> None:
        """Append faces (keys already held are replaced by nothing: the caller skips them)."""
        fresh = [i for i, key in enumerate(keys) if key not in self._index]
        for i in fresh:
            self._index[keys[i]] = len(self.keys)
            self.keys.append(keys[i])
        self.features = MeshFeatures.concatenate([self.features, features.take(fresh)])

    def lookup(self, keys: Sequence[str]) -> tuple[MeshFeatures, np.ndarray]:
        """The features of ``keys`` (rows of missing keys empty) and which keys the cache holds."""
        rows = np.array([self._index.get(str(key), -1) for key in keys], dtype=np.int64)
        held = rows >= 0
        out = MeshFeatures.empty(len(keys))
        if held.any():
            part = self.features.take(rows[held])
            for name in MeshFeatures.__dataclass_fields__:
                getattr(out, name)[held] = getattr(part, name)
        return out, held


def image_files(root: Path, folder: str) -> list[str]:
    """The image paths under ``root / folder`` (recursively), relative to ``root``, sorted."""
    base = root / folder
    if not base.is_dir():
        raise FileNotFoundError(f"{base} is not a folder")
    return sorted(p.relative_to(root).as_posix() for p in base.rglob("*")
                  if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())


def build_cache(out: str | os.PathLike, root: str | os.PathLike, jobs: Iterable[tuple[str, bool]], *,
                reader: MeshReader | None = None, detector: Any = None, margin: float = CROP_MARGIN,
                flush: int = 500, limit: int | None = None,
                log: Callable[[str], Any] = print) -> BlendshapeCache:
    """Add to the cache at ``out`` every image of ``jobs`` ((key, is_photo) pairs) it does not hold.

    A photo's largest face (``detector``) is cropped with ``margin`` before the mesh; a crop is
    read as it is. ``limit``: at most this many new faces in this call (to time a run)."""
    from fexlab.preprocessing.align import classifier_crop
    from fexlab.preprocessing.images import load_image

    root = Path(root)
    cache = BlendshapeCache.load(out)
    todo = [(key, photo) for key, photo in jobs if key not in cache]
    if limit is not None:
        todo = todo[:limit]
    log(f"{len(cache)} faces already cached; {len(todo)} to read")
    reader = reader or MeshReader()
    start, done = time.monotonic(), 0
    for first in range(0, len(todo), flush):
        batch = todo[first:first + flush]
        crops = []
        for key, photo in batch:
            image = load_image(root / key)
            if photo:
                faces = detector.detect(image) if detector is not None else []
                if not faces:
                    crops.append(None)
                    continue
                face = max(faces, key=lambda f: f.box[2] * f.box[3])
                image = classifier_crop(image, face, margin, False)
            crops.append(image)
        readable = [i for i, crop in enumerate(crops) if crop is not None]
        features = MeshFeatures.empty(len(batch))
        if readable:
            part = reader.read([crops[i] for i in readable])
            for name in MeshFeatures.__dataclass_fields__:
                getattr(features, name)[readable] = getattr(part, name)
        cache.add([key for key, _ in batch], features)
        cache.save(out)
        done += len(batch)
        rate = (time.monotonic() - start) / done
        log(f"{done}/{len(todo)} faces, {1000 * rate:.1f} ms a face, about {rate * (len(todo) - done) / 60:.1f} min "
            f"left; meshes found in {features.found.mean():.1%} of the last {len(batch)}")
    return cache


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.geometry.cache", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="the data folder the keys are relative to")
    parser.add_argument("--out", required=True, type=Path, help="the cache file (.npz), outside the repository")
    parser.add_argument("--crops", action="append", default=[], metavar="FOLDER", help="face crops under ROOT (repeat)")
    parser.add_argument("--photos", action="append", default=[], metavar="FOLDER",
                        help="photos under ROOT: the detector's largest face is cropped first (repeat)")
    parser.add_argument("--detector", default="yunet", help="detector for --photos (default yunet)")
    parser.add_argument("--margin", type=float, default=CROP_MARGIN,
                        help=f"crop margin for --photos (default {CROP_MARGIN}, the classifier's)")
    parser.add_argument("--flush", type=int, default=500, help="faces between two writes of the file")
    parser.add_argument("--limit", type=int, help="read at most this many new faces (to time a run)")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    jobs = [(key, False) for folder in args.crops for key in image_files(args.root, folder)]
    jobs += [(key, True) for folder in args.photos for key in image_files(args.root, folder)]
    detector = None
    if args.photos:
        from fexlab.registry import default_registry

        detector = default_registry().detector(args.detector)
        if hasattr(detector.config, "num_threads"):
            detector.config.num_threads = 1
    build_cache(args.out, args.root, jobs, detector=detector, margin=args.margin, flush=args.flush, limit=args.limit,
                log=lambda line: print(line, file=sys.stderr, flush=True))


if __name__ == "__main__":
    main()
