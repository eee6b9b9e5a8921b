"""The plugin registry: discovers plugins through entry points, loads them lazily and once.

Entry points are read in exactly one function, :func:`discover_entry_points`. A plugin's module
is imported only when its class is first needed, and a plugin whose import fails is listed as
broken with its error while the others keep working. Unknown names raise an error that lists the
known names and the closest match.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from .analyzer import FaceAnalyzer
from .checkpoint import checkpoint_plugin
from .classifier import Classifier
from .detector import FaceDetector
from .errors import BrokenPluginError, InputError, UnknownPluginError
from .generator import Generator
from .plugin import BROKEN, Plugin, PluginStatus

__all__ = ["KINDS", "GROUPS", "SPEC_OPTIONS", "PluginInfo", "Registry", "default_registry", "discover_entry_points",
           "parse_spec", "split_spec_options"]

#: Plugin kind -> (entry-point group, base class).
KINDS: dict[str, tuple[str, type[Plugin]]] = {
    "classifier": ("fexlab.classifiers", Classifier),
    "generator": ("fexlab.generators", Generator),
    "detector": ("fexlab.detectors", FaceDetector),
    "analyzer": ("fexlab.analyzers", FaceAnalyzer),
}
GROUPS = {kind: group for kind, (group, _) in KINDS.items()}
#: Spec suffix -> the classifier attribute it switches on (``mini_xception.fer2013+flip``).
SPEC_OPTIONS = {"flip": "test_time_flip"}


def discover_entry_points() -> list[EntryPoint]:
    """Every installed entry point in the fexlab groups: the one place they are read."""
    from importlib.metadata import entry_points

    found: list[EntryPoint] = []
    for group in GROUPS.values():
        found.extend(entry_points(group=group))
    return found


def split_spec_options(spec: str) -> tuple[str, dict[str, bool]]:
    """``"name[.tag][:checkpoint][+option...]"`` -> (the spec without options, {attribute: True}).

    The options are :data:`SPEC_OPTIONS`: ``+flip`` averages a classifier's predictions on each
    face and its mirror image (``Classifier.test_time_flip``).
    """
    head, options = str(spec).strip(), {}
    while True:
        base, sep, word = head.rpartition("+")
        if not sep or word.strip().lower() not in SPEC_OPTIONS:
            return head, options
        options[SPEC_OPTIONS[word.strip().lower()]] = True
        head = base.strip()


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``"name[.tag][:checkpoint]"`` -> (name, tag, checkpoint), e.g. ``"convnext:runs/a/best"``;
    ``+options`` at the end are ignored here (see :func:`split_spec_options`)."""
    head, _, checkpoint = split_spec_options(spec)[0].partition(":")
    name, _, tag = head.strip().partition(".")
    return name, (tag or None), (checkpoint.strip() or None)


@dataclass(frozen=True)
class PluginInfo:
    """What the Plugins tab and ``fexlab plugins`` show about one plugin."""

    kind: str
    name: str
    status: str
    detail: str
    package: str
    target: str
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "status": self.status, "detail": self.detail}


