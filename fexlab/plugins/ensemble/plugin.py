"""The ``ensemble`` classifier plugin: the weighted mean of the probabilities of other classifiers.

Its config names the members by spec, as the CLI does (``convnext``, ``mini_xception.fer2013+flip``,
``vit:runs/vit``, a checkpoint or run folder), with optional weights (default: equal). Members are
resolved through the registry when the ensemble is built, each with its own preprocessing, so any
registered classifier can take part. An ensemble has no weights of its own: its checkpoint folder
holds ``config.json`` (the members and weights) and a model card naming the members. It is ready
when every member is.

A member may abstain on a face (:meth:`~fexlab.registry.Classifier.predict_or_abstain` gives a NaN
row: ``geometry`` where it finds no face mesh); that face then gets the weighted mean of the other
members, the weights renormalised over them (:func:`weighted_mean`), so its probabilities still sum
to one. Tag ``geometry`` fuses ``efficientnet.ferplus_muxspace`` (appearance) with ``geometry.ferplus``
(the face mesh's blendshapes and points) this way.

Make one from Python and use it like any classifier::

    Ensemble.from_config(members=["convnext", "vit"], weights=[2, 1]).save_pretrained("ens")
    fexlab evaluate --classifier ensemble:ens --data ... --split val
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import Classifier, InputError, default_registry
from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.checkpoint import checkpoint_plugin, source_available
from fexlab.registry.errors import FexlabError, NeedsWeightsError
from fexlab.registry.plugin import NEEDS_WEIGHTS, READY, PluginStatus
from fexlab.registry.registry import Registry, parse_spec, split_spec_options

__all__ = ["Ensemble", "EnsembleConfig", "WEIGHTS_DIR", "weighted_mean"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CARD_NAME = "README.md"


@dataclass
class EnsembleConfig:
    #: Classifier specs of the members, as ``fexlab predict --classifier`` takes them.
    members: tuple[str, ...] = ()
    #: One non-negative weight per member (empty: all equal); normalised to sum to 1.
    weights: tuple[float, ...] = ()


def weighted_mean(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Per face, the weighted mean of the members' (N, 7) probabilities, leaving out the members
    whose row is NaN (abstained) and renormalising the weights of the others; a face every member
    abstained on (or only zero-weight ones read) gets a uniform row."""
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])  # (M, N, 7)
    present = ~np.isnan(stacked).any(axis=2)  # (M, N)
    w = np.asarray(weights, dtype=np.float64)[:, None] * present
    total = w.sum(axis=0)  # (N,)
    mixed = np.einsum("mn,mnk->nk", w, np.nan_to_num(stacked))
    empty = total <= 0
    mixed[~empty] /= total[~empty, None]
    mixed[empty] = 1.0 / stacked.shape[2]
    return mixed.astype(np.float32)


def member_status(spec: str, registry: Registry) -> tuple[bool, str]:
    """Whether a member spec can be loaded now, without loading it, and why not."""
    spec = split_spec_options(spec)[0]
    if checkpoint_plugin(spec):
        return True, f"checkpoint {spec}"
    name, tag, checkpoint = parse_spec(spec)
    try:
        cls = registry.plugin_class("classifier", name)
        if checkpoint:
            return source_available(checkpoint)
        if tag:
            return source_available(cls.resolve_pretrained(tag))
        status = cls.status()
    except FexlabError as err:
        return False, str(err)
    return status.ready, status.detail


