"""Data for the classifier trainer: splits of a face data set as the plugin's input tensors.

Faces are read once per split (``FaceDataset.materialize``) and turned into tensors by the
plugin's own transforms, the same code inference uses, so a trained checkpoint sees at
prediction time exactly what it saw in training. Training faces are augmented on the fly with
a per-sample seed made of the epoch and the index: an epoch's augmentation never depends on what
ran before it or on the number of DataLoader workers, which keeps resumed runs identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fexlab.registry import EMOTIONS, InputError

__all__ = ["FaceTensors", "Splits", "class_weights", "load_splits", "make_augment", "sample_weights"]

#: (face, per-sample seed) -> augmented face, e.g. an ``Augmenter``.
Augment = Callable[..., np.ndarray]


class FaceTensors(torch.utils.data.Dataset):
    """(input tensor, canonical emotion index) pairs; faces augmented first when ``augment`` is set.

    With ``extras`` (name -> one row per face, e.g. "soft" targets or "teacher" probabilities)
    each item is (input, label, {name: float tensor}).
    """

    def __init__(self, faces: Sequence[np.ndarray], labels: np.ndarray, transform: Callable[[np.ndarray], Any],
                 augment: Augment | None = None, extras: dict[str, np.ndarray] | None = None):
        self.faces, self.labels = list(faces), np.asarray(labels, dtype=np.int64)
        self.transform, self.augment, self.epoch = transform, augment, 0
        self.extras = None if extras is None else {k: torch.as_tensor(v, dtype=torch.float32) for k, v in extras.items()}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        face = self.faces[index]
        if self.augment is not None:
            face = self.augment(face, seed=self.epoch * len(self.faces) + int(index))
        if self.extras is None:
            return self.transform(face), int(self.labels[index])
        return self.transform(face), int(self.labels[index]), {k: v[index] for k, v in self.extras.items()}


@dataclass
class Splits:
    """The faces, labels and soft targets (None for hard labels) of train / val / test, what the
    data is and what its reader reported (``info``: what was dropped, the sources combined)."""

    name: str
    synthetic: bool
    faces: dict[str, list[np.ndarray]]
    labels: dict[str, np.ndarray]
    targets: dict[str, np.ndarray | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {split: len(labels) for split, labels in self.labels.items()}


def load_splits(source: str | Any, options: dict[str, Any] | None = None) -> Splits:
    """Open ``source`` (a data source string, or a ``FaceDataset``) and read its three splits.

    Training needs faces in train and val; test may be empty (then there is no test score).
    """
    from fexlab.preprocessing.readers import open_dataset

    dataset = open_dataset(str(source), **(options or {})) if isinstance(source, str) else source
    faces, labels, targets = {}, {}, {}
    for split in ("train", "val", "test"):
        part = dataset.split(split).materialize()
        faces[split] = list(part.images(range(len(part))))
        labels[split] = part.labels()
        targets[split] = part.soft_targets()
    for split in ("train", "val"):
        if not len(labels[split]):
            raise InputError(
                f"{dataset.name} has no {split} faces; give the reader split fractions, "
                "e.g. --data-options split_fractions=[0.8,0.1,0.1]"
            )
    return Splits(dataset.name, bool(getattr(dataset, "synthetic", False)), faces, labels, targets,
                  dict(getattr(dataset, "info", {})))


def class_weights(labels: np.ndarray, source_labels: Sequence[str], lookup: np.ndarray,
                  power: float = 1.0) -> torch.Tensor:
    """Loss weights per model output: sklearn's "balanced" weights of the emotions present, raised
    to ``power`` (0.5: a rare class gains less, so accuracy on the common ones suffers less).

    ``lookup[c]`` is the model output of canonical emotion ``c`` (-1 if it has none). Outputs
    whose emotion never occurs in training keep weight 1 (they are never a target).
    """
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    balanced = compute_class_weight("balanced", classes=present, y=labels)
    weights = np.ones(len(source_labels), dtype=np.float32)
    for emotion, weight in zip(present, balanced):
        if lookup[emotion] >= 0:
            weights[lookup[emotion]] = weight ** power
    return torch.from_numpy(weights)


def sample_weights(labels: np.ndarray) -> np.ndarray:
    """Per-face sampling weights that make every emotion present equally likely per draw."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    return 1.0 / counts[labels]


def make_augment(enabled: bool, options: dict[str, Any], seed: int) -> tuple[Augment | None, str]:
    """The training augmentation (``fexlab.preprocessing.augment.Augmenter``) and a line describing it."""
    if not enabled:
        return None, "none"
    from fexlab.preprocessing.augment import Augmenter

    augmenter = Augmenter(options, seed=seed)
    return augmenter, repr(augmenter)
