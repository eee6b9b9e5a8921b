"""The Accelerate training loop for any ``Classifier`` plugin, read top to bottom.

One ``accelerator.prepare``; ``accumulate`` / ``backward`` per batch; ``gather_for_metrics`` in
evaluation; ``save_state`` / ``load_state`` (through :class:`~fexlab.trainers.run.RunDirectory`) for
``--resume``. AdamW with linear warm-up and cosine decay, label smoothing, class-weighted loss or
balanced sampling, soft targets where the data has them, optional mixup / cutmix and distillation
from a teacher classifier (:mod:`.objectives`), early stopping on validation macro-F1, best / last
checkpoints. After training the best checkpoint is reloaded from disk and scored on the test split
through the plugin's own ``predict``, the path the CLI and the app use. ``accelerate launch`` runs
it on several devices with no change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fexlab.registry import EMOTIONS, Classifier, InputError, Registry, default_registry
from fexlab.registry.checkpoint import is_hub_id
from fexlab.trainers.command import reproduce_command
from fexlab.trainers.hub import push_folder, write_checkpoint_card
from fexlab.trainers.run import (
    EarlyStopping,
    EpochSampler,
    RunDirectory,
    RunState,
    check_finite,
    format_metrics,
    progress,
    seed_everything,
)

from .config import IMAGENET, ClassifierTrainConfig
from .data import FaceTensors, Splits, class_weights, load_splits, make_augment, sample_weights
from .objectives import ClassifierLoss, mix_batch

__all__ = ["TrainResult", "evaluate", "train_classifier"]


@dataclass
class TrainResult:
    """What a finished run produced: its folder, best epoch and the val / test metrics."""

    run_dir: Path
    best_epoch: int | None
    val: dict[str, float]
    test: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    init: str = ""
    training_data: str = ""


def _build_plugin(cls: type[Classifier], config: ClassifierTrainConfig, resumed_from: str | None) -> tuple[Classifier, str]:
    """A fresh model from ``config.model`` (plus the plugin's starting weights), or ``config.init``.

    When resuming (``resumed_from`` is the saved note), the saved state replaces the weights, so no
    starting weights are fetched and the note of the first start is kept.
    """
    if not cls.trainable:
        raise InputError(f"{cls.name} has no weights of its own to train; train its members instead")
    if config.init == IMAGENET:
        plugin = cls.from_config(config.model)
        note = resumed_from or plugin.init_for_training(required=True)
        plugin.metadata["init"] = note
        return plugin, note
    if config.init:  # --model changes the checkpoint's config (input_size=96), not its weights' shapes
        load = cls.load_default if config.init in cls.pretrained else cls.from_pretrained
        plugin = load(config.init, **config.model)
        note = f"fine-tuned from {config.init}"
    else:
        plugin = cls.from_config(config.model)
        note = resumed_from or plugin.init_for_training()
    plugin.metadata["init"] = note
    return plugin, note


def _optimizer(module: torch.nn.Module, config: ClassifierTrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and normalisation weights (1-D parameters)."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def evaluate(accelerator: Any, model: torch.nn.Module, loader: Any, plugin: Classifier,
             lookup: torch.Tensor) -> dict[str, float]:
    """Loss, accuracy and macro-F1 over a prepared loader (all processes' faces, gathered)."""
    from sklearn.metrics import accuracy_score, f1_score

    model.eval()
    logits_all, labels_all = [], []
    with torch.no_grad():
        for inputs, labels in loader:
            logits = model(inputs)
            logits, labels = accelerator.gather_for_metrics((logits, labels))
            logits_all.append(logits.float().cpu())
            labels_all.append(labels.cpu())
    logits, labels = torch.cat(logits_all), torch.cat(labels_all)
    loss = torch.nn.functional.cross_entropy(logits, lookup[labels], ignore_index=-1).item()
    probs = plugin.label_mapping.to_canonical(torch.softmax(logits, dim=1).numpy())
    predicted, truth = probs.argmax(axis=1), labels.numpy()
    model.train()
    return {"loss": loss, "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0))}


def train_classifier(config: ClassifierTrainConfig, *, resume: bool = False, registry: Registry | None = None,
                     dataset: Any = None) -> TrainResult:
    """Train ``config.plugin`` on ``config.data`` (or ``dataset``, a ``FaceDataset``) into a run folder."""
    from accelerate import Accelerator
    from transformers import get_cosine_schedule_with_warmup

    try:
        accelerator = Accelerator(
            gradient_accumulation_steps=config.grad_accum, mixed_precision=config.mixed_precision, cpu=config.cpu
        )
    except (ValueError, RuntimeError) as err:
        raise InputError(f"cannot train with mixed_precision={config.mixed_precision!r} here: {err}") from None
    run = RunDirectory(config.run_folder(), resume=resume, is_main_process=accelerator.is_main_process)
    seed_everything(config.seed)

    # -- data and model ------------------------------------------------------------------------------
    cls = (registry or default_registry()).plugin_class("classifier", config.plugin)
    splits: Splits = load_splits(dataset if dataset is not None else config.data, config.data_options)
    saved_note = run.read_config().get("resolved", {}).get("init") if resume else None
    plugin, init_note = _build_plugin(cls, config, saved_note)
    augment, augment_note = make_augment(config.augment, config.augment_options, config.seed)
    lookup = torch.from_numpy(plugin.label_mapping.to_source_targets(np.arange(len(EMOTIONS))))
    extras, objective_note = _train_extras(splits, config, registry or default_registry())
    train_set = FaceTensors(splits.faces["train"], splits.labels["train"], plugin.train_transform(), augment, extras)
    val_set = FaceTensors(splits.faces["val"], splits.labels["val"], plugin.eval_transform())
    sampler = EpochSampler(len(train_set), config.seed,
                           sample_weights(splits.labels["train"]) if config.balance == "sampler" else None)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=config.batch_size, sampler=sampler,
                                               num_workers=config.num_workers, drop_last=len(train_set) > config.batch_size)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=config.batch_size * 4, num_workers=config.num_workers)
    weights = (class_weights(splits.labels["train"], plugin.labels, lookup.numpy(),
                             power=0.5 if config.balance == "sqrt" else 1.0)
               if config.balance in ("weights", "sqrt") else None)
    loss_fn = ClassifierLoss(lookup, len(plugin.labels), weight=weights, label_smoothing=config.label_smoothing,
                             distill_weight=config.distill_weight if config.distill else 0.0,
                             temperature=config.distill_temperature)

    model = plugin.torch_module()
    model.train()
    optimizer = _optimizer(model, config)
    total_steps = max(1, math.ceil(len(train_loader) / config.grad_accum) * config.epochs)
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup * total_steps), total_steps)
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, val_loader, scheduler
    )
    loss_fn, lookup = loss_fn.to(accelerator.device), lookup.to(accelerator.device)

    stopper = EarlyStopping(config.patience, mode="max")
    state = RunState()
    if resume:
        state = run.load_state(accelerator)
        stopper.load_state_dict(state.extra.get("early_stopping", {}))
    provenance = {"training_data": splits.name, "synthetic": splits.synthetic, "init": init_note}
    run.write_config({**asdict(config), "out": str(run.path), "resolved": {
        **provenance, "augmentation": augment_note, "objective": objective_note, "data_info": splits.info,
        "split_sizes": splits.counts(), "total_steps": total_steps,
        "processes": accelerator.num_processes, "device": str(accelerator.device),
        "command": reproduce_command("classifier", config)}})
    accelerator.print(f"training {config.plugin} on {splits.name}: {splits.counts()}; {init_note}; "
                      f"objective: {objective_note}; augmentation: {augment_note}; run folder {run.path}")

    # -- the loop ------------------------------------------------------------------------------------
    steps_per_epoch = math.ceil(len(train_loader) / config.grad_accum)
    while state.epoch < config.epochs and not state.extra.get("stopped"):
        epoch, started = state.epoch, time.monotonic()
        train_loader.set_epoch(epoch)
        train_set.set_epoch(epoch)
        totals = torch.zeros(3, device=accelerator.device)  # loss sum, correct, count
        window: list[float] = []
        bar = progress(train_loader, total=len(train_loader), desc=f"epoch {epoch + 1}/{config.epochs}",
                       enabled=accelerator.is_local_main_process)
        for batch, (inputs, labels, extras) in enumerate(bar):
            inputs, mix = mix_batch(inputs, config.mix, config.mix_alpha,
                                    (config.seed, epoch, batch, accelerator.process_index))
            with accelerator.accumulate(model):
                logits = model(inputs)
                loss = loss_fn(logits, labels, extras, mix)
                value = check_finite(loss, epoch=epoch, step=state.step, run=run)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            predicted = torch.from_numpy(plugin.label_mapping.to_canonical(
                torch.softmax(logits.detach().float(), 1).cpu().numpy()).argmax(1)).to(labels.device)
            totals += torch.stack([loss.detach().float() * len(labels), (predicted == labels).sum().float(),
                                   torch.tensor(float(len(labels)), device=labels.device)])
            window.append(value)
            if accelerator.sync_gradients:
                state.step += 1
                if state.step % config.log_every == 0:
                    run.log(split="train_step", epoch=round(epoch + (state.step % steps_per_epoch or steps_per_epoch)
                                                           / steps_per_epoch, 4),
                            step=state.step, loss=float(np.mean(window)), lr=scheduler.get_last_lr()[0])
                    window = []
                if config.max_minutes and _time_up(accelerator, run, config.max_minutes):
                    break

        loss_sum, correct, count = accelerator.reduce(totals, reduction="sum").tolist()
        train = {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}
        val = evaluate(accelerator, model, val_loader, plugin, lookup)
        run.log(split="train", epoch=epoch + 1, step=state.step, **train)
        run.log(split="val", epoch=epoch + 1, step=state.step, **val)
        improved = stopper.update(val["macro_f1"], epoch + 1)
        metrics = {f"val_{key}": value for key, value in val.items()} | {"epoch": epoch + 1}
        if improved:
            run.save_checkpoint(plugin, "best", **provenance, metrics=metrics)
        run.save_checkpoint(plugin, "last", **provenance, metrics=metrics)
        out_of_time = bool(config.max_minutes) and _time_up(accelerator, run, config.max_minutes)
        state.epoch = epoch + 1
        state.extra = {"early_stopping": stopper.state_dict(), "stopped": stopper.should_stop or out_of_time}
        run.save_state(accelerator, state)
        run.plot_curves(("loss", "accuracy"), title=f"{config.plugin} on {splits.name}")
        accelerator.print(
            f"epoch {epoch + 1}/{config.epochs}  train_loss {train['loss']:.4f}  train_acc {train['accuracy']:.4f}  "
            f"{format_metrics({f'val_{k}': v for k, v in val.items()})}  lr {scheduler.get_last_lr()[0]:.2e}  "
            f"{time.monotonic() - started:.1f}s{'  *best*' if improved else ''}"
        )
        if out_of_time:
            accelerator.print(f"time budget of {config.max_minutes:g} minutes spent: training stops here")
        elif stopper.should_stop:
            accelerator.print(f"early stop: no better val macro-F1 for {config.patience} epochs "
                              f"(best {stopper.best:.4f} at epoch {stopper.best_epoch})")

    # -- the best checkpoint, reloaded from disk, on the test split -----------------------------------
    accelerator.wait_for_everyone()
    result = TrainResult(run.path, stopper.best_epoch, _best_val(run), seconds=run.elapsed, init=init_note,
                         training_data=splits.name)
    if accelerator.is_main_process:
        result.test = _test_best(cls, run, splits, config, provenance)
        write_checkpoint_card(run.path / "best", kind="classifier", config=asdict(config),
                              command=reproduce_command("classifier", config),
                              base_model=config.init if config.init and is_hub_id(config.init) else None)
        if config.push_to_hub:
            print(f"pushed {run.path / 'best'} to {push_folder(run.path / 'best', config.push_to_hub, run_dir=run.path)}")
    return result


