"""The pieces every fexlab trainer shares: run folder, metrics log, checkpoints, resume, guards.

A trainer (classifier, cGAN, SD LoRA) keeps its own loop, shaped like Accelerate's examples, and
hands the bookkeeping to a :class:`RunDirectory`::

    run = RunDirectory(out, resume=resume)              # refuses to overwrite a run by accident
    state = run.load_state(accelerator) if resume else RunState()
    run.write_config(resolved_config)                   # train_config.json
    for epoch in range(state.epoch, epochs):
        ...
        check_finite(loss, epoch=epoch, step=state.step, run=run)   # NaN stops with a clear error
        run.log(split="train", epoch=..., step=..., loss=...)       # one line of metrics.jsonl
        run.save_checkpoint(plugin, "best", metrics=...)            # atomic best/ and last/
        state.epoch = epoch + 1
        run.save_state(accelerator, state)                  # atomic state/ for --resume
        run.plot_curves(("loss", "accuracy"))               # curves.png

A run folder holds ``train_config.json`` (the resolved config), ``metrics.jsonl``, ``curves.png``,
``best/`` and ``last/`` (plugin checkpoints: ``fexlab predict --checkpoint RUN`` uses ``best/``)
and ``state/`` (Accelerate ``save_state`` plus ``trainer_state.json``). Resuming restores the
model, optimizer, scheduler and RNG states and cuts ``metrics.jsonl`` back to the saved point, so
a killed run ends with the same metrics as an uninterrupted one. Everything here works under
``accelerate launch`` with several processes: only the main process writes files.

This module imports only the standard library and ``registry`` at import time, so command-line
parsers can use it without loading torch or Accelerate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fexlab.eval.curves import METRICS_FILE
from fexlab.registry.checkpoint import atomic_write_text, recover_directory, replace_directory
from fexlab.registry.errors import FexlabError, InputError
from fexlab.registry.plugin import make_config

__all__ = [
    "CONFIG_FILE",
    "CURVES_FILE",
    "METRICS_FILE",
    "STATE_DIR",
    "EarlyStopping",
    "EpochSampler",
    "RunDirectory",
    "RunState",
    "TrainingError",
    "add_dataclass_arguments",
    "check_finite",
    "format_metrics",
    "load_config_file",
    "progress",
    "resolve_config",
    "resumed_config",
    "seed_everything",
]

CONFIG_FILE = "train_config.json"
CURVES_FILE = "curves.png"
STATE_DIR = "state"
TRAINER_STATE_FILE = "trainer_state.json"

C = TypeVar("C")


class TrainingError(FexlabError):
    """Training cannot go on (a NaN loss, an unusable data set); the message says what to do."""


# -- seeding and sampling ----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run is repeatable on CPU."""
    from accelerate.utils import set_seed

    set_seed(seed)


class EpochSampler:
    """Indices for one epoch, drawn from a generator seeded by ``(seed, epoch)`` only.

    The order of epoch ``e`` never depends on what ran before, so a resumed run sees exactly the
    batches an uninterrupted run would. With ``weights`` it samples with replacement in
    proportion to them (balanced sampling); otherwise it is a seeded shuffle. Accelerate's
    ``DataLoader.set_epoch`` reaches :meth:`set_epoch`.
    """

    def __init__(self, size: int, seed: int, weights: Sequence[float] | None = None, shuffle: bool = True):
        self.size, self.seed, self.shuffle, self.epoch = int(size), int(seed), shuffle, 0
        self.weights = None if weights is None else [float(w) for w in weights]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        import torch

        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.weights is not None:
            weights = torch.tensor(self.weights, dtype=torch.double)
            order = torch.multinomial(weights, self.size, replacement=True, generator=generator)
        elif self.shuffle:
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        return iter(order.tolist())