class Ensemble(Classifier):
    """Weighted mean of its members' probabilities over the seven emotions."""

    name: ClassVar[str] = "ensemble"
    description: ClassVar[str] = "averages the probabilities of the classifiers named in its config (weights optional)"
    config_class: ClassVar[type] = EnsembleConfig
    pretrained: ClassVar[dict[str, str]] = {"ferplus": str(WEIGHTS_DIR / "ferplus"), "geometry": str(WEIGHTS_DIR / "geometry")}
    trainable: ClassVar[bool] = False
    #: Its members run on ONNX Runtime each; the ensemble has no network of its own to export.
    onnx_export: ClassVar[bool] = False
    weights_hint: ClassVar[str] = ("name the members in a config: Ensemble.from_config(members=[...]).save_pretrained(DIR), "
                                   "then use ensemble:DIR")

    def __init__(self, config: Any = None, *, registry: Registry | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        if cfg.weights and (len(cfg.weights) != len(cfg.members) or min(cfg.weights) < 0 or sum(cfg.weights) <= 0):
            raise InputError(f"ensemble weights {list(cfg.weights)} must be one non-negative number per member "
                             f"({len(cfg.members)}), not all zero")
        registry = registry or default_registry()
        self.members: dict[str, Classifier] = {}
        for spec in cfg.members:
            try:
                self.members[spec] = registry.classifier(spec)
            except NeedsWeightsError as err:
                raise NeedsWeightsError(f"ensemble member {spec} needs weights: {err}") from None
        weights = np.asarray(cfg.weights or [1.0] * len(cfg.members), dtype=np.float64)
        self.member_weights = weights / weights.sum() if len(weights) else weights
        if self.members:
            self.metadata["training_data"] = self._members_note()

    def _members_note(self) -> str:
        return "ensemble of " + "; ".join(f"{spec} ({member.metadata.get('training_data') or 'training data not recorded'})"
                                          for spec, member in self.members.items())

    @classmethod
    def status(cls) -> PluginStatus:
        """Ready when every member of the default ensemble is; else "needs weights" naming the member."""
        base = super().status()
        if not base.ready:
            return base
        from fexlab.registry.checkpoint import read_checkpoint_config

        members = read_checkpoint_config(cls.resolve_pretrained())["config"].get("members", [])
        registry = default_registry()
        for spec in members:
            ok, detail = member_status(spec, registry)
            if not ok:
                return PluginStatus(NEEDS_WEIGHTS, f"ensemble member {spec} needs weights: {detail}")
        return PluginStatus(READY, f"members {', '.join(members)}")

    # -- no weights of its own ---------------------------------------------------------------------
    def torch_module(self) -> Any:
        """The members' modules in one ``ModuleList`` (for parameter counts); not a network to train."""
        import torch

        return torch.nn.ModuleList([m for m in (c.torch_module() for c in self.members.values()) if m is not None])

    def save_weights(self, directory: Path) -> None:
        """An ensemble has no weights: beside its config.json goes the model card naming the members."""
        (directory / CARD_NAME).write_text(self.model_card(), encoding="utf-8")

    def load_weights(self, directory: Path) -> None:
        """Nothing to load: the members were loaded from the config."""

    def model_card(self) -> str:
        """Markdown naming every member, its weight and its training data."""
        rows = "\n".join(f"| `{spec}` | {weight:.3f} | {member.metadata.get('training_data') or 'not recorded'} |"
                         for (spec, member), weight in zip(self.members.items(), self.member_weights))
        return (f"# fexlab classifier: ensemble\n\nThe weighted mean of the probabilities of {len(self.members)} "
                f"classifiers, each with its own preprocessing.\n\n| member | weight | training data |\n|---|---|---|\n"
                f"{rows}\n\nLoad it with `fexlab predict --classifier ensemble:<this folder> photo.jpg`.\n")

    # -- inference ---------------------------------------------------------------------------------
    def _check_members(self) -> None:
        if not self.members:
            raise InputError("this ensemble has no members; name them with Ensemble.from_config(members=[...])")

    def _probabilities(self, faces: list[np.ndarray]) -> np.ndarray:
        self._check_members()
        return weighted_mean([member.predict_or_abstain(faces) for member in self.members.values()], self.member_weights)

    def predict_analysed(self, faces: Sequence[np.ndarray], analyses: Sequence[dict[str, Any] | None]) -> np.ndarray:
        """The weighted mean of the members, each given the faces' analyses (see the base class), a
        member that abstains on a face left out there; with ``+flip``, :meth:`predict` (a mirrored face
        has no analysis)."""
        self._check_members()
        faces = list(faces)
        if self.test_time_flip:
            return self.predict(faces)
        if not faces:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        return weighted_mean([member.predict_or_abstain(faces, analyses) for member in self.members.values()],
                             self.member_weights)

    def embed(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """The members' features side by side."""
        self._check_members()
        return np.concatenate([member.embed(faces) for member in self.members.values()], axis=1)

    def input_spec(self) -> Any:
        """The first member's input (its crop margin is the one prediction crops faces with)."""
        self._check_members()
        return next(iter(self.members.values())).input_spec()

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> Ensemble:
        """An ensemble folder (config.json with its members), its members loaded through the registry;
        its training data is always that of the members as loaded now."""
        plugin = super().from_pretrained(source)
        if plugin.members:
            plugin.metadata["training_data"] = plugin._members_note()
        return plugin
