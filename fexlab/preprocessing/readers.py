"""Face data sets behind one interface: image, canonical label, source id and split.

``open_dataset(source)`` reads

- ``synthetic`` / ``synthetic:n=7000,size=64,seed=0,gray=0``: the FACS-style renderer
  (:mod:`fexlab.preprocessing.synthetic`), SYNTHETIC faces with identity-disjoint splits;
- a FER2013 ``.csv`` (``emotion,pixels,Usage``, or ``icml_face_data.csv``'s spaced header);
- FER+ votes (``ferplus_votes.csv``, or ``fer2013new.csv`` beside Kaggle's ``fer2013.csv``) as
  majority labels or, with ``votes=soft``, vote distributions; ``contempt=drop|EMOTION``
  (:mod:`fexlab.preprocessing.ferplus`);
- an image-list table (``legend.csv``, RAF-DB's ``list_patition_label.txt``, AffectNet-style
  CSVs) with ``image_column`` / ``label_column`` / ``split_column`` / ``image_root``
  (:mod:`fexlab.preprocessing.image_list`);
- a class-per-folder tree (``happy/*.jpg`` or ``train/happy/*.jpg``; RAF-DB's numeric folders 1-7,
  AffectNet's names or indices, "happiness" for "happy"), see :data:`LABEL_ORDERS`;
- a Hugging Face ``save_to_disk`` folder or ``hf:owner/name`` (the hub; fails cleanly offline),
  with ``image_column`` / ``label_column`` naming the columns.

Several sources joined by ``+`` (``ferplus_votes.csv+legend.csv``) are read as one, each face
keeping its own source's split (:mod:`fexlab.preprocessing.combined`); the options go to every source,
each reader taking those it knows.

Images are decoded only when a sample is read; ``labels()`` and ``class_counts()`` never decode.
Sources without splits get seeded stratified ones (``split_fractions``, ``seed``); a source with
train and test but no validation split has one carved out of train the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.emotions import AFFECTNET_LABELS, EMOTIONS, RAFDB_LABELS, canonical_emotion
from fexlab.registry.errors import InputError

from .images import load_image

__all__ = [
    "IMAGE_SUFFIXES",
    "LABEL_ORDERS",
    "SPLITS",
    "ArrayDataset",
    "FaceDataset",
    "Sample",
    "open_dataset",
    "parse_fractions",
    "stratified_splits",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"})
#: Numeric class labels: order name -> (label names, number of the first label).
LABEL_ORDERS: dict[str, tuple[tuple[str, ...], int]] = {
    "fer2013": (EMOTIONS, 0),
    "rafdb": (RAFDB_LABELS, 1),
    "affectnet": (AFFECTNET_LABELS, 0),
}
_SPLIT_NAMES = {
    "train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test", "publictest": "val", "privatetest": "test",
}
_OPTIONS = {"image_column", "label_column", "labels", "split_fractions", "seed", "votes", "contempt", "image_root",
            "split_column"}
_TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
SOURCE_SEPARATOR = "+"  # "A+B": the faces of both, each keeping its own splits (preprocessing.combined)
_CHUNK = 256  # faces decoded per batch when iterating


@dataclass(frozen=True)
class Sample:
    """One face: HxWx3 RGB uint8 ``image``, ``label`` indexing :data:`EMOTIONS`, where it came from."""

    image: np.ndarray
    label: int
    source_id: str
    split: str

    @property
    def emotion(self) -> str:
        return EMOTIONS[self.label]


class FaceDataset(Sequence[Sample]):
    """A labelled face data set; images are decoded by ``load`` (a batch of row numbers -> images).

    ``name`` describes the data and says plainly when it is synthetic; ``info`` carries what a
    reader dropped or assumed (unmappable labels, the label order of numeric folders).
    ``targets``, when a reader has them (FER+ votes), is an (N, 7) float distribution over
    :data:`EMOTIONS` per face; ``labels`` is then its most likely emotion. ``agreement``, when a
    reader has it (FER+ votes), is the share of each face's annotators who chose its most voted
    emotion (8 of 10: 0.8); the evaluation reports the faces most annotators agree on apart.
    """

    def __init__(self, name: str, labels: Sequence[int], splits: Sequence[str], source_ids: Sequence[str],
                 load: Callable[[Sequence[int]], list[np.ndarray]], *, synthetic: bool = False,
                 info: dict[str, Any] | None = None, rows: np.ndarray | None = None,
                 targets: np.ndarray | None = None, agreement: np.ndarray | None = None):
        self.name = name
        self.synthetic = bool(synthetic)
        self.info: dict[str, Any] = dict(info or {})
        self._labels = np.asarray(labels, dtype=np.int64)
        self._splits = np.asarray(splits, dtype=str)
        self._source_ids = np.asarray(source_ids, dtype=str)
        self._targets = None if targets is None else np.asarray(targets, dtype=np.float32)
        self._agreement = None if agreement is None else np.asarray(agreement, dtype=np.float32)
        if self._agreement is not None and self._agreement.shape != self._labels.shape:
            raise ValueError(f"agreement must have one entry per face, got {self._agreement.shape}")
        if not len(self._labels) == len(self._splits) == len(self._source_ids):
            raise ValueError("labels, splits and source_ids must have one entry per face")
        if self._targets is not None and self._targets.shape != (len(self._labels), len(EMOTIONS)):
            raise ValueError(f"targets must be an (N, {len(EMOTIONS)}) array, got {self._targets.shape}")
        self._load = load
        self._rows = np.arange(len(self._labels)) if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.subset(np.arange(len(self))[index])
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} faces")
        index %= len(self)
        return self._sample(index, self._load([int(self._rows[index])])[0])

    def __iter__(self) -> Iterator[Sample]:
        for start in range(0, len(self), _CHUNK):
            stop = min(start + _CHUNK, len(self))
            for offset, image in enumerate(self.images(range(start, stop))):
                yield self._sample(start + offset, image)

    def _sample(self, index: int, image: np.ndarray) -> Sample:
        return Sample(image, int(self._labels[index]), str(self._source_ids[index]), str(self._splits[index]))

    def images(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The RGB uint8 images at ``indices``, decoded in one batch."""
        return self._load([int(r) for r in self._rows[np.asarray(list(indices), dtype=np.int64)]])

    def labels(self) -> np.ndarray:
        """Emotion index of every face (no image is decoded)."""
        return self._labels.copy()

    def soft_targets(self) -> np.ndarray | None:
        """(N, 7) float distribution over :data:`EMOTIONS` per face, or None for hard labels only."""
        return None if self._targets is None else self._targets.copy()

    def label_agreement(self) -> np.ndarray | None:
        """(N,) share of each face's annotators who chose its most voted emotion, or None."""
        return None if self._agreement is None else self._agreement.copy()

    def split_names(self) -> np.ndarray:
        """The split ("train", "val", "test") of every face."""
        return self._splits.copy()

    def source_ids(self) -> np.ndarray:
        """Where every face came from: a file path, a CSV row, a synthetic identity."""
        return self._source_ids.copy()

    def class_counts(self) -> dict[str, int]:
        """Faces per emotion, all seven emotions in :data:`EMOTIONS` order."""
        counts = np.bincount(self._labels, minlength=len(EMOTIONS))
        return {emotion: int(c) for emotion, c in zip(EMOTIONS, counts)}

    def subset(self, indices: Sequence[int] | np.ndarray) -> FaceDataset:
        """The faces at ``indices`` (positions in this data set), sharing the same loader."""
        indices = np.asarray(indices, dtype=np.int64)
        return FaceDataset(self.name, self._labels[indices], self._splits[indices], self._source_ids[indices],
                           self._load, synthetic=self.synthetic, info=self.info, rows=self._rows[indices],
                           targets=None if self._targets is None else self._targets[indices],
                           agreement=None if self._agreement is None else self._agreement[indices])

    def split(self, name: str) -> FaceDataset:
        """The faces of split ``name`` ("train", "val" or "test")."""
        key = _SPLIT_NAMES.get(str(name).lower())
        if key is None:
            raise InputError(f"unknown split '{name}'; choose from {', '.join(SPLITS)}")
        part = self.subset(np.flatnonzero(self._splits == key))
        part.name = f"{self.name} [{key}]"
        return part

    def materialize(self) -> ArrayDataset:
        """All faces decoded into memory (for training loops that read every face each epoch)."""
        images = [image for start in range(0, len(self), _CHUNK)
                  for image in self.images(range(start, min(start + _CHUNK, len(self))))]
        return ArrayDataset(images, self._labels, self._splits, self._source_ids, name=self.name,
                            synthetic=self.synthetic, info=self.info, targets=self._targets, agreement=self._agreement)

    def __repr__(self) -> str:
        counts = {s: int((self._splits == s).sum()) for s in SPLITS}
        return f"{type(self).__name__}({self.name!r}, faces={len(self)}, splits={counts})"


