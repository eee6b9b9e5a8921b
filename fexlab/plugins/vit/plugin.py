"""The ``vit`` classifier plugin: Hugging Face ``ViTForImageClassification`` and any
``AutoModelForImageClassification`` checkpoint, its labels mapped onto the 7 emotions.

Three ways in:

- ``ViT.from_config(...)`` builds a ViT from the size fields of :class:`ViTConfig` (a small one by
  default, for offline training), or any other transformers image classifier from scratch by its
  ``model_type`` and ``model_options`` (a hybrid such as MobileViT: ``model_type=mobilevit``);
  with ``base_model`` set it starts from that hub model or folder.
- ``ViT.from_pretrained("owner/name" or folder)`` loads a Hugging Face image-classification model
  (``config.json`` with ``id2label`` + ``model.safetensors``); the pretrained tag ``fer2013`` is
  trpakov/vit-face-expression, a FER2013-trained ViT (71.2% FER2013 test accuracy, its model card).
- ``ViT.from_pretrained(fexlab checkpoint folder or run folder)``: what fexlab's trainer writes.

A fexlab checkpoint of this plugin is ``config.json`` (fexlab's: plugin, config, labels, training
data, metrics) plus ``hf/``, the model as ``save_pretrained`` writes it (its own ``config.json``
and ``model.safetensors``), so ``hf/`` alone also loads in transformers. Only safetensors weights
are read and remote code is never trusted. The model's ``id2label`` goes through the registry's
:class:`~fexlab.registry.emotions.LabelMapping`; labels that cannot be mapped unambiguously are refused
at load time unless ``label_overrides`` names them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from fexlab.registry import EMOTIONS, CheckpointError, Classifier, InputError
from fexlab.registry.checkpoint import CONFIG_NAME, resolve_source

__all__ = ["HF_DIR", "ViT", "ViTConfig", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Sub-folder of a fexlab checkpoint holding the transformers model.
HF_DIR = "hf"
#: What is fetched from a hub repo: configs and safetensors weights, never pickles or code.
HUB_PATTERNS = ("*.json", "*.safetensors", "*.md")
PREPROCESSOR_NAME = "preprocessor_config.json"


@dataclass
class ViTConfig:
    #: Hub id or folder of a Hugging Face image classifier to start from; None builds a ViT from the
    #: size fields below. For a loaded model the fields below are read from its own config.
    base_model: str | None = None
    model_type: str = "vit"
    input_size: int = 64
    patch_size: int = 8
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 3
    intermediate_size: int = 384
    dropout: float = 0.0
    grayscale: bool = False
    #: The model's output labels in index order (its ``id2label``).
    labels: tuple[str, ...] = EMOTIONS
    #: Model label -> canonical emotion (or None to drop it) where the alias table does not know it.
    label_overrides: dict[str, Any] = field(default_factory=dict)
    #: For a ``model_type`` other than ``vit`` built from scratch: its transformers config fields
    #: (e.g. MobileViT-XXS: hidden_sizes=[64,80,96], neck_hidden_sizes=[16,16,24,48,64,80,320], expand_ratio=2.0).
    model_options: dict[str, Any] = field(default_factory=dict)
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    crop_margin: float = 0.1


class _Logits(nn.Module):
    """A transformers image classifier as a plain module: a pixel batch in, a logits tensor out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).logits


