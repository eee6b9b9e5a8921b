"""What the two GAN trainers (``fexlab.trainers.cgan``, ``fexlab.trainers.stargan``) share: opening the run
(Accelerator, run folder, seed, judge, the training faces in memory), the faces of a split as
arrays at the model's resolution, and the model card at the end."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

from .run import RunDirectory, TrainingError, seed_everything

__all__ = ["GANRun", "ema_copy", "face_arrays", "finish_gan_run", "load_judge", "open_gan_run"]


@dataclasses.dataclass
class GANRun:
    """An opened GAN run: the resolved config (``out`` set), its Accelerator, run folder, judge
    (or None) and training faces."""

    cfg: Any
    accelerator: Any
    run: RunDirectory
    judge: Any
    faces: np.ndarray
    labels: np.ndarray
    dataset: Any

    def provenance(self) -> dict[str, Any]:
        return {"training_data": f"{self.dataset.name}; source '{self.cfg.data}', train split, {len(self.labels)} faces",
                "synthetic": bool(getattr(self.dataset, "synthetic", False))}


def open_gan_run(cfg: Any, resume: bool, policies: tuple[str, ...], trainer: str) -> GANRun:
    """Check the DiffAugment ``policies``, start Accelerate, open the run folder, seed, load the
    judge and the training faces, and write the run's config with the ``fexlab train TRAINER``
    command that reproduces it."""
    import torch
    from accelerate import Accelerator

    from fexlab.plugins.cgan.diffaugment import parse_policy

    from .command import reproduce_command

    try:
        for policy in policies:
            parse_policy(policy)
    except ValueError as err:
        raise InputError(str(err)) from None
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=cfg.cpu or not torch.cuda.is_available())
    cfg = dataclasses.replace(cfg, out=cfg.run_folder())
    run = RunDirectory(cfg.out, resume=resume, is_main_process=accelerator.is_main_process)
    seed_everything(cfg.seed)
    judge = load_judge(cfg.judge)
    faces, labels, dataset = face_arrays(cfg.data, cfg.data_options, "train", cfg.resolution, cfg.grayscale, cfg.limit)
    run.write_config({**dataclasses.asdict(cfg), "training_data": dataset.name, "train_faces": len(labels),
                      "resolved": {"command": reproduce_command(trainer, cfg)}})
    return GANRun(cfg, accelerator, run, judge, faces, labels, dataset)


def finish_gan_run(opened: GANRun, trainer: str) -> RunDirectory:
    """The model card of ``best/`` with the command that reproduces the run; returns the run."""
    from .command import reproduce_command
    from .hub import write_checkpoint_card

    run = opened.run
    if opened.accelerator.is_main_process and (run.path / "best").is_dir():
        write_checkpoint_card(run.path / "best", kind="generator", config=dataclasses.asdict(opened.cfg),
                              command=reproduce_command(trainer, opened.cfg))
    return run


def ema_copy(module: Any, decay: float) -> Any:
    """The exponential moving average of ``module`` (``torch.optim.swa_utils.AveragedModel``,
    buffers included) with a warm-up: update ``n`` uses ``min(decay, (1 + n) / (10 + n))``, so the
    average follows the early, fast-changing weights instead of holding on to the random start
    for thousands of steps (with 0.999, 37% of the start would remain after 1,000 steps)."""
    import torch
    from torch.optim.swa_utils import AveragedModel

    def average(averaged: list, current: list, updates: Any) -> None:
        n = float(updates)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, weight)
        else:  # counters such as batch norm's num_batches_tracked: the current value
            for mine, theirs in zip(averaged, current):
                mine.copy_(theirs)

    return AveragedModel(module, multi_avg_fn=average, use_buffers=True)


def face_arrays(source: str, options: dict[str, Any], split: str, resolution: int, grayscale: bool,
                limit: int = 0, *, need_all: bool = True) -> tuple[np.ndarray, np.ndarray, Any]:
    """(N, C, H, W) float32 faces in [-1, 1], (N,) labels, and the data set (for provenance) of
    ``split``; ``need_all`` refuses a split that lacks one of the seven emotions."""
    import cv2

    from fexlab.preprocessing.readers import open_dataset

    dataset = open_dataset(source, **options)
    part = dataset.split(split)
    if len(part) == 0:
        raise TrainingError(f"{dataset.name} has no {split} faces")
    if limit:
        part = part.subset(range(min(len(part), limit)))
    labels = part.labels()
    channels = 1 if grayscale else 3
    faces = np.empty((len(part), resolution, resolution, channels), np.uint8)
    for i, image in enumerate(sample.image for sample in part):
        if image.shape[:2] != (resolution, resolution):
            shrink = image.shape[0] > resolution
            image = cv2.resize(image, (resolution, resolution), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        faces[i] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None] if grayscale else image
    missing = [EMOTIONS[k] for k in range(len(EMOTIONS)) if not (labels == k).any()]
    if missing and need_all:
        raise TrainingError(f"the {split} split of {dataset.name} has no faces of {missing}; the model needs all 7")
    return faces.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0, labels, dataset


def load_judge(spec: str | None) -> Any:
    """The classifier ``NAME[:CHECKPOINT]`` that scores samples each epoch, or None."""
    if not spec:
        return None
    from fexlab.registry import default_registry

    return default_registry().classifier(spec)
