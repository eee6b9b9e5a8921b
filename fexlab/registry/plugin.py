"""What every plugin has: a config dataclass, checkpoints, pretrained tags and a status.

A plugin class declares ``config_class`` (a dataclass) and, when it has weights, returns its
``nn.Module`` from ``torch_module()``; this base class then gives it ``from_config``,
``from_pretrained`` / ``save_pretrained`` (config.json + safetensors) and ``status()``.
Pretrained weights are named by tag, timm style: ``pretrained = {"fer2013": "owner/repo"}``, the
first tag being the default; the registry resolves ``name.tag``.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .checkpoint import (
    WEIGHTS_NAME,
    atomic_directory,
    read_checkpoint_config,
    resolve_source,
    source_available,
    write_checkpoint_config,
)
from .errors import CheckpointError, InputError, NeedsWeightsError

__all__ = ["Plugin", "PluginStatus", "READY", "NEEDS_WEIGHTS", "BROKEN", "make_config"]

READY = "ready"
NEEDS_WEIGHTS = "needs weights"
BROKEN = "broken"

P = TypeVar("P", bound="Plugin")
C = TypeVar("C")


@dataclass(frozen=True)
class PluginStatus:
    """``state`` is ready / needs weights / broken; ``detail`` says why and what to do."""

    state: str
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state == READY


def make_config(config_class: type[C], config: C | dict[str, Any] | None = None, **overrides: Any) -> C:
    """Build a ``config_class`` instance from an instance, a dict and/or keyword overrides.

    Unknown keys raise :class:`InputError` quoting them and listing the known fields.
    """
    if config is None:
        values: dict[str, Any] = {}
    elif isinstance(config, config_class):
        values = dataclasses.asdict(config)
    elif isinstance(config, dict):
        values = dict(config)
    else:
        raise InputError(f"config must be a {config_class.__name__} or a dict, got {type(config).__name__}")
    values.update(overrides)
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(
            f"unknown {config_class.__name__} option(s) {unknown}; known: {sorted(fields)}"
        )
    for key, value in list(values.items()):  # JSON turns tuples into lists; restore them
        if isinstance(value, list) and isinstance(fields[key].default, tuple):
            values[key] = tuple(value)
    return config_class(**values)


class Plugin(abc.ABC):
    """Base of every classifier, generator and face detector."""

    kind: ClassVar[str] = ""
    #: Entry-point name; the registry fills it in when a class leaves it empty.
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"
    #: One line shown in the Plugins tab and ``fexlab plugins``.
    description: ClassVar[str] = ""
    config_class: ClassVar[type] = type(None)
    #: Tag -> checkpoint folder or hub id. The first tag is the default weights.
    pretrained: ClassVar[dict[str, str]] = {}
    #: Whether the plugin is useless without trained weights (a detector usually is not).
    requires_weights: ClassVar[bool] = True
    #: What to do when no weights are available, shown in "needs weights" statuses.
    weights_hint: ClassVar[str] = ""

    def __init__(self, config: Any = None, *, metadata: dict[str, Any] | None = None):
        self.config = make_config(self.config_class, config)
        #: Provenance carried into checkpoints: training data, metrics, source.
        self.metadata: dict[str, Any] = dict(metadata or {})

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_config(cls: type[P], config: Any = None, **overrides: Any) -> P:
        """A plugin with fresh (random or weightless) state from a config and overrides."""
        return cls(make_config(cls.config_class, config, **overrides))

    @classmethod
    def from_pretrained(cls: type[P], source: str | os.PathLike, **overrides: Any) -> P:
        """Load a checkpoint folder or hub id written by :meth:`save_pretrained`.

        ``overrides`` replace fields of the checkpoint's config (``input_size=96`` to fine-tune at
        another size); one that changes the weights' shapes fails when the weights load.
        """
        directory = resolve_source(source)
        payload = read_checkpoint_config(directory, plugin=cls.name or None, kind=cls.kind or None, name=str(source))
        plugin = cls.from_config(payload["config"], **overrides)
        plugin.metadata = {
            key: payload.get(key) for key in ("training_data", "metrics", "labels", "notes", "init") if key in payload
        }
        plugin.metadata["source"] = str(source)
        plugin.load_weights(directory)
        return plugin

    def save_pretrained(self, directory: str | os.PathLike, **metadata: Any) -> Path:
        """Write ``config.json`` and the weights to ``directory`` atomically; returns the folder."""
        merged = {**{k: v for k, v in self.metadata.items() if k != "source"}, **metadata}
        with atomic_directory(directory) as tmp:
            write_checkpoint_config(
                tmp,
                plugin=self.name,
                kind=self.kind,
                plugin_version=self.version,
                config=dataclasses.asdict(self.config),
                labels=self.checkpoint_labels(),
                metadata=merged,
            )
            self.save_weights(tmp)
        return Path(directory)

    # -- weights: one nn.Module state dict in safetensors by default ---------------------------
    def torch_module(self) -> Any:
        """The ``nn.Module`` holding the weights, or None for a weightless plugin."""
        return None

    def checkpoint_labels(self) -> list[str] | None:
        """Labels recorded in ``config.json`` (a classifier's output labels)."""
        return None

    def save_weights(self, directory: Path) -> None:
        module = self.torch_module()
        if module is not None:
            from safetensors.torch import save_model

            save_model(module, str(directory / WEIGHTS_NAME))

    def load_weights(self, directory: Path) -> None:
        module = self.torch_module()
        if module is None:
            return
        path = directory / WEIGHTS_NAME
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {WEIGHTS_NAME}; the checkpoint is incomplete")
        from safetensors.torch import load_model

        try:
            load_model(module, str(path), strict=True, device=str(next(module.parameters()).device))
        except RuntimeError as err:
            raise CheckpointError(f"{path} does not fit this {self.name} config: {err}") from None
        except Exception as err:  # safetensors' own error: a damaged file, or not safetensors at all
            raise CheckpointError(f"{path} is not a readable safetensors file ({err}); re-save the checkpoint") from None
        module.eval()

    # -- pretrained tags and status --------------------------------------------------------------
    @classmethod
    def resolve_pretrained(cls, tag: str | None = None) -> str:
        """The folder or hub id of pretrained tag ``tag`` (default: the first tag)."""
        if not cls.pretrained:
            raise NeedsWeightsError(cls._needs_weights_message())
        if tag is None:
            tag = next(iter(cls.pretrained))
        if tag not in cls.pretrained:
            raise InputError(f"{cls.name} has no pretrained tag '{tag}'; known tags: {list(cls.pretrained)}")
        return cls.pretrained[tag]

    @classmethod
    def load_default(cls: type[P], tag: str | None = None, **overrides: Any) -> P:
        """The instance the app and CLI use when no checkpoint is given (``overrides``: see :meth:`from_pretrained`)."""
        if not cls.requires_weights and not cls.pretrained:
            return cls.from_config(**overrides)
        return cls.from_pretrained(cls.resolve_pretrained(tag), **overrides)

    @classmethod
    def status(cls) -> PluginStatus:
        """ready / needs weights (with the command that makes them) / broken (with the reason)."""
        if not cls.requires_weights and not cls.pretrained:
            return PluginStatus(READY, "no weights needed")
        try:
            source = cls.resolve_pretrained()
        except NeedsWeightsError as err:
            return PluginStatus(NEEDS_WEIGHTS, str(err))
        ok, detail = source_available(source)
        if ok:
            return PluginStatus(READY, detail)
        hint = f"; or {cls.weights_hint}" if cls.weights_hint else ""
        return PluginStatus(NEEDS_WEIGHTS, detail + hint)

    @classmethod
    def _needs_weights_message(cls) -> str:
        hint = cls.weights_hint or "pass a checkpoint folder"
        return f"{cls.name} has no pretrained weights on this machine: {hint}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
