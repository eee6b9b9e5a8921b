"""FER+ crowd votes (Barsoum et al. 2016): ten annotators per FER2013 face, as hard or soft labels.

Two layouts:

- a votes table with an image path per face, ``image,neutral,happiness,surprise,sadness,anger,
  disgust,fear,contempt,unknown,NF``, the paths relative to the table's folder
  (``train/angry/Training_1.jpg``); the split is the path's first folder (train / val / test);
- the layout users download: Microsoft's ``fer2013new.csv`` (``Usage,Image name,<the ten vote
  columns>``) beside Kaggle's ``fer2013.csv``, rows in the same order; ``Usage`` gives the split,
  the pixels come from ``fer2013.csv``, rows with no image name have no FER+ votes.

``votes="majority"`` follows FER+'s own code (``src/ferplus.py``): every emotion that got a single
vote is dropped as an outlier, then the label is the emotion with more than half of the remaining
votes. ``votes="soft"`` gives each face its remaining votes over the seven emotions as a
distribution (:meth:`FaceDataset.soft_targets`), its label being the most voted emotion. Either
way, faces where "unknown" or "NF" (not a face) has the majority are dropped, and so are, with
majority labels, faces with no majority. ``contempt`` says what contempt votes become: ``"drop"``
(the default: faces where contempt has the majority are dropped, other contempt votes ignored)
or an emotion they count for (``"disgust"``), added after the outlier removal. What was dropped is
counted by reason in ``info["dropped"]``. Each kept face's ``agreement`` is the share of its ten
votes (all columns, before the outlier removal) that its most voted emotion got: faces with 0.8 or
more are the ones annotators read alike, the nearest FER2013 has to posed expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fexlab.registry.emotions import EMOTIONS, canonical_emotion
from fexlab.registry.errors import InputError

from .image_list import read_table, splits_from_paths
from .images import load_image
from .readers import _SPLIT_NAMES, FaceDataset, _fer_pixels, _fill_splits

__all__ = ["VOTE_COLUMNS", "VOTE_MODES", "ferplus_labels", "is_ferplus_table", "read_ferplus"]

#: FER+'s vote columns in its own order.
VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
VOTE_MODES = ("majority", "soft")
_EMOTION_COLUMNS = tuple(EMOTIONS.index(canonical_emotion(c)) for c in VOTE_COLUMNS[:7])  # column -> emotion index
_CONTEMPT, _UNKNOWN, _NOT_A_FACE = 7, 8, 9
_KAGGLE_PIXELS = "fer2013.csv"


def is_ferplus_table(columns: Sequence[str]) -> bool:
    """Whether a table's header has all ten FER+ vote columns."""
    return {c.lower() for c in VOTE_COLUMNS} <= {str(c).strip().lower() for c in columns}


def ferplus_labels(votes: np.ndarray, *, mode: str = "majority", contempt: str = "drop",
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, int]]:
    """(N, 10) vote counts in :data:`VOTE_COLUMNS` order -> which faces to keep, their labels, their
    soft targets (``mode="soft"``, else None) and the number of faces dropped per reason."""
    if mode not in VOTE_MODES:
        raise InputError(f"unknown FER+ votes mode '{mode}'; choose from {', '.join(VOTE_MODES)}")
    into = None if contempt == "drop" else canonical_emotion(contempt)
    if contempt != "drop" and into is None:
        raise InputError(f"contempt={contempt!r}: give drop or one of the emotions {', '.join(EMOTIONS)}")
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_COLUMNS):
        raise InputError(f"FER+ votes must have the {len(VOTE_COLUMNS)} columns {', '.join(VOTE_COLUMNS)}")
    votes = np.where(votes <= 1, 0.0, votes)  # FER+'s outlier removal: a single vote does not count
    if into is not None:
        votes[:, _EMOTION_COLUMNS.index(EMOTIONS.index(into))] += votes[:, _CONTEMPT]
        votes[:, _CONTEMPT] = 0.0
    total, peak = votes.sum(axis=1), votes.max(axis=1)
    winner = np.where(peak > 0.5 * total, votes.argmax(axis=1), -1)
    emotions = np.zeros((len(votes), len(EMOTIONS)))
    emotions[:, list(_EMOTION_COLUMNS)] = votes[:, :7]
    reasons = {"unknown wins": winner == _UNKNOWN, "not a face wins": winner == _NOT_A_FACE,
               "contempt wins": winner == _CONTEMPT}
    if mode == "majority":
        reasons["no majority"] = winner < 0
    else:
        reasons["no emotion votes"] = emotions.sum(axis=1) == 0
    keep, dropped = np.ones(len(votes), dtype=bool), {}
    for reason, mask in reasons.items():  # each face is counted under the first reason that drops it
        if (mask & keep).any():
            dropped[reason] = int((mask & keep).sum())
        keep &= ~mask
    if mode == "majority":
        return keep, np.asarray(_EMOTION_COLUMNS)[winner[keep]], None, dropped
    targets = emotions[keep] / emotions[keep].sum(axis=1, keepdims=True)
    return keep, targets.argmax(axis=1), targets.astype(np.float32), dropped


