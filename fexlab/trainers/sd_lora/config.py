"""``fexlab train sd-lora``: the Stable Diffusion LoRA trainer's config and its command line.

Every option is a field of :class:`SDLoRATrainConfig`; it can come from a config file and be
overridden by flags. The resolved config is written to the run folder and ``--resume``
continues a run with it. This module imports no torch and no diffusers.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

from fexlab.plugins.sd_lora.plugin import DEFAULT_BASE_MODEL

__all__ = ["HELP", "SDLoRATrainConfig", "add_arguments", "main", "may_change_on_resume"]

HELP = "train an expression LoRA for Stable Diffusion (sd_lora) on captioned faces with Accelerate"


@dataclass
class SDLoRATrainConfig:
    data: str = field(default="synthetic", metadata={
        "help": "data: synthetic[:...], a FER2013 .csv, a class-per-folder tree, a save_to_disk folder or "
                "hf:owner/name; each face is captioned from its emotion", "metavar": "SOURCE"})
    data_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "reader options, e.g. label_column=emotion (repeatable)"})
    out: str | None = field(default=None, metadata={"help": "run folder (default runs/sd-lora-DATE-TIME)",
                                                    "metavar": "RUN_DIR"})
    base_model: str = field(default=DEFAULT_BASE_MODEL, metadata={
        "help": "diffusers Stable Diffusion folder or hub id", "metavar": "FOLDER|HUB_ID"})
    caption_template: str = field(default="a close-up photo of a {emotion} face", metadata={
        "help": "caption of every face; {emotion} becomes its emotion"})
    resolution: int = field(default=512, metadata={"help": "training and generation side in pixels"})
    lora_rank: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: float = field(default=8.0, metadata={"help": "LoRA alpha (scale = alpha / rank)"})
    train_text_encoder: bool = field(default=False, metadata={"help": "also put a LoRA on the text encoder"})
    epochs: int = field(default=10, metadata={"help": "passes over the training split"})
    batch_size: int = field(default=4, metadata={"help": "faces per batch per process"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate of the LoRA weights"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (0: off)"})
    random_flip: bool = field(default=True, metadata={"help": "flip faces horizontally at random"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "recompute activations in the backward pass: less memory, slower"})
    mixed_precision: str = field(default="no", metadata={
        "help": "mixed precision for the frozen weights (fp16 needs a GPU)", "choices": ["no", "fp16", "bf16"]})
    limit: int = field(default=0, metadata={"help": "use only the first N training faces (0: all)"})
    val_faces: int = field(default=16, metadata={"help": "validation faces for the fixed-noise validation loss"})
    validation_seeds: int = field(default=2, metadata={"help": "columns (seeds) of the per-epoch validation grid"})
    validation_steps: int = field(default=25, metadata={"help": "denoising steps of the validation images"})
    seed: int = field(default=0, metadata={"help": "seed of LoRA initialisation, data order and noise"})
    log_every: int = field(default=10, metadata={"help": "log the training loss every N optimizer steps"})
    cpu: bool = field(default=False, metadata={"help": "train on the CPU even when a GPU is there"})

    def run_folder(self) -> str:
        """``out``, or ``runs/sd-lora-YYYYmmdd-HHMMSS`` when none was given."""
        return self.out or f"runs/sd-lora-{time.strftime('%Y%m%d-%H%M%S')}"

    def plugin_config(self) -> dict[str, Any]:
        """The ``sd_lora`` plugin config this run trains."""
        return {"base_model": self.base_model, "caption_template": self.caption_template,
                "resolution": self.resolution, "lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha,
                "train_text_encoder": self.train_text_encoder}


#: What ``--resume`` lets change: how long to go on and how to log and validate.
may_change_on_resume = ("out", "epochs", "log_every", "validation_seeds", "validation_steps", "cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fexlab train sd-lora`` (and ``python -m fexlab.trainers.sd_lora``)."""
    from fexlab.trainers.command import add_run_arguments

    add_run_arguments(parser, SDLoRATrainConfig)


def main(args: argparse.Namespace) -> int:
    """Run ``fexlab train sd-lora`` from parsed arguments; returns the exit status."""
    from fexlab.trainers.command import config_from_args

    config = config_from_args(SDLoRATrainConfig, args, may_change=may_change_on_resume)
    from .loop import train_sd_lora

    train_sd_lora(config, resume=args.resume)
    return 0
