"""What generator trainers show and measure each epoch: an emotion grid and a judge's verdict.

Both the cGAN and the SD LoRA trainer save a sample grid (rows are the emotions, columns fixed
seeds, so a column is one identity across the emotions) and, when a judge classifier is given,
score how often it recognises the intended emotion; that score picks the best checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS

__all__ = ["faces_by_emotion", "judge_expression", "save_sample_grid"]


def faces_by_emotion(generator: Any, seeds: Sequence[int], emotions: Sequence[str] = EMOTIONS,
                     **options: Any) -> dict[str, list[np.ndarray]]:
    """``{emotion: [face of seeds[0], face of seeds[1], ...]}`` as RGB uint8 arrays; each seed
    is one ``generate`` call, so it keeps its identity across the emotions."""
    rows = generator.generate_grid(list(emotions), list(seeds), **options)
    return {e: [np.asarray(row[i].convert("RGB")) for row in rows] for i, e in enumerate(emotions)}


def save_sample_grid(faces: dict[str, list[np.ndarray]], seeds: Sequence[int], path: str | os.PathLike,
                     title: str = "") -> Path:
    """The grid PNG at ``path``: one row per emotion, one column per seed."""
    from fexlab.eval.plots import sample_grid, save_figure

    return save_figure(sample_grid(faces, [f"seed {s}" for s in seeds], title=title), path)


def judge_expression(generator: Any, judge: Any, seeds: Sequence[int], **options: Any) -> dict[str, Any]:
    """How well ``judge`` (a Classifier) recognises the emotion each face was generated for.

    Every emotion gets one face per seed, so accuracy equals the macro (balanced) recall over
    the emotions. Returns ``judge_accuracy``, ``judge_macro_f1``, the full metrics and the faces.
    """
    from fexlab.eval.classification import classification_metrics

    faces = faces_by_emotion(generator, seeds, **options)
    intended = np.repeat(np.arange(len(EMOTIONS)), len(seeds))
    probs = judge.predict([face for emotion in EMOTIONS for face in faces[emotion]])
    metrics = classification_metrics(intended, probs, n_resamples=200)
    return {"judge_accuracy": metrics.balanced_accuracy, "judge_macro_f1": metrics.macro_f1,
            "metrics": metrics, "faces": faces}
