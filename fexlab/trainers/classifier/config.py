"""``fexlab train classifier``: the trainer's config and its command line.

Every option is a field of :class:`ClassifierTrainConfig`; it can come from a config file
(``--config run.yaml``, JSON / YAML / TOML) and be overridden by flags. The resolved config is
written to the run folder, and ``--resume`` continues a run with it. This module imports no
torch, so building the ``fexlab`` parser stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HELP", "IMAGENET", "ClassifierTrainConfig", "add_arguments", "main", "may_change_on_resume"]

#: ``--init imagenet``: a fresh model from the plugin's ImageNet weights.
IMAGENET = "imagenet"

HELP = "train or fine-tune any classifier plugin with Accelerate (also under `accelerate launch`)"


@dataclass
class ClassifierTrainConfig:
    plugin: str = field(default="convnext", metadata={"help": "classifier plugin to train", "metavar": "NAME"})
    data: str = field(default="synthetic", metadata={
        "help": "data: synthetic[:n=7000,size=64,seed=0,gray=0], a FER2013 .csv, FER+ votes (ferplus_votes.csv "
                "or fer2013new.csv), an image-list table, a class-per-folder tree, a save_to_disk folder or "
                "hf:owner/name; several joined by + are trained on together", "metavar": "SOURCE"})
    data_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "reader options, e.g. votes=soft (FER+ vote distributions), contempt=disgust, label_column=emotion "
                "or split_fractions=[0.8,0.1,0.1] (repeatable)"})
    out: str | None = field(default=None, metadata={
        "help": "run folder (default runs/PLUGIN-DATE-TIME)", "metavar": "RUN_DIR"})
    model: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "plugin config for a fresh model, e.g. variant=convnext_femto or input_size=48; with --init, "
                "changes to the checkpoint's config, e.g. input_size=96 (repeatable)"})
    init: str | None = field(default=None, metadata={
        "help": "fine-tune from a pretrained tag (mini_xception: fer2013), checkpoint / run folder or hub id "
                "instead of a fresh model; 'imagenet': a fresh model (configured by --model) from ImageNet "
                "weights, an error where the plugin has none (efficientnet: offline)", "metavar": "TAG|PATH|HUB_ID"})
    epochs: int = field(default=10, metadata={"help": "epochs"})
    batch_size: int = field(default=64, metadata={"help": "faces per batch per process"})
    lr: float = field(default=1e-3, metadata={"help": "peak AdamW learning rate"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay (not on norms and biases)"})
    warmup: float = field(default=0.05, metadata={"help": "linear warm-up, as a fraction of all steps, then cosine decay"})
    label_smoothing: float = field(default=0.1, metadata={"help": "label smoothing of the training loss"})
    mix: str = field(default="none", metadata={
        "help": "blend training batches with a shuffled copy: mixup (whole images) or cutmix (a pasted box); "
                "the loss blends both faces' targets", "choices": ["none", "mixup", "cutmix"]})
    mix_alpha: float = field(default=0.2, metadata={"help": "mixup / cutmix: the blend is drawn from Beta(alpha, alpha)"})
    distill: str | None = field(default=None, metadata={
        "help": "distil from a teacher classifier: NAME[.TAG][:CHECKPOINT] (e.g. mini_xception.fer2013) or a "
                "checkpoint / run folder", "metavar": "TEACHER"})
    distill_weight: float = field(default=0.5, metadata={
        "help": "share of the distillation loss in the training loss (the rest is the label loss)"})
    distill_temperature: float = field(default=4.0, metadata={"help": "temperature of the distillation's softened outputs"})
    balance: str = field(default="weights", metadata={
        "help": "imbalanced classes: class-weighted loss (sklearn's balanced weights, or their square root: "
                "sqrt), balanced sampling, or none",
        "choices": ["weights", "sqrt", "sampler", "none"]})
    augment: bool = field(default=True, metadata={"help": "augment training faces (preprocessing.augment)"})
    augment_options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "augmentation config values (repeatable KEY=VALUE)"})
    patience: int = field(default=5, metadata={"help": "stop after this many epochs without a better val macro-F1 (0: never)"})
    max_minutes: float = field(default=0.0, metadata={
        "help": "stop training once this many minutes are spent (0: no limit); the epoch in progress is "
                "cut short and scored. A time-limited run is not repeatable exactly"})
    grad_accum: int = field(default=1, metadata={"help": "gradient accumulation steps"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (0: off)"})
    mixed_precision: str = field(default="no", metadata={
        "help": "mixed precision through Accelerate's autocast", "choices": ["no", "fp16", "bf16"]})
    seed: int = field(default=0, metadata={"help": "seed of initialisation, data order and augmentation"})
    log_every: int = field(default=10, metadata={"help": "log the training loss every N optimizer steps"})
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes"})
    cpu: bool = field(default=False, metadata={
        "help": "train on the CPU even when a GPU is there (with `accelerate launch --multi_gpu --num_processes N`: "
                "N CPU processes)"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "after the run, upload best/ with a model card to this hub repo", "metavar": "REPO"})

    def run_folder(self) -> str:
        """``out``, or ``runs/PLUGIN-YYYYmmdd-HHMMSS`` when none was given."""
        return self.out or f"runs/{self.plugin}-{time.strftime('%Y%m%d-%H%M%S')}"


#: What ``--resume`` lets change: how long to go on, how to log, where to push.
may_change_on_resume = ("out", "epochs", "patience", "max_minutes", "log_every", "num_workers", "push_to_hub", "cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fexlab train classifier`` (and ``python -m fexlab.trainers.classifier``)."""
    from fexlab.trainers.command import add_run_arguments

    add_run_arguments(parser, ClassifierTrainConfig)


def main(args: argparse.Namespace) -> int:
    """Run ``fexlab train classifier`` from parsed arguments; returns the exit status."""
    from fexlab.trainers.command import config_from_args

    config = config_from_args(ClassifierTrainConfig, args, may_change=may_change_on_resume)
    from .loop import train_classifier

    result = train_classifier(config, resume=args.resume)
    from fexlab.trainers.chance import run_warning

    warning = run_warning(result.run_dir)
    if warning:
        print(f"fexlab: {warning}", file=sys.stderr)
    return 0