def _train_extras(splits: Splits, config: ClassifierTrainConfig, registry: Registry) -> tuple[dict[str, np.ndarray], str]:
    """Per-face training targets beyond the label: "soft" distributions (when the data has them) and
    the "teacher" probabilities of ``config.distill``; and one line saying what the loss is."""
    extras: dict[str, np.ndarray] = {}
    notes = ["cross-entropy on " + ("soft targets (per-face label distributions)" if splits.targets.get("train")
                                    is not None else "labels")]
    if splits.targets.get("train") is not None:
        extras["soft"] = splits.targets["train"]
    if config.distill:
        from sklearn.metrics import accuracy_score

        teacher = registry.classifier(config.distill)
        extras["teacher"] = teacher.predict(splits.faces["train"])
        val_accuracy = accuracy_score(splits.labels["val"], teacher.predict(splits.faces["val"]).argmax(axis=1))
        notes.append(f"distilled from {config.distill} (weight {config.distill_weight:g}, temperature "
                     f"{config.distill_temperature:g}; the teacher's val accuracy {val_accuracy:.4f})")
    if config.mix != "none":
        notes.append(f"{config.mix} (alpha {config.mix_alpha:g})")
    return extras, "; ".join(notes)


def _time_up(accelerator: Any, run: RunDirectory, minutes: float) -> bool:
    """Whether the training time budget is spent, agreed by all processes (any one's clock counts)."""
    spent = torch.tensor(float(run.elapsed > minutes * 60), device=accelerator.device)
    return bool(accelerator.reduce(spent, reduction="sum").item() > 0)