class Registry:
    """All plugins of all kinds, by name.

    ``entry_points`` defaults to what is installed; tests pass their own. Loaded classes and
    instances are cached, so a plugin module is imported once and a model is built once.
    """

    def __init__(self, entry_points: Iterable[EntryPoint] | None = None):
        if entry_points is None:
            entry_points = discover_entry_points()
        group_kind = {group: kind for kind, group in GROUPS.items()}
        self._entry_points: dict[str, dict[str, EntryPoint]] = {kind: {} for kind in KINDS}
        self._conflicts: dict[tuple[str, str], str] = {}
        for ep in entry_points:
            kind = group_kind.get(ep.group)
            if kind is None:
                continue
            known = self._entry_points[kind].get(ep.name)
            if known is None:
                self._entry_points[kind][ep.name] = ep
            elif known.value != ep.value:
                self._conflicts[(kind, ep.name)] = (
                    f"name '{ep.name}' is also claimed by {_package(ep)} ({ep.value}); "
                    f"using {_package(known)} ({known.value})"
                )
        self._classes: dict[tuple[str, str], type[Plugin] | BaseException] = {}
        self._instances: dict[tuple[str, str, str | None, str | None], Plugin] = {}
        self._lock = threading.RLock()

    # -- names ---------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Sorted plugin names of ``kind`` (classifier, generator, detector or analyzer)."""
        return sorted(self._entry_points[self._check_kind(kind)])

    def _check_kind(self, kind: str) -> str:
        if kind not in KINDS:
            raise UnknownPluginError(f"unknown plugin kind '{kind}'; kinds: {', '.join(KINDS)}")
        return kind

    def _entry_point(self, kind: str, name: str) -> EntryPoint:
        eps = self._entry_points[self._check_kind(kind)]
        if name in eps:
            return eps[name]
        everything = [n for k in KINDS for n in self._entry_points[k]]
        close = difflib.get_close_matches(name, everything, n=1, cutoff=0.5)
        hint = ""
        if close:
            other = next(k for k in KINDS if close[0] in self._entry_points[k])
            hint = f"; did you mean '{close[0]}'" + ("" if other == kind else f" (a {other})") + "?"
        known = ", ".join(sorted(eps)) or "none installed"
        raise UnknownPluginError(f"no {kind} named '{name}'; available: {known}{hint}")

    # -- classes -------------------------------------------------------------------------------
    def plugin_class(self, kind: str, name: str) -> type[Plugin]:
        """Import (once) and return the plugin class; :class:`BrokenPluginError` if it cannot be."""
        ep = self._entry_point(kind, name)
        key = (kind, name)
        with self._lock:
            if key not in self._classes:
                self._classes[key] = self._import(kind, ep)
            loaded = self._classes[key]
        if isinstance(loaded, BaseException):
            raise BrokenPluginError(f"{kind} '{name}' ({ep.value}) is broken: {_describe(loaded)}")
        return loaded

    @staticmethod
    def _import(kind: str, ep: EntryPoint) -> type[Plugin] | BaseException:
        base = KINDS[kind][1]
        try:
            obj = ep.load()
        except Exception as err:  # any import-time failure isolates this plugin only
            return err
        if not (inspect.isclass(obj) and issubclass(obj, base)):
            return TypeError(f"{ep.value} is not a subclass of {base.__module__}.{base.__name__}")
        if inspect.isabstract(obj):
            missing = ", ".join(sorted(obj.__abstractmethods__))
            return TypeError(f"{ep.value} does not implement {missing}")
        if not obj.name:
            obj.name = ep.name
        return obj

    # -- status ----------------------------------------------------------------------------------
    def info(self, kind: str, name: str) -> PluginInfo:
        """Status of one plugin; importing or checking it never raises."""
        ep = self._entry_point(kind, name)
        description = ""
        try:
            cls = self.plugin_class(kind, name)
            description = cls.description
            status = cls.status()
        except BrokenPluginError as err:
            status = PluginStatus(BROKEN, str(err).split(" is broken: ", 1)[-1])
        except Exception as err:  # a status() that raises is itself a broken plugin
            status = PluginStatus(BROKEN, f"status() failed: {_describe(err)}")
        detail = status.detail
        if (kind, name) in self._conflicts:
            detail = f"{detail} ({self._conflicts[(kind, name)]})"
        return PluginInfo(kind, name, status.state, detail, _package(ep), ep.value, description)

    def infos(self, kind: str | None = None) -> list[PluginInfo]:
        """Status of every plugin (of one kind, if given), kind by kind, name by name."""
        kinds = [self._check_kind(kind)] if kind else list(KINDS)
        return [self.info(k, name) for k in kinds for name in self.names(k)]

    def ready_names(self, kind: str) -> list[str]:
        """Names of the plugins of ``kind`` that can be loaded now."""
        return [info.name for info in self.infos(kind) if info.status == "ready"]

    # -- instances -------------------------------------------------------------------------------
    def load(self, kind: str, spec: str, *, checkpoint: str | None = None, cache: bool = True) -> Any:
        """A ready-to-use plugin instance for ``"name[.tag][:checkpoint][+flip]"`` or a checkpoint /
        training-run folder (its ``config.json`` names the plugin).

        With no checkpoint, the plugin's default (first) pretrained tag is loaded; a plugin
        with no weights available raises :class:`~fexlab.registry.errors.NeedsWeightsError`. Spec options
        (``+flip``) give a copy of the plugin, sharing its weights, with that option on.
        """
        spec, options = split_spec_options(spec)
        if options and kind != "classifier":
            raise InputError(f"+{', +'.join(SPEC_OPTIONS)} applies to classifiers, not to the {kind} '{spec}'")
        folder_plugin = None if checkpoint else checkpoint_plugin(spec)
        if folder_plugin:
            spec = f"{folder_plugin}:{spec}"
        name, tag, spec_checkpoint = parse_spec(spec)
        checkpoint = checkpoint or spec_checkpoint
        cls = self.plugin_class(kind, name)
        key = (kind, name, tag, str(checkpoint) if checkpoint else None, tuple(sorted(options)))
        with self._lock:
            if cache and key in self._instances:
                return self._instances[key]
            if options:
                plugin = copy.copy(self.load(kind, spec, checkpoint=checkpoint, cache=cache))
                for attribute, value in options.items():
                    setattr(plugin, attribute, value)
            else:
                plugin = cls.from_pretrained(checkpoint) if checkpoint else cls.load_default(tag)
            if cache:
                self._instances[key] = plugin
            return plugin

    def classifier(self, spec: str, *, checkpoint: str | None = None) -> Classifier:
        return self.load("classifier", spec, checkpoint=checkpoint)

    def generator(self, spec: str, *, checkpoint: str | None = None) -> Generator:
        return self.load("generator", spec, checkpoint=checkpoint)

    def detector(self, spec: str, *, checkpoint: str | None = None) -> FaceDetector:
        return self.load("detector", spec, checkpoint=checkpoint)

    def analyzer(self, spec: str, *, checkpoint: str | None = None) -> FaceAnalyzer:
        return self.load("analyzer", spec, checkpoint=checkpoint)


def _package(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown package"


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of everything installed, shared by the CLI and the app."""
    return Registry()
