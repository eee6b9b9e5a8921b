"""Whether a trained classifier is still at chance, and what usually helps: said at the end of a
run (``fexlab train classifier``) and in the Train tab's run summary. Imports no torch."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fexlab.registry.emotions import EMOTIONS

__all__ = ["CHANCE", "HELPS", "chance_warning", "run_warning"]

#: Accuracy of guessing among the seven emotions.
CHANCE = 1 / len(EMOTIONS)


#: What usually helps a run at chance, said with the command line's flags.
HELPS = ("more epochs (--resume with a larger --epochs continues this run), more faces, a lower learning rate "
         "(--lr), or starting from pretrained weights (--init)")


def chance_warning(metrics: Mapping[str, Any], helps: str = HELPS) -> str | None:
    """One paragraph when the best checkpoint's ``metrics`` (``test_*`` where there are some, else
    ``val_*``) are at chance: balanced accuracy (or accuracy) below 1.5 times chance, or macro
    F1 below 0.1 (one emotion for every face scores 0.036), ending with what usually ``helps``.
    None when the model has learned."""
    split = "test" if "test_accuracy" in metrics else "val"
    accuracy = metrics.get(f"{split}_balanced_accuracy", metrics.get(f"{split}_accuracy"))
    macro_f1 = metrics.get(f"{split}_macro_f1")
    if not isinstance(accuracy, (int, float)) or not isinstance(macro_f1, (int, float)):
        return None
    if accuracy >= 1.5 * CHANCE and macro_f1 >= 0.1:
        return None
    return (f"warning: the model is at chance on the {split} split (accuracy {accuracy:.0%}, macro F1 "
            f"{macro_f1:.3f}; guessing scores {CHANCE:.0%}): it has not learned the emotions yet. What usually "
            f"helps: {helps}")


def run_warning(run_dir: str | os.PathLike, helps: str = HELPS) -> str | None:
    """:func:`chance_warning` of the best checkpoint of the run in ``run_dir`` (None without one)."""
    try:
        best = json.loads((Path(run_dir) / "best" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    metrics = best.get("metrics") if isinstance(best, dict) else None
    return chance_warning(metrics, helps) if isinstance(metrics, dict) and best.get("kind") == "classifier" else None
