"""Figures for the app, the CLI and the README, drawn with matplotlib's object API.

Functions return ``matplotlib.figure.Figure`` objects (no pyplot global state, safe in the app's
worker threads); :func:`save_figure` writes one to PNG.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from fexlab.registry.emotions import EMOTION_COLORS, EMOTIONS
from fexlab.registry.errors import InputError

__all__ = [
    "action_unit_bars",
    "action_unit_timeline",
    "class_balance",
    "confusion_heatmaps",
    "confusion_panels",
    "emotion_timeline",
    "per_class_bars",
    "per_class_f1",
    "probability_bars",
    "read_metrics_log",
    "reliability_diagram",
    "sample_grid",
    "save_figure",
    "training_curves",
]


def _rgb(name: str) -> tuple[float, float, float]:
    return tuple(c / 255.0 for c in EMOTION_COLORS[name])


def save_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``figure`` as PNG to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def probability_bars(
    faces: Sequence[Mapping[str, np.ndarray]], titles: Sequence[str] | None = None, *, width: float = 3.2
) -> Figure:
    """One horizontal bar chart per face: each classifier's probabilities over the 7 emotions.

    ``faces[i]`` maps a classifier name to its (7,) probabilities for face ``i``. With several
    classifiers, one legend above the charts names them, so it covers no bar.
    """
    count = max(len(faces), 1)
    figure = Figure(figsize=(width * min(count, 4), 2.6 * ((count + 3) // 4)), layout="constrained")
    if not faces:
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no face", ha="center", va="center")
        ax.set_axis_off()
        return figure
    axes = figure.subplots((count + 3) // 4, min(count, 4), squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_axis_off()
    y = np.arange(len(EMOTIONS))
    for i, (ax, per_classifier) in enumerate(zip(axes, faces)):
        names = list(per_classifier)
        height = 0.8 / len(names)
        for k, name in enumerate(names):
            probs = np.asarray(per_classifier[name], dtype=float)
            offset = (k - (len(names) - 1) / 2) * height
            colors = [_rgb(e) for e in EMOTIONS] if len(names) == 1 else None
            ax.barh(y + offset, probs, height=height, color=colors, label=name, alpha=1.0 if k == 0 else 0.6)
        ax.set_yticks(y, EMOTIONS)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(titles[i] if titles else f"face {i + 1}", fontsize=10)
    if len(faces[0]) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 4), fontsize=8,
                      frameon=False)
    return figure


def class_balance(counts: Mapping[str, int], title: str = "Examples per emotion") -> Figure:
    """Bar chart of how many examples each emotion has (a data set's or a split's balance).

    ``counts`` maps an emotion to its count; emotions are drawn in :data:`EMOTIONS` order
    (any absent one as 0), then any other keys in the order given.
    """
    names = list(EMOTIONS) + [name for name in counts if name not in EMOTIONS]
    values = [int(counts.get(name, 0)) for name in names]
    colors = [_rgb(name) if name in EMOTION_COLORS else (0.5, 0.5, 0.5) for name in names]
    figure = Figure(figsize=(max(5.0, 0.75 * len(names)), 3.2), layout="constrained")
    ax = figure.add_subplot()
    bars = ax.bar(names, values, color=colors)
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("examples")
    ax.set_title(f"{title} (total {sum(values)})", fontsize=10)
    ax.tick_params(axis="x", labelrotation=30)
    ax.margins(y=0.12)
    return figure


def confusion_heatmaps(
    counts: Sequence[Sequence[int]], normalized: Sequence[Sequence[float]], *, title: str = "",
    true_label: str = "true emotion", predicted_label: str = "predicted emotion",
) -> Figure:
    """Two seaborn heatmaps side by side: the confusion matrix in counts and row-normalised.

    Rows are the true (or, for a generator, intended) emotion, columns the predicted one.
    """
    import seaborn as sns

    counts, normalized = np.asarray(counts), np.asarray(normalized, dtype=float)
    n = len(EMOTIONS)
    if counts.shape != (n, n) or normalized.shape != (n, n):
        raise InputError(f"confusion matrices must be {n}x{n}, got {counts.shape} and {normalized.shape}")
    figure = Figure(figsize=(10.5, 4.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    sns.heatmap(counts, ax=left, annot=True, fmt="d", cmap="Blues", cbar=False, square=True,
                xticklabels=EMOTIONS, yticklabels=EMOTIONS, annot_kws={"fontsize": 8})
    sns.heatmap(normalized, ax=right, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, square=True,
                xticklabels=EMOTIONS, yticklabels=EMOTIONS, annot_kws={"fontsize": 8})
    left.set_title("counts", fontsize=10)
    right.set_title("row-normalised (recall on the diagonal)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel(predicted_label)
        ax.set_ylabel(true_label)
        ax.tick_params(axis="x", labelrotation=45)
        ax.tick_params(axis="y", labelrotation=0)
    if title:
        figure.suptitle(title)
    return figure


def confusion_panels(
    matrices: Mapping[str, Sequence[Sequence[float]]], *, title: str = "", true_label: str = "true emotion",
    predicted_label: str = "predicted emotion", per_row: int = 3,
) -> Figure:
    """Row-normalised confusion matrices of several models side by side, one small heatmap each
    (``per_row`` to a row), so models scored on the same data can be compared at a glance. Each
    cell says its percentage as a whole number, large enough to read in the app."""
    import seaborn as sns

    if not matrices:
        raise InputError("no confusion matrices to draw")
    names = list(matrices)
    cols = min(len(names), per_row)
    rows = -(-len(names) // cols)
    figure = Figure(figsize=(4.1 * cols, 4.7 * rows + (0.3 if title else 0)), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(names):]:
        ax.set_axis_off()
    for ax, name in zip(axes, names):
        matrix = np.asarray(matrices[name], dtype=float)
        if matrix.shape != (len(EMOTIONS), len(EMOTIONS)):
            raise InputError(f"the confusion matrix of {name} is {matrix.shape}, not 7x7")
        percent = np.vectorize(lambda value: f"{100 * value:.0f}")(matrix)
        sns.heatmap(matrix, ax=ax, annot=percent, fmt="", cmap="Blues", vmin=0, vmax=1, square=True, cbar=False,
                    xticklabels=EMOTIONS, yticklabels=EMOTIONS, annot_kws={"fontsize": CONFUSION_FONT_SIZE})
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(predicted_label, fontsize=9)
        ax.set_ylabel(true_label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.tick_params(axis="y", labelrotation=0, labelsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


#: Points of the numbers in :func:`confusion_panels`: about 15 pixels high where the app shows a panel 420 pixels wide.
CONFUSION_FONT_SIZE = 11


def _track_panels(count: int, empty: str) -> tuple[Figure, list]:
    """A figure of ``count`` stacked panels sharing the time axis, one per face track; with no
    track, a one-line figure saying ``empty`` (and no panels)."""
    if not count:
        figure = Figure(figsize=(8.0, 1.6), layout="constrained")
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, empty, ha="center", va="center")
        ax.set_axis_off()
        return figure, []
    figure = Figure(figsize=(8.0, 0.6 + 1.9 * count), layout="constrained")
    return figure, list(figure.subplots(count, 1, sharex=True, squeeze=False)[:, 0])


def emotion_timeline(
    tracks: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]], *, title: str = "",
) -> Figure:
    """Emotion over time: one panel per face track, one line per emotion (its probability).

    ``tracks[name] = (times in seconds, (N, 7) probabilities)``, e.g. ``{"face 1": (t, p)}`` from
    a video's per-frame predictions; the panels share the time axis.
    """
    figure, axes = _track_panels(len(tracks), "no face was tracked in the analysed frames")
    if not tracks:
        return figure
    for ax, (name, (times, probs)) in zip(axes, tracks.items()):
        times, probs = np.asarray(times, dtype=float), np.asarray(probs, dtype=float).reshape(-1, len(EMOTIONS))
        for k, emotion in enumerate(EMOTIONS):
            ax.plot(times, probs[:, k], color=_rgb(emotion), linewidth=1.6, label=emotion,
                    marker="o" if len(times) < 3 else None, markersize=3)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("probability", fontsize=8)
        ax.set_title(f"{name}: mostly {EMOTIONS[int(probs.mean(axis=0).argmax())]}", fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[0].legend(fontsize=7, ncol=len(EMOTIONS), loc="lower left", bbox_to_anchor=(0.0, 1.12), frameon=False)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


#: Colour of action-unit bars and blendshape bars.
_AU_COLOR, _SHAPE_COLOR = (0.16, 0.5, 0.73), (0.55, 0.55, 0.55)


def _unit_number(unit: str) -> int:
    return int("".join(ch for ch in unit if ch.isdigit()) or 0)


def action_unit_bars(
    analyses: Sequence[Mapping[str, Any]], titles: Sequence[str] | None = None, *, top_blendshapes: int = 10,
    note: str = "",
) -> Figure:
    """Per face, two horizontal bar charts side by side: its action units (in FACS order) and its
    ``top_blendshapes`` strongest blendshapes, all on 0 to 1.

    ``analyses[i]`` is a face's analysis (``action_units``: ``"AU12"`` -> intensity;
    ``blendshapes``: ARKit name -> score); ``note`` is written under the charts.
    """
    analyses = [a for a in analyses if a.get("action_units") or a.get("blendshapes")]
    count = max(len(analyses), 1)
    figure = Figure(figsize=(7.2, 0.4 + 3.9 * count), layout="constrained")
    if not analyses:
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no analysed face", ha="center", va="center")
        ax.set_axis_off()
        return figure
    axes = figure.subplots(count, 2, squeeze=False)
    for i, (analysis, (left, right)) in enumerate(zip(analyses, axes)):
        title = titles[i] if titles else f"face {i + 1}"
        units = sorted((analysis.get("action_units") or {}).items(), key=lambda item: _unit_number(item[0]))
        left.barh([u for u, _ in units], [float(v) for _, v in units], color=_AU_COLOR)
        left.set_title(f"{title}: action units", fontsize=10)
        shapes = sorted((analysis.get("blendshapes") or {}).items(), key=lambda item: -float(item[1]))[:top_blendshapes]
        right.barh([s for s, _ in shapes], [float(v) for _, v in shapes], color=_SHAPE_COLOR)
        right.set_title(f"{title}: strongest blendshapes", fontsize=10)
        for ax in (left, right):
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(axis="x", alpha=0.3)
    if note:
        figure.supxlabel(note, fontsize=8, wrap=True)
    return figure


def action_unit_timeline(
    tracks: Mapping[str, tuple[Sequence[float], Sequence[Mapping[str, float]]]], *, strongest: int = 6,
    title: str = "",
) -> Figure:
    """Action units over time: one panel per face track, one line for each of the ``strongest``
    units of that track (by their highest intensity).

    ``tracks[name] = (times in seconds, [{"AU12": intensity, ...} per time])``.
    """
    figure, axes = _track_panels(len(tracks), "no face was analysed in the analysed frames")
    if not tracks:
        return figure
    for ax, (name, (times, units)) in zip(axes, tracks.items()):
        names = sorted({unit for frame in units for unit in frame}, key=_unit_number)
        peaks = {unit: max(float(frame.get(unit, 0.0)) for frame in units) for unit in names}
        shown = sorted(sorted(names, key=lambda unit: -peaks[unit])[:strongest], key=_unit_number)
        for unit in shown:
            ax.plot(times, [float(frame.get(unit, 0.0)) for frame in units], linewidth=1.4, label=unit,
                    marker="o" if len(times) < 3 else None, markersize=3)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("intensity", fontsize=8)
        ax.set_title(name, fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.02), frameon=False)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def per_class_bars(per_class: Mapping[str, Mapping[str, Mapping[str, float | None]]], metric: str, *,
                   title: str = "") -> Figure:
    """Grouped bars of one per-emotion ``metric`` (0-1), one bar colour per series.

    ``per_class[series][emotion][metric]``: the ``per_class`` table of one or more results (an
    emotion without the metric, or with None, gets no bar).
    """
    import seaborn as sns

    rows = []
    for series, table in per_class.items():
        for emotion in EMOTIONS:
            value = (table.get(emotion) or {}).get(metric)
            rows.append({"series": series, "emotion": emotion, metric: np.nan if value is None else float(value)})
    figure = Figure(figsize=(max(6.5, 1.1 * len(EMOTIONS) + 0.35 * len(rows) / len(EMOTIONS)), 3.6), layout="constrained")
    ax = figure.add_subplot()
    if rows:
        import pandas as pd

        sns.barplot(pd.DataFrame(rows), x="emotion", y=metric, hue="series", ax=ax, order=list(EMOTIONS))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("")
    ax.set_title(title or f"{metric} per emotion", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(per_class) > 1:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    elif ax.get_legend() is not None:
        ax.get_legend().remove()
    return figure


def per_class_f1(per_class: Mapping[str, Mapping[str, Mapping[str, float]]], *, title: str = "F1 per emotion") -> Figure:
    """Grouped bars of F1 per emotion, one bar colour per model (:func:`per_class_bars` of ``"f1"``)."""
    figure = per_class_bars(per_class, "f1", title=title)
    figure.axes[0].set_ylabel("F1")
    return figure


def reliability_diagram(curves: Mapping[str, Any], *, title: str = "Reliability") -> Figure:
    """Accuracy against confidence of the top label, per model, with the diagonal of perfect
    calibration; marker area follows the number of items in a bin.

    ``curves[model]`` has ``confidence``, ``accuracy``, ``count`` and ``ece`` (a
    :class:`fexlab.eval.classification.ReliabilityCurve` or its dict form from a result file).
    """
    figure = Figure(figsize=(4.6, 5.0), layout="constrained")
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="perfectly calibrated")
    for model, curve in curves.items():
        get = curve.get if isinstance(curve, Mapping) else lambda key, c=curve: getattr(c, key)
        confidence, accuracy = np.asarray(get("confidence"), float), np.asarray(get("accuracy"), float)
        count = np.asarray(get("count"), float)
        area = 12 + 160 * count / count.max() if count.size else 12
        (line,) = ax.plot(confidence, accuracy, linewidth=1.2)
        ax.scatter(confidence, accuracy, s=area, alpha=0.7, color=line.get_color(),
                   label=f"{model} (ECE {float(get('ece')):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top emotion)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax.grid(alpha=0.3)
    return figure


def sample_grid(
    rows: Mapping[str, Sequence[Any]], column_labels: Sequence[str] | None = None, *, title: str = "",
    cell: float = 1.1,
) -> Figure:
    """Generated faces in a grid: one row per emotion (``rows`` keys), one column per seed.

    Each image is a PIL image or an RGB (or gray) array; ``column_labels`` name the columns
    (e.g. ``"seed 3"``).
    """
    names = list(rows)
    n_cols = max((len(images) for images in rows.values()), default=0)
    if not names or n_cols == 0:
        raise InputError("no generated images to show")
    figure = Figure(figsize=(cell * n_cols + 0.9, cell * len(names) + (0.4 if title else 0.1)), layout="constrained")
    axes = figure.subplots(len(names), n_cols, squeeze=False)
    for r, name in enumerate(names):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(rows[name]):
                image = np.asarray(rows[name][c])
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 0 and column_labels is not None and c < len(column_labels):
                ax.set_title(column_labels[c], fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def read_metrics_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl`` (``path`` is the file or the run folder).

    A last line cut short by a killed run is skipped; any other bad line is an error.
    """
    from .curves import METRICS_FILE

    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise InputError(f"no training log at {path}: pass a run folder holding {METRICS_FILE}")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise InputError(f"{path}, line {number} is not JSON: the training log is damaged") from None
    return records