class ArrayDataset(FaceDataset):
    """Faces already in memory: an (N, H, W, 3) array or a list of RGB uint8 arrays."""

    def __init__(self, images: np.ndarray | Sequence[np.ndarray], labels: Sequence[int],
                 splits: Sequence[str] | None = None, source_ids: Sequence[str] | None = None, *,
                 name: str = "in-memory faces", synthetic: bool = False, info: dict[str, Any] | None = None,
                 targets: np.ndarray | None = None, agreement: np.ndarray | None = None):
        self._images = images if isinstance(images, np.ndarray) else list(images)
        count = len(self._images)
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (count,):
            raise InputError(f"got {count} images but {labels.size} labels")
        if count and (labels.min() < 0 or labels.max() >= len(EMOTIONS)):
            raise InputError(f"labels must be emotion indices 0-{len(EMOTIONS) - 1}, got {sorted(set(labels.tolist()))}")
        super().__init__(name, labels, ["train"] * count if splits is None else splits,
                         [f"array/{i}" for i in range(count)] if source_ids is None else source_ids,
                         lambda rows: [self._images[r] for r in rows], synthetic=synthetic, info=info,
                         targets=targets, agreement=agreement)

    def stacked(self) -> np.ndarray:
        """All images as one (N, H, W, 3) array (they must share one size)."""
        shapes = {image.shape for image in self._images}
        if len(shapes) > 1:
            raise InputError(f"images have different sizes {sorted(shapes)[:3]}...; resize them first")
        return np.asarray(self._images)[self._rows]


