"""Hugging Face datasets as :class:`~fexlab.preprocessing.readers.FaceDataset`: a ``save_to_disk`` folder or
a hub id. ``datasets`` is imported only here, when such a source is opened.

The image and label columns are the user's to name (``image_column``, ``label_column``); without
them the usual names are tried. Labels may be a ``ClassLabel`` (its names are mapped onto the
emotions), strings, or integers in a :data:`~fexlab.preprocessing.readers.LABEL_ORDERS` order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.errors import InputError

from .image_list import IMAGE_COLUMNS, LABEL_COLUMNS, pick_column
from .images import load_image
from .readers import _SPLIT_NAMES, FaceDataset, _fill_splits, _label_table

__all__ = ["load_hub_dataset", "load_saved_dataset"]


def load_saved_dataset(path: str | Path, **options: Any) -> FaceDataset:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    from datasets import load_from_disk

    try:
        data = load_from_disk(str(path))
    except (OSError, ValueError, FileNotFoundError) as err:
        raise InputError(f"{path} is not a readable Hugging Face save_to_disk folder: {err}") from None
    return _from_datasets(data, f"Hugging Face dataset {Path(path).name} (save_to_disk)", **options)


def load_hub_dataset(repo_id: str, **options: Any) -> FaceDataset:
    """``owner/name`` on the Hugging Face hub; offline, an error that says how to use it from disk."""
    from datasets import load_dataset

    repo_id = repo_id.strip()
    if not repo_id or repo_id.count("/") != 1:
        raise InputError(f"give a hub data set as hf:owner/name, got 'hf:{repo_id}'")
    try:
        data = load_dataset(repo_id)
    except Exception as err:  # noqa: BLE001 - offline, missing repo, gated repo: all mean "cannot load it here"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"cannot load the Hugging Face dataset '{repo_id}' ({reason[:200]}); where there is network run "
            f"datasets.load_dataset('{repo_id}').save_to_disk(DIR) and pass DIR instead"
        ) from None
    return _from_datasets(data, f"Hugging Face dataset {repo_id}", **options)


def _from_datasets(data: Any, name: str, *, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                   image_column: str | None = None, label_column: str | None = None,
                   labels: str | Sequence[str] | None = None) -> FaceDataset:
    from datasets import ClassLabel, DatasetDict

    if isinstance(data, DatasetDict):
        known = {key: _SPLIT_NAMES.get(key.lower()) for key in data}
        parts = [(split, data[key]) for key, split in known.items() if split] or [(None, data[k]) for k in data]
    else:
        parts = [(None, data)]
    columns = parts[0][1].column_names
    image_column = pick_column(columns, image_column, IMAGE_COLUMNS, "image")
    label_column = pick_column(columns, label_column, LABEL_COLUMNS, "label")
    feature = parts[0][1].features[label_column]
    raw_parts = [list(part[label_column]) for _, part in parts]
    if isinstance(feature, ClassLabel):
        raw_parts = [[feature.names[v] for v in values] for values in raw_parts]
    raw = [str(v) for values in raw_parts for v in values]
    mapping, info = _label_table(set(raw), labels)
    keep = np.array([v in mapping for v in raw], dtype=bool)
    where = [(p, r) for p, (_, part) in enumerate(parts) for r in range(len(part))]
    where = [w for w, k in zip(where, keep) if k]
    label_idx = np.array([mapping[v] for v, k in zip(raw, keep) if k], dtype=np.int64)
    has_splits = all(split is not None for split, _ in parts)
    splits = np.array([parts[p][0] for p, _ in where], dtype=object) if has_splits else None

    def load(indices: Sequence[int]) -> list[np.ndarray]:
        out: dict[int, np.ndarray] = {}
        by_part: dict[int, list[int]] = {}
        for i in indices:
            by_part.setdefault(where[i][0], []).append(i)
        for p, members in by_part.items():
            values = parts[p][1][[where[i][1] for i in members]][image_column]
            for i, value in zip(members, values):
                out[i] = _to_image(value, f"{name} row {where[i][1]}")
        return [out[i] for i in indices]

    ids = [f"{parts[p][0] or 'data'}/{r}" for p, r in where]
    return FaceDataset(name, label_idx, _fill_splits(label_idx, splits, fractions, seed), ids, load, info=info)


def _to_image(value: Any, where: str) -> np.ndarray:
    """A decoded datasets image cell (PIL image, array, {"bytes", "path"} or a path) -> RGB uint8."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, list):
        value = np.asarray(value)
    if value is None:
        raise InputError(f"{where} has no image")
    return load_image(value, name=where)
