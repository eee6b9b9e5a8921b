"""The SD LoRA trainer: ``fexlab train sd-lora --data SOURCE --base-model FOLDER``,
``python -m fexlab.trainers.sd_lora`` or ``accelerate launch -m fexlab.trainers.sd_lora``. From Python:
``train_sd_lora(SDLoRATrainConfig(...))``. diffusers and torch are imported on first use of
:func:`train_sd_lora`, so the command line stays fast.
"""

from typing import Any

from .config import HELP, SDLoRATrainConfig, add_arguments, main

__all__ = ["HELP", "SDLoRATrainConfig", "add_arguments", "main", "train_sd_lora"]


def __getattr__(name: str) -> Any:
    if name == "train_sd_lora":
        from .loop import train_sd_lora

        return train_sd_lora
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
