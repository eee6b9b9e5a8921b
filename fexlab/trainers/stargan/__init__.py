"""The expression translator's trainer: ``fexlab train stargan --data SOURCE``, ``python -m fexlab.trainers.stargan``
or ``accelerate launch -m fexlab.trainers.stargan``. From Python: ``train_stargan(StarGANTrainConfig(data=...))``.
The loop (and torch) is imported on first use of :func:`train_stargan`, so the command line stays fast.
"""

from typing import Any

from .config import HELP, StarGANTrainConfig, add_arguments, main

__all__ = ["HELP", "StarGANTrainConfig", "add_arguments", "main", "train_stargan"]


def __getattr__(name: str) -> Any:
    if name == "train_stargan":
        from .loop import train_stargan

        return train_stargan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
