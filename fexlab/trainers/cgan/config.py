"""``fexlab train cgan``: the cGAN trainer's config and its command line.

Every option is a field of :class:`CGANTrainConfig`; it can come from a config file
(``--config run.yaml``) and be overridden by flags. The resolved config is written to the run
folder and ``--resume`` continues a run with it. This module imports no torch.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HELP", "CGANTrainConfig", "add_arguments", "main", "may_change_on_resume"]

HELP = "train the class-conditional GAN (cgan) with Accelerate: hinge loss, EMA generator, DiffAugment"


@dataclass
class CGANTrainConfig:
    data: str = field(default="synthetic", metadata={
        "help": "data: synthetic[:n=7000,size=64,seed=0,gray=0], a FER2013 .csv, a class-per-folder tree, "
                "a save_to_disk folder or hf:owner/name", "metavar": "SOURCE"})
    data_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "reader options, e.g. label_column=emotion (repeatable)"})
    out: str | None = field(default=None, metadata={"help": "run folder (default runs/cgan-DATE-TIME)",
                                                    "metavar": "RUN_DIR"})
    resolution: int = field(default=64, metadata={"help": "image side in pixels (64, or 128)"})
    grayscale: bool = field(default=False, metadata={"help": "train on gray faces"})
    z_dim: int = field(default=128, metadata={"help": "latent size"})
    g_width: int = field(default=32, metadata={"help": "generator width (8 x this channels at 4x4)"})
    d_width: int = field(default=32, metadata={"help": "discriminator channels at full resolution"})
    epochs: int = field(default=30, metadata={"help": "passes over the training split"})
    max_minutes: float = field(default=0.0, metadata={"help": "stop after this many training minutes (0: no limit)"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0: no limit)"})
    batch_size: int = field(default=64, metadata={"help": "faces per step"})
    lr_g: float = field(default=2e-4, metadata={"help": "generator Adam learning rate"})
    lr_d: float = field(default=2e-4, metadata={"help": "discriminator Adam learning rate"})
    betas: tuple[float, ...] = field(default=(0.0, 0.9), metadata={"help": "Adam betas"})
    aux_weight: float = field(default=0.0, metadata={
        "help": "weight of the auxiliary expression classifier's loss on generated faces (0: off)"})
    lr_c: float = field(default=1e-3, metadata={"help": "auxiliary classifier Adam learning rate"})
    aux_augment: str = field(default="color,translation", metadata={
        "help": "DiffAugment policy applied to the faces the auxiliary classifier sees, real and generated, so "
                "the generator cannot please it with pixel tricks ('' for none)"})
    ema_decay: float = field(default=0.999, metadata={
        "help": "decay of the EMA generator (the one saved), warmed up over its first updates"})
    diffaugment: str = field(default="translation", metadata={
        "help": "DiffAugment policy: comma-separated color, translation, cutout ('' for none)"})
    grid_seeds: int = field(default=8, metadata={"help": "columns (identities) of the per-epoch sample grid"})
    judge: str | None = field(default=None, metadata={
        "help": "classifier NAME[:CHECKPOINT] that scores the samples each epoch and picks best/",
        "metavar": "NAME[:CHECKPOINT]"})
    judge_seeds: int = field(default=30, metadata={"help": "faces per emotion the judge scores"})
    limit: int = field(default=0, metadata={"help": "use only the first N training faces (0: all)"})
    log_every: int = field(default=50, metadata={"help": "log the losses every N steps"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation, data order, latents and augmentation"})
    mixed_precision: str = field(default="no", metadata={
        "help": "mixed precision (fp16 needs a GPU)", "choices": ["no", "fp16", "bf16"]})
    cpu: bool = field(default=False, metadata={"help": "train on the CPU even when a GPU is there"})

    def run_folder(self) -> str:
        """``out``, or ``runs/cgan-YYYYmmdd-HHMMSS`` when none was given."""
        return self.out or f"runs/cgan-{time.strftime('%Y%m%d-%H%M%S')}"

    def plugin_config(self) -> dict[str, Any]:
        """The ``cgan`` plugin config this run trains."""
        return {"resolution": self.resolution, "grayscale": self.grayscale, "z_dim": self.z_dim,
                "g_width": self.g_width, "d_width": self.d_width}


#: What ``--resume`` lets change: how long to go on, how to log and judge.
may_change_on_resume = ("out", "epochs", "max_minutes", "max_steps", "log_every", "grid_seeds", "judge", "judge_seeds", "cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fexlab train cgan`` (and ``python -m fexlab.trainers.cgan``)."""
    from fexlab.trainers.command import add_run_arguments

    add_run_arguments(parser, CGANTrainConfig)


def main(args: argparse.Namespace) -> int:
    """Run ``fexlab train cgan`` from parsed arguments; returns the exit status."""
    from fexlab.trainers.command import config_from_args

    config = config_from_args(CGANTrainConfig, args, may_change=may_change_on_resume)
    from .loop import train_cgan

    train_cgan(config, resume=args.resume)
    return 0