# -- guards ------------------------------------------------------------------------------------------
def check_finite(loss: Any, *, epoch: int, step: int, run: RunDirectory | None = None, hint: str = "") -> float:
    """``loss`` as a float; a NaN or infinite loss stops training with a :class:`TrainingError`.

    The message names the epoch and step, where the last good checkpoint is, and what to try.
    """
    value = float(loss.detach().float().mean().item()) if hasattr(loss, "detach") else float(loss)
    if math.isfinite(value):
        return value
    where = f" The last good checkpoint is {run.path / 'last'}." if run is not None and (run.path / "last").exists() else ""
    advice = hint or "lower the learning rate or turn mixed precision off, then start again or --resume"
    raise TrainingError(f"the loss became {value} at epoch {epoch + 1}, step {step}: training stopped.{where} Try: {advice}")


class EarlyStopping:
    """Counts epochs without improvement of a monitored metric; saved with the run state."""

    def __init__(self, patience: int, mode: str = "max", min_delta: float = 0.0):
        if mode not in ("max", "min"):
            raise InputError(f"early-stopping mode must be 'max' or 'min', got '{mode}'")
        self.patience, self.mode, self.min_delta = int(patience), mode, float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stale = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value`` for ``epoch``; True when it is a new best."""
        improved = self.best is None or (
            value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta
        )
        if improved:
            self.best, self.best_epoch, self.stale = float(value), int(epoch), 0
        else:
            self.stale += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.stale >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "stale": self.stale}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.best_epoch, self.stale = state.get("best"), state.get("best_epoch"), int(state.get("stale", 0))


# -- the run folder ----------------------------------------------------------------------------------
@dataclass
class RunState:
    """Where a run is: completed epochs, optimizer steps, training seconds, trainer extras."""

    epoch: int = 0
    step: int = 0
    elapsed: float = 0.0
    metrics_lines: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class RunDirectory:
    """One training run's folder; every write is atomic and done by the main process only.

    ``resume=False`` refuses a folder that already holds a run (so a finished run is never
    overwritten by accident); ``resume=True`` requires one with a saved ``state/``.
    """

    def __init__(self, path: str | os.PathLike, *, resume: bool = False, is_main_process: bool = True):
        self.path = Path(path)
        self.is_main = is_main_process
        self._started = time.monotonic()
        self._elapsed_before = 0.0
        self._lines = 0
        # a kill between the two renames of a state save leaves the previous state beside the run
        recover_directory(self.path / STATE_DIR)
        has_run = any((self.path / name).exists() for name in (CONFIG_FILE, METRICS_FILE, STATE_DIR))
        if resume and not (self.path / STATE_DIR / TRAINER_STATE_FILE).is_file():
            raise InputError(
                f"nothing to resume in {self.path}: it has no saved state ({STATE_DIR}/{TRAINER_STATE_FILE}); "
                "start the run without --resume"
            )
        if not resume and has_run:
            raise InputError(
                f"{self.path} already holds a training run; pass --resume to continue it or choose another --out"
            )
        if self.is_main:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise InputError(f"cannot create the run folder {self.path}: {err.strerror or err}") from None

    # -- files --------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def curves_path(self) -> Path:
        return self.path / CURVES_FILE

    @property
    def state_path(self) -> Path:
        return self.path / STATE_DIR

    def write_config(self, config: Mapping[str, Any]) -> Path:
        """Write the resolved config (everything needed to repeat the run) as ``train_config.json``."""
        if self.is_main:
            atomic_write_text(self.config_path, json.dumps(dict(config), indent=2, default=str) + "\n")
        return self.config_path

    def read_config(self) -> dict[str, Any]:
        """The resolved config a previous start of this run wrote."""
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"cannot read {self.config_path}: {err}") from None

    @property
    def elapsed(self) -> float:
        """Training seconds so far, counting the time before a resume."""
        return self._elapsed_before + time.monotonic() - self._started

    def log(self, **record: Any) -> dict[str, Any]:
        """Append one record (a step or an epoch: ``split``, ``epoch``, ``step``, metrics) to
        ``metrics.jsonl``, with the training seconds so far as ``time``; returns the record."""
        record = {**record, "time": round(self.elapsed, 3)}
        if self.is_main:
            with self.metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, default=float) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        self._lines += 1
        return record

    def records(self, split: str | None = None) -> list[dict[str, Any]]:
        """Every record of ``metrics.jsonl`` (only those of ``split`` when given)."""
        if not self.metrics_path.is_file():
            return []
        rows = [json.loads(line) for line in self.metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [row for row in rows if split is None or row.get("split") == split]

    def save_checkpoint(self, plugin: Any, name: str, **metadata: Any) -> Path:
        """``plugin.save_pretrained(run/name)`` (atomic) from the main process; returns the folder."""
        target = self.path / name
        if self.is_main:
            plugin.save_pretrained(target, **metadata)
        return target

    def plot_curves(self, metrics: Sequence[str], *, x: str = "epoch", title: str | None = None) -> Path | None:
        """Draw ``curves.png``: one panel per metric, one line per split (train, val, ...)."""
        if not self.is_main:
            return None
        from fexlab.eval.curves import curves_figure

        figure = curves_figure(self.records(), metrics, x=x, title=title or self.path.name)
        if figure is None:
            return None
        tmp = self.curves_path.with_name(f".{CURVES_FILE}.tmp.png")
        figure.savefig(tmp, dpi=110)
        os.replace(tmp, self.curves_path)
        return self.curves_path

    # -- resume -------------------------------------------------------------------------------------
    def save_state(self, accelerator: Any, state: RunState) -> Path:
        """Accelerate ``save_state`` plus ``trainer_state.json`` into ``state/``, atomically.

        Every process calls this (Accelerate saves per-process RNG states); the temporary
        folder has a fixed name so all processes write into the same one.
        """
        state.elapsed = self.elapsed
        state.metrics_lines = self._lines
        tmp = self.path / f".tmp-{STATE_DIR}"
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        if accelerator.is_main_process:
            atomic_write_text(tmp / TRAINER_STATE_FILE, json.dumps(dataclasses.asdict(state), indent=2) + "\n")
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            replace_directory(tmp, self.state_path)
        accelerator.wait_for_everyone()
        return self.state_path

    def load_state(self, accelerator: Any) -> RunState:
        """Restore what :meth:`save_state` saved (model, optimizer, scheduler, RNG states) and cut
        ``metrics.jsonl`` back to the lines logged by then. Call after ``accelerator.prepare``."""
        payload = json.loads((self.state_path / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
        state = RunState(**payload)
        accelerator.load_state(str(self.state_path))
        if self.is_main and self.metrics_path.is_file():
            lines = self.metrics_path.read_text(encoding="utf-8").splitlines(keepends=True)
            atomic_write_text(self.metrics_path, "".join(lines[: state.metrics_lines]))
        accelerator.wait_for_everyone()
        self._lines = state.metrics_lines
        self._elapsed_before = state.elapsed
        self._started = time.monotonic()
        return state


# -- progress and summaries ----------------------------------------------------------------------------
def budget_spent(cfg: Any, run: RunDirectory, state: RunState) -> bool:
    """Whether ``cfg.max_minutes`` of training time or ``cfg.max_steps`` steps are used up (0: no limit)."""
    return bool((cfg.max_minutes and run.elapsed > cfg.max_minutes * 60) or (cfg.max_steps and state.step >= cfg.max_steps))


def progress(iterable: Iterable[Any], *, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterable[Any]:
    """A tqdm progress bar on stderr (none when disabled, e.g. on non-main processes)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True)