def read_ferplus(path: str | Path, *, votes: str = "majority", contempt: str = "drop", fractions=(0.8, 0.1, 0.1),
                 seed: int = 0) -> FaceDataset:
    """A FER+ votes table in either layout (see the module docstring)."""
    path = Path(path)
    table = read_table(path)
    by_lower = {c.lower(): c for c in table.columns}
    try:
        counts = table[[by_lower[c.lower()] for c in VOTE_COLUMNS]].astype(float).to_numpy()
    except ValueError as err:
        raise InputError(f"{path}: the FER+ vote columns must hold numbers ({err})") from None
    if "image" in by_lower:
        names = table[by_lower["image"]].str.strip().to_numpy()
        files = [path.parent / name for name in names]
        missing = np.array([not f.is_file() for f in files], dtype=bool)
    elif "image name" in by_lower and "usage" in by_lower:
        names = table[by_lower["image name"]].str.strip().to_numpy()
        missing = names == ""
        files = []
    else:
        raise InputError(f"{path} has FER+ vote columns but neither an image column nor Usage and Image name")
    present = np.flatnonzero(~missing)
    keep, labels, targets, dropped = ferplus_labels(counts[present], mode=votes, contempt=contempt)
    rows = present[keep]
    if missing.any():
        dropped = {"no image file" if files else "no FER+ votes": int(missing.sum()), **dropped}
    if not len(rows):
        raise InputError(f"no face of {path} has a FER+ label (dropped: {dropped})")
    info = {"votes": votes, "contempt": contempt, "dropped": dropped}
    kind = "majority labels" if votes == "majority" else "vote distributions"
    name = f"FER+ {kind} {path} (contempt {'dropped' if contempt == 'drop' else 'counted as ' + contempt})"
    if files:
        kept_files = [files[r] for r in rows]
        splits = splits_from_paths(names[rows].tolist())

        def load(indices: Sequence[int]) -> list[np.ndarray]:
            return [load_image(kept_files[i]) for i in indices]

        ids = names[rows].tolist()
    else:
        pixels, splits = _kaggle_pixels(path, len(table)), None
        usage = table[by_lower["usage"]].str.strip().str.lower().map(_SPLIT_NAMES)
        if not usage.isna().all():
            splits = usage.fillna("train").to_numpy(dtype=object)[rows]

        def load(indices: Sequence[int]) -> list[np.ndarray]:
            return [_fer_pixels(pixels[rows[i]], f"{path.parent / _KAGGLE_PIXELS} row {rows[i] + 2}") for i in indices]

        ids = [f"{_KAGGLE_PIXELS}:{r + 2}" for r in rows]
    raw = counts[rows]
    agreement = raw[:, :7].max(axis=1) / np.maximum(raw.sum(axis=1), 1.0)
    return FaceDataset(name, labels, _fill_splits(labels, splits, fractions, seed), ids, load, info=info,
                       targets=targets, agreement=agreement)


def _kaggle_pixels(path: Path, rows: int) -> np.ndarray:
    """The ``pixels`` column of the Kaggle ``fer2013.csv`` beside ``fer2013new.csv``."""
    import pandas as pd

    source = path.parent / _KAGGLE_PIXELS
    if not source.is_file():
        raise InputError(f"{path} holds FER+ votes by row of Kaggle's {_KAGGLE_PIXELS}; put that file beside it "
                         f"({source} is missing)")
    table = pd.read_csv(source, dtype=str, keep_default_na=False)
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "pixels" not in table.columns or len(table) != rows:
        raise InputError(f"{source} must be Kaggle's FER2013 CSV with a pixels column and the same {rows} rows as "
                         f"{path.name}; it has {len(table)} rows and columns {list(table.columns)}")
    return table["pixels"].to_numpy()
