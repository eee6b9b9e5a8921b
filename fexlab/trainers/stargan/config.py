"""``fexlab train stargan``: the expression translator's trainer config and its command line.

Every option is a field of :class:`StarGANTrainConfig`; it can come from a config file
(``--config run.yaml``) and be overridden by flags. The resolved config is written to the run
folder and ``--resume`` continues a run with it. This module imports no torch.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HELP", "StarGANTrainConfig", "add_arguments", "main", "may_change_on_resume"]

HELP = ("train the expression translator (stargan) with Accelerate: hinge loss, emotion classification, "
        "cycle and identity reconstruction, attention mask")


@dataclass
class StarGANTrainConfig:
    data: str = field(default="synthetic", metadata={
        "help": "data with train and val splits: FER+ votes (majority labels), a FER2013 .csv, a class-per-folder "
                "tree, synthetic[:n=...], a save_to_disk folder or hf:owner/name", "metavar": "SOURCE"})
    data_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "reader options, e.g. votes=majority (repeatable)"})
    out: str | None = field(default=None, metadata={"help": "run folder (default runs/stargan-DATE-TIME)",
                                                    "metavar": "RUN_DIR"})
    resolution: int = field(default=48, metadata={"help": "face side in pixels"})
    grayscale: bool = field(default=True, metadata={"help": "train on gray faces (FER2013 is gray)"})
    width: int = field(default=16, metadata={"help": "translator channels at full resolution"})
    blocks: int = field(default=3, metadata={"help": "translator residual blocks"})
    d_width: int = field(default=32, metadata={"help": "discriminator channels at full resolution"})
    epochs: int = field(default=20, metadata={"help": "passes over the training split"})
    max_minutes: float = field(default=0.0, metadata={"help": "stop after this many training minutes (0: no limit)"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0: no limit)"})
    batch_size: int = field(default=32, metadata={"help": "faces per step"})
    lr_g: float = field(default=2e-4, metadata={"help": "translator Adam learning rate"})
    lr_d: float = field(default=2e-4, metadata={"help": "discriminator Adam learning rate"})
    lr_c: float = field(default=1e-3, metadata={"help": "the translator's own expression classifier's learning rate"})
    betas: tuple[float, ...] = field(default=(0.5, 0.999), metadata={"help": "Adam betas"})
    cls_weight: float = field(default=1.0, metadata={
        "help": "weight of the classification loss: the edited face must show the target emotion"})
    cycle_weight: float = field(default=10.0, metadata={
        "help": "weight of the cycle loss: editing back to the source emotion gives the input"})
    identity_weight: float = field(default=5.0, metadata={
        "help": "weight of the identity loss: editing to the emotion the face already shows changes nothing"})
    mask_weight: float = field(default=0.05, metadata={
        "help": "weight of the mean attention mask: change as few pixels as the emotion needs"})
    tv_weight: float = field(default=0.01, metadata={"help": "weight of the mask's total variation (smooth masks)"})
    ema_decay: float = field(default=0.999, metadata={
        "help": "decay of the EMA translator (the one saved), warmed up over its first updates"})
    diffaugment: str = field(default="translation", metadata={
        "help": "DiffAugment policy of the discriminator's inputs: comma-separated color, translation, cutout ('' none)"})
    aux_augment: str = field(default="color,translation", metadata={
        "help": "DiffAugment policy of the faces the classifier sees, real and edited ('' none)"})
    grid_faces: int = field(default=8, metadata={"help": "validation faces (rows) of the per-epoch sample grid"})
    judge: str | None = field(default=None, metadata={
        "help": "classifier NAME[:CHECKPOINT] that scores edits of validation faces each epoch and picks best/ "
                "(not the classifier that reports the final figures)", "metavar": "NAME[:CHECKPOINT]"})
    judge_faces: int = field(default=100, metadata={"help": "validation faces edited for the judge each epoch"})
    best_min_ssim: float = field(default=0.6, metadata={
        "help": "best/ is the epoch the judge scores highest among those whose edits keep this mean SSIM to the input"})
    limit: int = field(default=0, metadata={"help": "use only the first N training faces (0: all)"})
    log_every: int = field(default=50, metadata={"help": "log the losses every N steps"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation, data order, targets and augmentation"})
    mixed_precision: str = field(default="no", metadata={
        "help": "mixed precision (fp16 needs a GPU)", "choices": ["no", "fp16", "bf16"]})
    cpu: bool = field(default=False, metadata={"help": "train on the CPU even when a GPU is there"})

    def run_folder(self) -> str:
        """``out``, or ``runs/stargan-YYYYmmdd-HHMMSS`` when none was given."""
        return self.out or f"runs/stargan-{time.strftime('%Y%m%d-%H%M%S')}"

    def plugin_config(self) -> dict[str, Any]:
        """The ``stargan`` plugin config this run trains."""
        return {"resolution": self.resolution, "grayscale": self.grayscale, "width": self.width,
                "blocks": self.blocks, "d_width": self.d_width}


#: What ``--resume`` lets change: how long to go on, how to log and judge.
may_change_on_resume = ("out", "epochs", "max_minutes", "max_steps", "log_every", "grid_faces", "judge",
                        "judge_faces", "best_min_ssim", "cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fexlab train stargan`` (and ``python -m fexlab.trainers.stargan``)."""
    from fexlab.trainers.command import add_run_arguments

    add_run_arguments(parser, StarGANTrainConfig)


def main(args: argparse.Namespace) -> int:
    """Run ``fexlab train stargan`` from parsed arguments; returns the exit status."""
    from fexlab.trainers.command import config_from_args

    config = config_from_args(StarGANTrainConfig, args, may_change=may_change_on_resume)
    from .loop import train_stargan

    train_stargan(config, resume=args.resume)
    return 0