def _best_val(run: RunDirectory) -> dict[str, float]:
    records = run.records("val")
    return max(records, key=lambda r: r.get("macro_f1", -1.0), default={})


def _test_best(cls: type[Classifier], run: RunDirectory, splits: Splits, config: ClassifierTrainConfig,
               provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Score ``best/`` on the test split with ``predict``; record it in metrics.jsonl and best/."""
    from fexlab.eval.classification import classification_metrics

    best = cls.from_pretrained(run.path / "best")
    if not len(splits.labels["test"]):
        print("no test split: the run has validation scores only")
        return {}
    scores = classification_metrics(splits.labels["test"], best.predict(splits.faces["test"]), n_resamples=200,
                                     seed=config.seed)
    test = {"accuracy": scores.accuracy, "balanced_accuracy": scores.balanced_accuracy, "macro_f1": scores.macro_f1,
            "accuracy_ci95": list(scores.accuracy_ci), "n": scores.n}
    run.log(split="test", epoch=best.metadata.get("metrics", {}).get("epoch"), **test)
    metrics = {**best.metadata.get("metrics", {}), **{f"test_{key}": value for key, value in test.items()}}
    best.save_pretrained(run.path / "best", **provenance, metrics=metrics)
    run.plot_curves(("loss", "accuracy"), title=f"{config.plugin} on {splits.name}")
    label = " (SYNTHETIC faces)" if splits.synthetic else ""
    print(f"test{label}: accuracy {scores.accuracy:.4f} (95% CI {scores.accuracy_ci[0]:.3f}-{scores.accuracy_ci[1]:.3f})"
          f"  macro_f1 {scores.macro_f1:.4f}  n {scores.n}; best checkpoint {run.path / 'best'} "
          f"(epoch {metrics.get('epoch')}), {run.elapsed:.0f}s of training")
    return test
