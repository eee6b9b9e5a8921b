"""The canonical emotion label space and the one place foreign label sets are mapped to it.

Every classifier returns probabilities over ``EMOTIONS`` (FER2013 order). A model or data set
with other labels (RAF-DB's order, AffectNet's contempt, "happiness" for "happy", a hub model's
``id2label``) goes through a :class:`LabelMapping`: unmappable labels are dropped and the rest
renormalised, never silently misaligned.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "EMOTIONS",
    "EMOTION_COLORS",
    "AFFECTNET_LABELS",
    "RAFDB_LABELS",
    "LabelMapping",
    "canonical_emotion",
    "emotion_index",
    "parse_emotions",
]

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: One RGB colour per emotion, shared by image overlays and plots.
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 50, 47), "disgust": (133, 153, 0), "fear": (108, 113, 196), "happy": (250, 190, 30),
    "sad": (38, 139, 210), "surprise": (211, 54, 130), "neutral": (147, 161, 161),
}

# Data set label orders, declared once. RAF-DB's folders 1-7 and AffectNet's indices 0-7.
RAFDB_LABELS: tuple[str, ...] = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
AFFECTNET_LABELS: tuple[str, ...] = (
    "neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt",
)

# Spellings seen in data sets, hub models and user input -> canonical emotion.
_ALIASES: dict[str, str] = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "joyful": "happy",
    "sad": "sad", "sadness": "sad", "unhappy": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "neutrality": "neutral",
}


def canonical_emotion(label: str) -> str | None:
    """Return the canonical emotion for ``label`` ("Happiness" -> "happy"), or None if unmappable."""
    key = str(label).strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key)


def emotion_index(label: str) -> int:
    """Index of ``label`` in :data:`EMOTIONS`; raises ``ValueError`` naming the choices."""
    name = canonical_emotion(label)
    if name is None:
        close = difflib.get_close_matches(str(label).lower(), list(_ALIASES), n=1)
        hint = f" Did you mean '{_ALIASES[close[0]]}'?" if close else ""
        raise ValueError(f"unknown emotion '{label}'; choose from {', '.join(EMOTIONS)}.{hint}")
    return EMOTIONS.index(name)


def parse_emotions(labels: str | Sequence[str]) -> list[str]:
    """Canonicalise one emotion or a list of them ("all" gives all seven)."""
    if isinstance(labels, str):
        labels = [labels]
    if list(labels) == ["all"]:
        return list(EMOTIONS)
    return [EMOTIONS[emotion_index(label)] for label in labels]


class LabelMapping:
    """Maps a model's or data set's own labels onto :data:`EMOTIONS`.

    ``source_labels`` are the labels in the source's index order. ``overrides`` maps a source
    label to a canonical emotion (or to None to drop it) where the alias table does not know it.
    """

    def __init__(self, source_labels: Sequence[str], overrides: Mapping[str, str | None] | None = None):
        overrides = dict(overrides or {})
        self.source_labels = tuple(str(label) for label in source_labels)
        self.overrides = overrides
        targets: list[int] = []
        for label in self.source_labels:
            if label in overrides and overrides[label] is not None:
                name = canonical_emotion(overrides[label])
                if name is None:
                    raise ValueError(f"label override {label!r} -> {overrides[label]!r} is not one of {list(EMOTIONS)}")
            else:
                name = None if label in overrides else canonical_emotion(label)
            targets.append(EMOTIONS.index(name) if name is not None else -1)
        self._targets = np.array(targets, dtype=np.int64)
        if (self._targets >= 0).sum() == 0:
            raise ValueError(
                f"none of the labels {list(self.source_labels)} map to the emotions {list(EMOTIONS)}"
            )
        mapped = self._targets[self._targets >= 0]
        if len(set(mapped.tolist())) != len(mapped):
            raise ValueError(f"labels {list(self.source_labels)} map two labels to one emotion")

    @classmethod
    def from_id2label(cls, id2label: Mapping[int | str, str]) -> LabelMapping:
        """Build from a Hugging Face config's ``id2label`` (keys may be strings)."""
        ordered = sorted(((int(i), label) for i, label in id2label.items()), key=lambda item: item[0])
        return cls([label for _, label in ordered])

    @property
    def dropped(self) -> list[str]:
        """Source labels with no canonical emotion (e.g. AffectNet's contempt)."""
        return [label for label, t in zip(self.source_labels, self._targets) if t < 0]

    @property
    def missing(self) -> list[str]:
        """Canonical emotions the source cannot predict (their probability is always 0)."""
        present = set(self._targets[self._targets >= 0].tolist())
        return [name for i, name in enumerate(EMOTIONS) if i not in present]

    @property
    def is_identity(self) -> bool:
        return self.source_labels == EMOTIONS

    def to_canonical(self, probs: np.ndarray) -> np.ndarray:
        """(N, len(source)) probabilities -> (N, 7), dropping unmapped labels and renormalising."""
        probs = np.asarray(probs, dtype=np.float32)
        if probs.ndim != 2 or probs.shape[1] != len(self.source_labels):
            raise ValueError(
                f"expected probabilities of shape (N, {len(self.source_labels)}), got {probs.shape}"
            )
        if self.is_identity:
            return probs
        out = np.zeros((probs.shape[0], len(EMOTIONS)), dtype=np.float32)
        keep = self._targets >= 0
        out[:, self._targets[keep]] = probs[:, keep]
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.full_like(out, 1 / len(EMOTIONS)), where=total > 0)

    def source_index(self, canonical_index: int) -> int:
        """The source label index for a canonical emotion index, or -1 if the source lacks it."""
        hits = np.flatnonzero(self._targets == canonical_index)
        return int(hits[0]) if hits.size else -1

    def to_source_targets(self, canonical_targets: np.ndarray) -> np.ndarray:
        """Canonical target indices -> source indices (-1 where the source lacks the emotion)."""
        lookup = np.array([self.source_index(i) for i in range(len(EMOTIONS))], dtype=np.int64)
        return lookup[np.asarray(canonical_targets, dtype=np.int64)]

    def __repr__(self) -> str:
        return f"LabelMapping({list(self.source_labels)}, dropped={self.dropped})"