class ViT(Classifier):
    """Vision Transformer emotion classifier (Hugging Face transformers)."""

    name: ClassVar[str] = "vit"
    description: ClassVar[str] = "Hugging Face ViT / any AutoModelForImageClassification, labels mapped to 7 emotions"
    config_class: ClassVar[type] = ViTConfig
    #: ``ferplus``: a MobileViT-XXS trained from scratch by fexlab on FER2013's faces with FER+ vote
    #: distributions (weights/ferplus/README.md), shipped; ``fer2013``: a hub ViT (network).
    pretrained: ClassVar[dict[str, str]] = {"ferplus": str(WEIGHTS_DIR / "ferplus"),
                                            "fer2013": "trpakov/vit-face-expression"}
    weights_hint: ClassVar[str] = (
        "train one with `fexlab train classifier --plugin vit --data SOURCE --out runs/vit` "
        "and load it as `vit:runs/vit` (or `--checkpoint runs/vit`)"
    )

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self._module: _Logits | None = None  # built on first use, or set by a load

    # -- the module ------------------------------------------------------------------------------
    def torch_module(self) -> _Logits:
        if self._module is None:
            if self.config.base_model:
                self._adopt(_load_hf(resolve_source(self.config.base_model, allow_patterns=HUB_PATTERNS),
                                     self.config.base_model))
            else:
                self._module = _Logits(self._build()).eval()
        return self._module

    def _build(self) -> nn.Module:
        from transformers import ViTConfig as HFViTConfig
        from transformers import ViTForImageClassification

        cfg = self.config
        labels = list(cfg.labels)
        if cfg.model_type != "vit":
            return _build_auto(cfg, labels)
        hf_config = HFViTConfig(
            image_size=cfg.input_size, patch_size=cfg.patch_size, num_channels=1 if cfg.grayscale else 3,
            hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
            num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout,
            num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
        )
        return ViTForImageClassification(hf_config)

    def _adopt(self, model: nn.Module, processor: dict[str, Any] | None = None) -> None:
        """Take ``model`` as this plugin's network and make the config describe it."""
        self.config = dataclasses.replace(self.config, **_fields_from_hf(model.config, processor or {}))
        self._module = _Logits(model).eval()
        _ = self.label_mapping  # refuse labels that cannot be mapped, now rather than at first predict

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.config.labels)

    # -- checkpoints -----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, *, label_overrides: dict[str, Any] | None = None,
                        **overrides: Any) -> ViT:
        """A fexlab checkpoint / run folder, or a Hugging Face image classifier (hub id or folder)."""
        directory = resolve_source(source, allow_patterns=HUB_PATTERNS)
        if _is_fexlab_checkpoint(directory):
            plugin = super().from_pretrained(directory, **overrides)
        else:
            plugin = cls.from_config(base_model=str(source), label_overrides=dict(label_overrides or {}), **overrides)
            try:
                plugin._adopt(_load_hf(directory, source), _read_json(directory / PREPROCESSOR_NAME))
            except InputError as err:
                raise CheckpointError(f"'{source}': {err}") from None
        plugin.metadata["source"] = str(source)
        return plugin

    def save_weights(self, directory: Path) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.torch_module().model.save_pretrained(directory / HF_DIR)

    def load_weights(self, directory: Path) -> None:
        hf_dir = directory / HF_DIR
        if not (hf_dir / CONFIG_NAME).is_file():
            raise CheckpointError(f"'{directory}' has no {HF_DIR}/{CONFIG_NAME}; the checkpoint is incomplete")
        labels = tuple(self.config.labels)
        self._adopt(_load_hf(hf_dir, directory))
        if tuple(self.config.labels) != labels:
            raise CheckpointError(
                f"'{directory}': config.json says labels {list(labels)} but {HF_DIR}/ has {list(self.config.labels)}"
            )


def _build_auto(cfg: ViTConfig, labels: list[str]) -> nn.Module:
    """A fresh transformers image classifier of ``cfg.model_type`` (AutoConfig + AutoModel)."""
    from transformers import AutoConfig, AutoModelForImageClassification

    try:
        hf_config = AutoConfig.for_model(
            cfg.model_type, image_size=cfg.input_size, num_channels=1 if cfg.grayscale else 3,
            num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
            **cfg.model_options)
        return AutoModelForImageClassification.from_config(hf_config)
    except (ValueError, TypeError, KeyError) as err:
        raise InputError(f"cannot build a '{cfg.model_type}' image classifier with options {cfg.model_options}: "
                         f"{str(err)[:200]}") from None


def _is_fexlab_checkpoint(directory: Path) -> bool:
    payload = _read_json(directory / CONFIG_NAME)
    return "plugin" in payload and "config" in payload


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_hf(directory: Path, source: Any) -> nn.Module:
    """A transformers image classifier from ``directory``: safetensors only, no remote code."""
    from transformers import AutoModelForImageClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor loading bars would flood the CLI and the app logs
    if not any(directory.glob("*.safetensors")):
        raise CheckpointError(f"'{source}' has no safetensors weights; fexlab never loads pickled weights (.bin, .pt)")
    try:
        model = AutoModelForImageClassification.from_pretrained(
            str(directory), use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"'{source}' is not a usable image-classification model: {str(err)[:300]}") from None
    return model.eval()


def _fields_from_hf(hf_config: Any, processor: dict[str, Any]) -> dict[str, Any]:
    """ViTConfig values describing a loaded transformers model and its preprocessor."""
    id2label = getattr(hf_config, "id2label", None) or {}
    values: dict[str, Any] = {
        "model_type": str(getattr(hf_config, "model_type", "vit")),
        "labels": tuple(str(label) for _, label in sorted((int(i), label) for i, label in id2label.items())),
        "grayscale": int(getattr(hf_config, "num_channels", 3)) == 1,
    }
    size = getattr(hf_config, "image_size", None) or processor.get("size") or 224
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge") or 224
    values["input_size"] = int(size[0] if isinstance(size, (list, tuple)) else size)
    for name in ("patch_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        value = getattr(hf_config, name, None)
        if isinstance(value, int):
            values[name] = value
    if isinstance(getattr(hf_config, "hidden_dropout_prob", None), float):
        values["dropout"] = hf_config.hidden_dropout_prob
    for name in ("image_mean", "image_std"):
        if isinstance(processor.get(name), list):
            values[name] = tuple(float(v) for v in processor[name])
    return values