# -- splits ------------------------------------------------------------------------------------------
def parse_fractions(fractions: str | Sequence[float]) -> tuple[float, float, float]:
    """"0.8,0.1,0.1" or three numbers -> train / val / test fractions summing to 1."""
    if isinstance(fractions, str):
        fractions = fractions.split(",")
    try:
        values = tuple(float(f) for f in fractions)
    except ValueError:
        raise InputError(f"split fractions must be numbers like 0.8,0.1,0.1, got {fractions!r}") from None
    if len(values) != 3 or min(values) < 0 or values[0] <= 0:
        raise InputError(f"give three split fractions train,val,test (train > 0, none negative), got {fractions!r}")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def stratified_splits(labels: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """A seeded split name per face, cut class by class so that every split keeps the class balance.

    Per class, the faces are shuffled and cut at the fractions; a class of three faces or more puts
    at least one in every split of non-zero fraction (scikit-learn's splitters refuse such classes).
    """
    fractions = parse_fractions(fractions)
    labels = np.asarray(labels)
    out = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng([seed, 6])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        size = len(members)
        n_val, n_test = (int(round(size * f)) for f in fractions[1:])
        if size >= 3:
            n_val, n_test = max(n_val, fractions[1] > 0), max(n_test, fractions[2] > 0)
        n_test = min(n_test, size - 1)
        n_val = min(n_val, size - 1 - n_test)
        out[members] = "train"
        out[members[size - n_test - n_val : size - n_test]] = "val"
        out[members[size - n_test :]] = "test"
    return out.astype(str)


def _fill_splits(labels: np.ndarray, splits: np.ndarray | None, fractions, seed: int) -> np.ndarray:
    """Splits for a source: stratified when it has none; val / test carved from train when missing."""
    if splits is None:
        return stratified_splits(labels, fractions, seed)
    splits = np.asarray(splits, dtype=object)
    train = np.flatnonzero(splits == "train")
    present = set(splits.tolist())
    if train.size and not {"val", "test"} <= present:
        f = dict(zip(SPLITS, parse_fractions(fractions)))
        wanted = [f["train"], 0.0 if "val" in present else f["val"], 0.0 if "test" in present else f["test"]]
        splits[train] = stratified_splits(labels[train], wanted, seed)
    return splits.astype(str)


# -- label mappings ----------------------------------------------------------------------------------
def _label_table(names: Sequence[str], order: str | Sequence[str] | None) -> tuple[dict[str, int], dict[str, Any]]:
    """Source label (folder name, CSV value, hub label) -> emotion index, plus what was assumed/dropped.

    Numeric labels follow ``order`` (a :data:`LABEL_ORDERS` name or a list of label names by index);
    without it, numbers 1-7 are read as RAF-DB's folders, 0-7 as AffectNet's and 0-6 as FER2013's.
    """
    names = sorted({str(n) for n in names})
    info: dict[str, Any] = {}
    numeric = bool(names) and all(n.lstrip("-").isdigit() for n in names)
    if numeric:
        numbers = {int(n) for n in names}
        if order is None:
            order = "rafdb" if 0 not in numbers and max(numbers) <= 7 else ("affectnet" if 7 in numbers else "fer2013")
        if isinstance(order, str):
            if order not in LABEL_ORDERS:
                raise InputError(f"unknown label order '{order}'; choose from {', '.join(LABEL_ORDERS)} or give a list")
            ordered, first = LABEL_ORDERS[order]
            info["label_order"] = order
        else:
            ordered, first = tuple(order), 0
            info["label_order"] = list(ordered)
        lookup = {str(first + i): label for i, label in enumerate(ordered)}
        mapped = {n: canonical_emotion(lookup[n]) if n in lookup else None for n in names}
    else:
        mapped = {n: canonical_emotion(n) for n in names}
    dropped = sorted(n for n, e in mapped.items() if e is None)
    if len(dropped) == len(names):
        raise InputError(f"none of the labels {names[:10]} is one of the emotions {', '.join(EMOTIONS)}; "
                         "name the classes by emotion or pass labels=rafdb|affectnet|fer2013")
    if dropped:
        info["dropped_labels"] = dropped
    return {n: EMOTIONS.index(e) for n, e in mapped.items() if e is not None}, info


# -- readers -----------------------------------------------------------------------------------------
def open_dataset(source: str | Path, **options: Any) -> FaceDataset:
    """Open a face data set by its ``source`` string (see the module docstring)."""
    text = str(source).strip()
    if SOURCE_SEPARATOR in text and not Path(text).expanduser().exists():
        from .combined import combine_datasets

        return combine_datasets([open_dataset(part.strip(), **options) for part in text.split(SOURCE_SEPARATOR)])
    if text == "synthetic" or text.startswith("synthetic:"):
        from .synthetic import synthetic_dataset

        return synthetic_dataset(**{**options, **_parse_inline(text.partition(":")[2])})  # the source string wins
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise InputError(f"unknown data set option(s) {unknown}; known: {sorted(_OPTIONS)}")
    fractions = options.get("split_fractions", (0.8, 0.1, 0.1))
    seed = int(options.get("seed", 0))
    if text.startswith("hf:"):
        from .hf_reader import load_hub_dataset

        return load_hub_dataset(text[3:], fractions=fractions, seed=seed, **_columns(options))
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(f"data set '{text}' not found: give synthetic[:n=...], a FER2013 .csv, a class-per-folder "
                         "tree, a Hugging Face save_to_disk folder or hf:owner/name")
    if path.is_file():
        return _read_table_file(path, fractions, seed, options)
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        from .hf_reader import load_saved_dataset

        return load_saved_dataset(path, fractions=fractions, seed=seed, **_columns(options))
    return read_folder(path, fractions=fractions, seed=seed, labels=options.get("labels"))


def _read_table_file(path: Path, fractions: Any, seed: int, options: dict[str, Any]) -> FaceDataset:
    """A table file, by its header: FER+ votes, a FER2013 CSV (``pixels``) or an image list."""
    from .ferplus import is_ferplus_table, read_ferplus
    from .image_list import read_image_list, read_table

    if path.suffix.lower() not in _TABLE_SUFFIXES:
        raise InputError(f"{path} is a file but not a table ({', '.join(sorted(_TABLE_SUFFIXES))}); "
                         "give a FER2013 / FER+ / image-list table or a folder")
    columns = [c.lower() for c in read_table(path, rows=0).columns]
    if is_ferplus_table(columns):
        return read_ferplus(path, votes=options.get("votes", "majority"), contempt=options.get("contempt", "drop"),
                            fractions=fractions, seed=seed)
    if "pixels" in columns:
        return read_fer2013(path, fractions=fractions, seed=seed, labels=options.get("labels"))
    return read_image_list(path, fractions=fractions, seed=seed, image_root=options.get("image_root"),
                           split_column=options.get("split_column"), **_columns(options))


def _columns(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.get(k) for k in ("image_column", "label_column", "labels")}


def _parse_inline(text: str) -> dict[str, Any]:
    """``"n=100,size=64,gray=1"`` -> keyword arguments of the synthetic set."""
    from .synthetic import SyntheticSpec

    types = {name: type(value) for name, value in vars(SyntheticSpec()).items() if name != "split_fractions"}
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            raise InputError(f"bad synthetic option '{item}'; write synthetic:n=7000,size=64,seed=0,gray=0 "
                             f"(options: {', '.join(types)})")
        try:
            options[key] = value.strip().lower() in ("1", "true", "yes") if types[key] is bool else types[key](value)
        except ValueError:
            raise InputError(f"synthetic option {key} must be a {types[key].__name__}, got '{value}'") from None
    return options


def read_fer2013(path: str | Path, *, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                 labels: str | Sequence[str] | None = None) -> FaceDataset:
    """FER2013 CSV: ``emotion`` (0-6 in FER2013 order, or names), ``pixels`` (48x48 gray), ``Usage``."""
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path} cannot be read as CSV: {err}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("emotion", "pixels") if c not in table.columns]
    if missing:
        raise InputError(f"{path} has no {' or '.join(missing)} column (columns: {list(table.columns)}); "
                         "a FER2013 CSV has emotion,pixels[,Usage]")
    raw = table["emotion"].str.strip()
    mapping, info = _label_table(raw.unique(), labels or ("fer2013" if raw.str.isdigit().all() else None))
    keep = raw.map(lambda v: v in mapping).to_numpy()
    pixels = table["pixels"].to_numpy()[keep]
    usage = table["usage"].str.strip().str.lower().map(_SPLIT_NAMES) if "usage" in table.columns else None
    splits = None if usage is None or usage.isna().all() else usage.fillna("train").to_numpy()[keep]
    label_idx = np.array([mapping[v] for v in raw[keep]], dtype=np.int64)
    rows = np.flatnonzero(keep)

    def load(indices: Sequence[int]) -> list[np.ndarray]:
        return [_fer_pixels(pixels[i], f"{path} row {rows[i] + 2}") for i in indices]

    return FaceDataset(f"FER2013 CSV {path.name}", label_idx, _fill_splits(label_idx, splits, fractions, seed),
                       [f"{path.name}:{r + 2}" for r in rows], load, info=info)


