"""Training curves from ``metrics.jsonl`` records: one panel per metric, one line per split.

Used for a run's ``curves.png`` (the trainers) and by anything that shows runs (the app's Train tab). Records are
dicts such as ``{"split": "val", "epoch": 3, "loss": 0.4, "accuracy": 0.9}``; per-step records
(split ``train_step``) are drawn thin behind the per-epoch lines. Figures are built with
matplotlib's object API (no pyplot state), so this is safe in worker threads; matplotlib is
imported only when a figure is drawn.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["METRICS_FILE", "curves_figure"]

#: A training run's log of metrics, one JSON record a line, in its run folder.
METRICS_FILE = "metrics.jsonl"

_STYLE = {
    "train_step": {"color": "tab:blue", "alpha": 0.25, "linewidth": 0.8},
    "train": {"color": "tab:blue", "marker": "o", "markersize": 3},
    "val": {"color": "tab:orange", "marker": "o", "markersize": 3},
    "test": {"color": "tab:green", "marker": "*", "markersize": 9, "linestyle": "none"},
}


def curves_figure(records: Sequence[Mapping[str, Any]], metrics: Sequence[str], *, x: str = "epoch",
                  title: str = "") -> Figure | None:
    """A figure with one panel per metric in ``metrics`` that any record has; None if none has."""
    from matplotlib.figure import Figure

    present = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for r in records)]
    if not present:
        return None
    figure = Figure(figsize=(4.6 * len(present), 3.4), layout="constrained")
    axes = figure.subplots(1, len(present), squeeze=False)[0]
    splits = list(dict.fromkeys(str(r.get("split", "train")) for r in records))
    for ax, metric in zip(axes, present):
        for split in splits:
            rows = [r for r in records if str(r.get("split", "train")) == split
                    and isinstance(r.get(metric), (int, float)) and isinstance(r.get(x), (int, float))]
            if rows:
                ax.plot([r[x] for r in rows], [r[metric] for r in rows], label=split, **_STYLE.get(split, {}))
        ax.set_xlabel(x)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        figure.suptitle(textwrap.fill(title, width=40 * len(present)), fontsize="medium")
    return figure