#: Record keys that are positions, counts or bookkeeping, not metrics to plot.
_NOT_METRICS = {"epoch", "step", "split", "time", "n"}


def training_curves(
    run: str | Path | Sequence[Mapping[str, Any]], metrics: Sequence[str] | None = None, *, x: str | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves of a run (folder, ``metrics.jsonl`` or its records): one panel per metric,
    one line per split, drawn by :func:`fexlab.eval.curves.curves_figure`.

    ``metrics`` defaults to every numeric key logged more than once (a classifier's ``loss``,
    ``lr``, ``accuracy`` and ``macro_f1``, a GAN's generator and discriminator losses, ...); ``x`` to ``epoch`` when the
    records have it, else ``step``.
    """
    from .curves import curves_figure

    records = run if isinstance(run, Sequence) and not isinstance(run, str) else read_metrics_log(run)
    if metrics is None:  # numeric keys logged more than once (a single final test figure is no curve)
        counts = Counter(
            key for record in records for key, value in record.items()
            if key not in _NOT_METRICS and isinstance(value, (int, float)) and not isinstance(value, bool)
        )
        metrics = [key for key, count in counts.items() if count > 1]
    if x is None:
        x = "epoch" if any(isinstance(r.get("epoch"), (int, float)) for r in records) else "step"
    if title is None:
        title = "" if not isinstance(run, (str, Path)) else Path(run).name if Path(run).is_dir() else Path(run).parent.name
    figure = curves_figure(records, metrics, x=x, title=title)
    if figure is None:
        raise InputError(f"the training log has none of the metrics {list(metrics)} to plot")
    return figure