def _fer_pixels(text: str, where: str) -> np.ndarray:
    values = np.array(text.split(), dtype=np.float32) if text.strip() else np.zeros(0)
    side = int(round(len(values) ** 0.5))
    if side == 0 or side * side != len(values) or values.min() < 0 or values.max() > 255:
        raise InputError(f"{where}: pixels must be a square number of values 0-255, got {len(values)} values")
    gray = values.reshape(side, side).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def read_folder(root: str | Path, *, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                labels: str | Sequence[str] | None = None) -> FaceDataset:
    """A class-per-folder tree: ``CLASS/*.jpg`` or ``SPLIT/CLASS/*.jpg`` (images found recursively)."""
    root = Path(root)
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if folders and all(d.name.lower() in _SPLIT_NAMES for d in folders):
        groups = [(_SPLIT_NAMES[d.name.lower()], c) for d in folders
                  for c in sorted(x for x in d.iterdir() if x.is_dir() and not x.name.startswith("."))]
        has_splits = True
    else:
        groups, has_splits = [(None, d) for d in folders], False
    mapping, info = _label_table([c.name for _, c in groups], labels) if groups else ({}, {})
    files, label_idx, splits = [], [], []
    for split, folder in groups:
        if folder.name not in mapping:
            continue
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        files += found
        label_idx += [mapping[folder.name]] * len(found)
        splits += [split] * len(found)
    if not files:
        raise InputError(f"no images in class folders under {root}; expected CLASS/*.jpg or train/CLASS/*.jpg "
                         f"with CLASS an emotion name ({', '.join(EMOTIONS)}) or number")
    label_arr = np.asarray(label_idx, dtype=np.int64)
    split_arr = _fill_splits(label_arr, np.asarray(splits, dtype=object) if has_splits else None, fractions, seed)
    order = f", numeric folders read in {info['label_order']} order" if "label_order" in info else ""

    def load(indices: Sequence[int]) -> list[np.ndarray]:
        return [load_image(files[i]) for i in indices]

    return FaceDataset(f"class folders {root}{order}", label_arr, split_arr,
                       [str(f.relative_to(root)) for f in files], load, info=info)
