"""Several face data sets as one: ``open_dataset("A+B")`` trains on the faces of A and of B together.

Each face keeps the split its own source gave it (FER2013's PublicTest stays validation, a
legend.csv's seeded split stays as it was), so the combined train split is the union of the
sources' train splits, and so on. The name lists every source; ``info["sources"]`` holds each
one's name, size and reader report. Where some sources have soft targets (FER+ vote
distributions) and others only labels, a label is its one-hot distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

from .readers import FaceDataset

__all__ = ["combine_datasets"]


def combine_datasets(datasets: Sequence[FaceDataset]) -> FaceDataset:
    """One :class:`FaceDataset` holding the faces of ``datasets`` in order, each with its own split.

    Source ids are prefixed with the source's number (``2/face_1.jpg``), so they stay unique.
    """
    datasets = list(datasets)
    if len(datasets) < 2:
        raise InputError(f"combine at least two data sets, got {len(datasets)}")
    sizes = [len(d) for d in datasets]
    offsets = np.cumsum([0, *sizes])
    labels = np.concatenate([d.labels() for d in datasets])
    splits = np.concatenate([d.split_names() for d in datasets])
    ids = [f"{k + 1}/{source_id}" for k, d in enumerate(datasets) for source_id in d.source_ids()]
    targets = None
    if any(d.soft_targets() is not None for d in datasets):
        targets = np.concatenate([d.soft_targets() if d.soft_targets() is not None
                                  else np.eye(len(EMOTIONS), dtype=np.float32)[d.labels()] for d in datasets])
    owner = np.repeat(np.arange(len(datasets)), sizes)

    def load(rows: Sequence[int]) -> list[np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        out: list[np.ndarray | None] = [None] * len(rows)
        for k in np.unique(owner[rows]):
            mine = np.flatnonzero(owner[rows] == k)
            for position, image in zip(mine, datasets[k].images(rows[mine] - offsets[k])):
                out[position] = image
        return out

    info = {"sources": [{"name": d.name, "faces": len(d), **d.info} for d in datasets]}
    return FaceDataset(" + ".join(d.name for d in datasets), labels, splits, ids, load,
                       synthetic=any(d.synthetic for d in datasets), info=info, targets=targets)
