"""Figures for the app, the CLI and the README, drawn with matplotlib's object API.

Functions return ``matplotlib.figure.Figure`` objects (no pyplot global state, safe in the app's
worker threads); :func:`save_figure` writes one to PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from registry.emotions import EMOTION_COLORS, EMOTIONS

__all__ = ["class_balance", "probability_bars", "save_figure"]


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

    ``faces[i]`` maps a classifier name to its (7,) probabilities for face ``i``.
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
        if len(names) > 1:
            ax.legend(fontsize=7, loc="lower right")
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
