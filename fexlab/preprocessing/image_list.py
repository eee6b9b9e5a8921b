"""Image-list tables: one row per face, a column with the image's path and one with its label.

Layouts this reads, all through :func:`read_image_list`:

- muxspace's ``legend.csv`` (``user.id,image,emotion``, the images under ``images/``);
- RAF-DB's ``list_patition_label.txt`` (space separated, no header: ``train_00001.jpg 5``, labels
  1-7 in RAF-DB's order; point ``image_root`` at ``../Image/aligned``, whose ``*_aligned.jpg``
  names are found from the listed ones);
- AffectNet-style CSVs (``subDirectory_filePath,...,expression``, numeric labels 0-10 of which
  0-6 are the emotions and 7 is contempt).

The separator (comma, tab or spaces) and whether the first line is a header are read from the
file. The user names the columns (``image_column``, ``label_column``, ``split_column``; a
column number for a table without header); without them the usual names are tried. Labels are
mapped once onto :data:`~fexlab.registry.emotions.EMOTIONS` (names in any spelling, or numbers in a
:data:`~fexlab.preprocessing.readers.LABEL_ORDERS` order); rows with unmappable labels (contempt) or
missing image files are dropped and counted in ``info["dropped"]``. The split comes from
``split_column``, else from the paths (a first folder ``train/``, ``val/``, ``test/`` or a
``train_`` / ``test_`` name prefix on every row), else seeded stratified fractions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.errors import InputError

from .images import load_image
from .readers import _SPLIT_NAMES, IMAGE_SUFFIXES, FaceDataset, _fill_splits, _label_table

__all__ = ["IMAGE_COLUMNS", "LABEL_COLUMNS", "pick_column", "read_image_list", "read_table", "splits_from_paths"]

#: Usual names of the image / label column, tried in order when the user names none.
IMAGE_COLUMNS = ("image", "img", "images", "face", "photo", "pixel_values", "path", "file", "filename",
                 "image_path", "subdirectory_filepath")
LABEL_COLUMNS = ("label", "labels", "emotion", "expression", "class", "emotion_label")
_ALIGNED = "_aligned"  # RAF-DB's aligned faces: train_00001.jpg is listed, train_00001_aligned.jpg is stored


def pick_column(columns: Sequence[str], wanted: str | int | None, usual: Sequence[str], what: str) -> str:
    """The column holding the ``what`` (image / label): ``wanted`` if given, else a usual name.

    Names match case-insensitively; a table without header has columns "0", "1", ...
    """
    by_lower = {str(c).lower(): str(c) for c in columns}
    if wanted is not None:
        key = str(wanted)
        if key in columns:
            return key
        if key.lower() in by_lower:
            return by_lower[key.lower()]
        raise InputError(f"the data set has no {what} column '{wanted}'; its columns: {list(columns)}")
    for name in usual:
        if name in by_lower:
            return by_lower[name]
    raise InputError(f"cannot tell which column holds the {what}s (columns: {list(columns)}); "
                     f"name it with {what}_column=...")


def read_table(path: Path, rows: int | None = None) -> Any:
    """The rows (all, or the first ``rows``) of a CSV / TSV / space-separated list as a pandas
    DataFrame of strings.

    A first line whose fields include an image file name is data, not a header: the columns are
    then numbered "0", "1", ...
    """
    import pandas as pd

    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path} cannot be read as a text table: {err}") from None
    sep = "," if "," in first else ("\t" if "\t" in first else r"\s+")
    fields = first.split(None if sep == r"\s+" else sep)
    header = None if any(Path(f.strip()).suffix.lower() in IMAGE_SUFFIXES for f in fields) else 0
    try:
        table = pd.read_csv(path, sep=sep, header=header, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            nrows=rows, engine="python" if sep == r"\s+" else "c")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path} cannot be read as a table: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


def splits_from_paths(names: Sequence[str]) -> np.ndarray | None:
    """Each row's split from its path, when every row names one, else None.

    A path's first folder (``train/angry/1.jpg``) or its file name's prefix before ``_``
    (RAF-DB's ``test_0001.jpg``) is read as a split name.
    """
    found = []
    for name in names:
        parts = Path(str(name)).parts
        folder = _SPLIT_NAMES.get(parts[0].lower()) if len(parts) > 1 else None
        prefix = _SPLIT_NAMES.get(Path(str(name)).name.split("_", 1)[0].lower()) if "_" in str(name) else None
        split = folder or prefix
        if split is None:
            return None
        found.append(split)
    return np.asarray(found, dtype=object) if found else None


def _locate(names: Sequence[str], roots: Sequence[Path]) -> tuple[list[Path | None], Path]:
    """The file of each listed name under the first root that holds most of the first rows."""
    def find(root: Path, name: str) -> Path | None:
        path = root / name
        if path.is_file():
            return path
        aligned = path.with_name(f"{path.stem}{_ALIGNED}{path.suffix}")
        return aligned if aligned.is_file() else None

    probe = list(names[:20])
    root = max(roots, key=lambda r: sum(find(r, n) is not None for n in probe))
    return [find(root, n) for n in names], root


def read_image_list(path: str | Path, *, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                    image_column: str | int | None = None, label_column: str | int | None = None,
                    split_column: str | int | None = None, image_root: str | None = None,
                    labels: str | Sequence[str] | None = None) -> FaceDataset:
    """A table listing image paths and labels (see the module docstring).

    Paths are relative to ``image_root`` (itself relative to the table's folder), else to the
    table's folder or its ``images/`` subfolder, whichever holds the listed files.
    """
    path = Path(path)
    table = read_table(path)
    numbered = table.columns[0] == "0"
    image_col = pick_column(table.columns, image_column if image_column is not None else ("0" if numbered else None),
                            IMAGE_COLUMNS, "image")
    label_col = pick_column(table.columns, label_column if label_column is not None else ("1" if numbered else None),
                            LABEL_COLUMNS, "label")
    names = table[image_col].str.strip().tolist()
    raw = table[label_col].str.strip()
    mapping, info = _label_table(raw.unique(), labels)
    roots = [path.parent / image_root] if image_root else [path.parent, path.parent / "images"]
    files, root = _locate(names, roots)
    dropped = Counter(f"label {value}" for value in raw if value not in mapping)
    dropped.update("missing image" for value, file in zip(raw, files) if value in mapping and file is None)
    keep = np.array([value in mapping and file is not None for value, file in zip(raw, files)], dtype=bool)
    if not keep.any():
        raise InputError(f"none of the {len(names)} images listed in {path} was found under {root}, or none has an "
                         "emotion label; set image_root=FOLDER (relative to the list) and label_column=NAME")
    kept_files = [f for f, k in zip(files, keep) if k]
    label_idx = np.array([mapping[v] for v, k in zip(raw, keep) if k], dtype=np.int64)
    if split_column is not None:
        column = pick_column(table.columns, split_column, (), "split")
        values = table[column].str.strip().str.lower()[keep]
        unknown = sorted(set(values) - set(_SPLIT_NAMES))
        if unknown:
            raise InputError(f"{path}: split column '{column}' has values {unknown[:5]}; use train / val / test")
        splits = values.map(_SPLIT_NAMES).to_numpy(dtype=object)
    else:
        splits = splits_from_paths([n for n, k in zip(names, keep) if k])
    if dropped:
        info["dropped"] = dict(sorted(dropped.items()))

    def load(indices: Sequence[int]) -> list[np.ndarray]:
        return [load_image(kept_files[i]) for i in indices]

    ids = [str(f.relative_to(root)) for f in kept_files]
    return FaceDataset(f"image list {path}", label_idx, _fill_splits(label_idx, splits, fractions, seed), ids, load,
                       info=info)
