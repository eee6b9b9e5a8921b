"""Metrics for emotion classifiers, from true labels and predicted probabilities over EMOTIONS.

scikit-learn computes every classification metric it offers (accuracy, balanced accuracy, F1,
per-class precision / recall / F1, confusion matrices, top-k accuracy, the reliability curve);
torchmetrics computes the expected calibration error; scipy draws the bootstrap intervals and
the exact binomial test behind McNemar's test. Nothing here re-derives what those libraries do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

__all__ = [
    "ClassificationMetrics",
    "McNemarResult",
    "ReliabilityCurve",
    "bootstrap_interval",
    "classification_metrics",
    "expected_calibration_error",
    "mcnemar",
    "reliability_curve",
]

LABELS = list(range(len(EMOTIONS)))


@dataclass
class ClassificationMetrics:
    """Everything :func:`classification_metrics` measures, JSON-ready through :meth:`as_dict`."""

    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    weighted_f1: float
    top2_accuracy: float
    ece: float
    accuracy_ci: tuple[float, float]
    macro_f1_ci: tuple[float, float]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    confusion_normalized: list[list[float]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class McNemarResult:
    """Items only A got right (``only_a``), only B got right (``only_b``), and the exact p-value."""

    only_a: int
    only_b: int
    p_value: float


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per non-empty confidence bin: mean confidence, accuracy and item count."""

    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    ece: float


def _check(y_true: Sequence[int], probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(EMOTIONS):
        raise InputError(f"probabilities must have shape (N, {len(EMOTIONS)}), got {probs.shape}")
    if y_true.shape != (probs.shape[0],):
        raise InputError(f"{y_true.shape[0] if y_true.ndim else 0} labels for {probs.shape[0]} predictions")
    if y_true.size == 0:
        raise InputError("no items to score: the split is empty")
    if y_true.min() < 0 or y_true.max() >= len(EMOTIONS):
        raise InputError(f"labels must be emotion indices 0..{len(EMOTIONS) - 1}, got {sorted(set(y_true.tolist()))}")
    return y_true, probs


def expected_calibration_error(y_true: Sequence[int], probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-label expected calibration error (L1, equal-width bins), by torchmetrics."""
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    y_true, probs = _check(y_true, probs)
    return float(
        multiclass_calibration_error(
            torch.from_numpy(probs).float(), torch.from_numpy(y_true), num_classes=len(EMOTIONS), n_bins=n_bins, norm="l1"
        )
    )


def reliability_curve(y_true: Sequence[int], probs: np.ndarray, n_bins: int = 15) -> ReliabilityCurve:
    """Accuracy against confidence of the top label, for a reliability diagram.

    sklearn's ``calibration_curve`` bins the top-label confidences and returns, per non-empty
    bin, the fraction correct and the mean confidence. The bins are those of the reported ECE
    (15 equal-width bins by default), so the diagram and the leaderboard agree.
    """
    from sklearn.calibration import calibration_curve

    y_true, probs = _check(y_true, probs)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(int)
    accuracy, mean_conf = calibration_curve(correct, confidence, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.histogram(confidence, bins=edges)[0]
    return ReliabilityCurve(mean_conf, accuracy, counts[counts > 0], expected_calibration_error(y_true, probs, n_bins))


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(y_true == y_pred, axis=axis)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, axis: int = -1) -> np.ndarray:
    """Macro F1 of each row (resample) at once: torchmetrics' sample-wise F1, which like
    sklearn's default averages over the classes present in the labels or the predictions."""
    import torch
    from torchmetrics.functional.classification import multiclass_f1_score

    score = multiclass_f1_score(
        torch.from_numpy(np.atleast_2d(y_pred)), torch.from_numpy(np.atleast_2d(y_true)), num_classes=len(EMOTIONS),
        average="macro", multidim_average="samplewise", validate_args=False,
    )
    return score.double().numpy().reshape(np.shape(y_true)[:-1])


_BOOTSTRAP_STATISTICS = {"accuracy": _accuracy, "macro_f1": _macro_f1}


def bootstrap_interval(
    y_true: Sequence[int], y_pred: Sequence[int], statistic: str, *, n_resamples: int = 1000, seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``"accuracy"`` or ``"macro_f1"``, resampling items (scipy)."""
    from scipy.stats import bootstrap

    if statistic not in _BOOTSTRAP_STATISTICS:
        raise InputError(f"unknown bootstrap statistic '{statistic}'; choose from {sorted(_BOOTSTRAP_STATISTICS)}")
    function = _BOOTSTRAP_STATISTICS[statistic]
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) < 2 or len(set(zip(y_true.tolist(), y_pred.tolist()))) < 2:
        value = float(function(y_true, y_pred))  # every resample is the same: no spread
        return value, value
    result = bootstrap(
        (y_true, y_pred), function, paired=True, vectorized=True, n_resamples=n_resamples,
        confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def classification_metrics(
    y_true: Sequence[int], probs: np.ndarray, *, n_resamples: int = 1000, seed: int = 0, n_bins: int = 15
) -> ClassificationMetrics:
    """All classifier metrics for labels ``y_true`` (N,) and probabilities ``probs`` (N, 7).

    The per-class table and confusion matrices cover all seven emotions; macro F1 averages over
    the emotions present in the labels or the predictions (sklearn's default). Bootstrap intervals are 95% percentile intervals with ``n_resamples`` resamples from ``seed``.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        top_k_accuracy_score,
    )

    y_true, probs = _check(y_true, probs)
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=LABELS, zero_division=0)
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(EMOTIONS, precision, recall, f1, support)
    }
    normalized = np.nan_to_num(confusion_matrix(y_true, y_pred, labels=LABELS, normalize="true"))
    return ClassificationMetrics(
        n=int(len(y_true)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(balanced_accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=LABELS, average="weighted", zero_division=0)),
        top2_accuracy=float(top_k_accuracy_score(y_true, probs, k=2, labels=LABELS)),
        ece=expected_calibration_error(y_true, probs, n_bins),
        accuracy_ci=bootstrap_interval(y_true, y_pred, "accuracy", n_resamples=n_resamples, seed=seed),
        macro_f1_ci=bootstrap_interval(y_true, y_pred, "macro_f1", n_resamples=n_resamples, seed=seed),
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=LABELS).tolist(),
        confusion_normalized=normalized.round(6).tolist(),
    )


def mcnemar(y_true: Sequence[int], pred_a: Sequence[int], pred_b: Sequence[int]) -> McNemarResult:
    """McNemar's exact test: do classifiers A and B err on the same items at the same rate?

    Only discordant items count: ``b`` right only for A, ``c`` right only for B. Under the null
    hypothesis each discordant item is a fair coin, so the p-value is scipy's exact two-sided
    binomial test of ``b`` successes in ``b + c`` trials (1.0 when there are none).
    """
    from scipy.stats import binomtest

    y_true, pred_a, pred_b = (np.asarray(v, dtype=np.int64) for v in (y_true, pred_a, pred_b))
    if not (y_true.shape == pred_a.shape == pred_b.shape):
        raise InputError(f"McNemar needs both classifiers on the same items: {y_true.shape}, {pred_a.shape}, {pred_b.shape}")
    right_a, right_b = pred_a == y_true, pred_b == y_true
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p_value = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return McNemarResult(only_a, only_b, float(p_value))
