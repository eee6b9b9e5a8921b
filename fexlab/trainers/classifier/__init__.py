"""The classifier trainer: one Accelerate loop for every ``Classifier`` plugin.

``fexlab train classifier --plugin NAME --data SOURCE`` runs it; so do
``python -m fexlab.trainers.classifier ...`` and ``accelerate launch -m fexlab.trainers.classifier ...``. From
Python: ``train_classifier(ClassifierTrainConfig(plugin="convnext", data="synthetic"))``. The loop
(and torch) is imported on first use of :func:`train_classifier`, so the command line stays fast.
"""

from typing import Any

from .config import ClassifierTrainConfig, add_arguments, main

__all__ = ["ClassifierTrainConfig", "TrainResult", "add_arguments", "main", "train_classifier"]


def __getattr__(name: str) -> Any:
    if name in ("train_classifier", "TrainResult"):
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
