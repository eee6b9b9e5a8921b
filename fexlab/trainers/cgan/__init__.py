"""The cGAN trainer: ``fexlab train cgan --data SOURCE``, ``python -m fexlab.trainers.cgan`` or
``accelerate launch -m fexlab.trainers.cgan``. From Python: ``train_cgan(CGANTrainConfig(data="synthetic"))``.
The loop (and torch) is imported on first use of :func:`train_cgan`, so the command line stays fast.
"""

from typing import Any

from .config import HELP, CGANTrainConfig, add_arguments, main

__all__ = ["HELP", "CGANTrainConfig", "add_arguments", "main", "train_cgan"]


def __getattr__(name: str) -> Any:
    if name == "train_cgan":
        from .loop import train_cgan

        return train_cgan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