def format_metrics(metrics: Mapping[str, Any], digits: int = 4) -> str:
    """``{"val_loss": 0.41, "val_accuracy": 0.9}`` -> ``"val_loss 0.4100  val_accuracy 0.9000"``."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
        parts.append(f"{key} {value}")
    return "  ".join(parts)


# -- configs from files and command-line flags ----------------------------------------------------------
def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A training config from a ``.json``, ``.yaml`` / ``.yml`` or ``.toml`` file, as a dict."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            raise InputError(f"config file {path} must end in .json, .yaml, .yml or .toml")
    except InputError:
        raise
    except Exception as err:  # every parser's syntax error is the user's to fix
        raise InputError(f"cannot parse config file {path}: {err}") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold a mapping of option names to values")
    return data


def _parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"true"`` -> True, ``"[1, 2]"`` -> [1, 2]; anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class _KeyValue(argparse.Action):
    """``--opt KEY=VALUE`` (repeatable) into a dict, values parsed as JSON where they can be."""

    def __call__(self, parser, namespace, values, option_string=None):
        key, sep, value = str(values).partition("=")
        if not sep or not key:
            parser.error(f"{option_string} takes KEY=VALUE, got '{values}'")
        mapping = dict(getattr(namespace, self.dest, None) or {})
        mapping[key.strip()] = _parse_value(value)
        setattr(namespace, self.dest, mapping)


def add_dataclass_arguments(parser: argparse.ArgumentParser, config_class: type, *, skip: Sequence[str] = ()) -> None:
    """One ``--flag`` per field of ``config_class`` with its ``metadata["help"]``.

    Flags default to "not given" (``argparse.SUPPRESS``) so :func:`resolve_config` can tell a
    flag from a config-file value. Bools get ``--x / --no-x``, tuples take several values, dicts
    take repeated ``KEY=VALUE``; ``metadata["choices"]`` and ``metadata["metavar"]`` are honoured.
    """
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        meta = f.metadata
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": meta.get("help", "")}
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]
        if "metavar" in meta:
            kwargs["metavar"] = meta["metavar"]
        if default is not None and kwargs["help"] and not isinstance(default, dict):
            kwargs["help"] += f" (default {default})"
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, dict):
            kwargs.update(action=_KeyValue, metavar=meta.get("metavar", "KEY=VALUE"))
        elif isinstance(default, tuple):
            kwargs.update(nargs="+", type=meta.get("type", type(default[0]) if default else str))
        else:
            kwargs["type"] = meta.get("type", type(default) if default is not None else str)
        parser.add_argument(flag, **kwargs)


def resolve_config(config_class: type[C], args: argparse.Namespace | Mapping[str, Any] | None = None,
                   config_file: str | os.PathLike | None = None) -> C:
    """Defaults, then the config file's values, then the flags given: one ``config_class``.

    Unknown keys in the file raise :class:`InputError` listing the known ones.
    """
    values: dict[str, Any] = load_config_file(config_file) if config_file else {}
    names = {f.name for f in dataclasses.fields(config_class)}
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    values.update({key: value for key, value in given.items() if key in names})
    return make_config(config_class, values)


def resumed_config(config_class: type[C], run: RunDirectory, given: Mapping[str, Any], *,
                   may_change: Sequence[str] = ()) -> C:
    """The config a run was started with, for ``--resume``; flags in ``may_change`` (e.g. more
    epochs) may differ, any other flag given must repeat the saved value."""
    saved = make_config(config_class, {k: v for k, v in run.read_config().items()
                                       if k in {f.name for f in dataclasses.fields(config_class)}})
    changed = {}
    for key, value in given.items():
        if not hasattr(saved, key):
            continue
        before = getattr(saved, key)
        if key in may_change:
            changed[key] = value
        elif make_config(config_class, {**dataclasses.asdict(saved), key: value}) != saved:
            raise InputError(
                f"--resume continues {run.path} with its saved config, where {key} is {before!r}, not {value!r}; "
                f"only {', '.join(may_change) or 'nothing'} may change (start a new --out to change it)"
            )
    return make_config(config_class, saved, **changed)
