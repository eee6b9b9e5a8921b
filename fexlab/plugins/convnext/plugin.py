"""The ``convnext`` classifier plugin: a timm ConvNeXt with a 7-emotion head.

Any timm ``convnext_*`` variant (``convnext_atto`` ... ``convnext_base``), gray or RGB input, the
input size from the config (ConvNeXt is fully convolutional; at least 32 pixels).
Training starts from timm's ImageNet weights (a hub download) when the hub is reachable and from
random initialisation when it is not; :meth:`init_for_training` says which, and the trainer
records it in the checkpoint. No FER-trained ConvNeXt is published, so the plugin has no
pretrained tag: until a checkpoint is given its status is "needs weights" with the command that
trains one. Checkpoints are ordinary fexlab folders (``config.json`` + ``model.safetensors``),
local or on the hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fexlab.plugins.timm_classifier import TimmClassifier

__all__ = ["ConvNeXt", "ConvNeXtConfig", "TRAIN_COMMAND", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

TRAIN_COMMAND = "fexlab train classifier --plugin convnext --data SOURCE --out runs/convnext"


@dataclass
class ConvNeXtConfig:
    #: Any timm ConvNeXt: convnext_atto, convnext_femto, convnext_pico, convnext_nano, convnext_tiny,
    #: convnext_small, convnext_base (and their variants timm lists with ``convnext*``).
    variant: str = field(default="convnext_atto", metadata={"help": "timm model name"})
    input_size: int = 64
    grayscale: bool = False
    drop_path_rate: float = 0.0
    #: Initial layer-scale of the residual branches, used only from random initialisation
    #: (ImageNet weights bring their own). timm's 1e-6 is meant for long ImageNet runs; with it a
    #: small set barely moves the network, with 1.0 it learns.
    ls_init_value: float = 1.0
    #: Start training from timm's ImageNet weights when the hub can be reached.
    pretrained_backbone: bool = True
    #: Margin added around the detector's box before resizing, as a fraction of its side.
    crop_margin: float = 0.1


class ConvNeXt(TimmClassifier):
    """timm ConvNeXt emotion classifier; train it with ``fexlab train classifier --plugin convnext``."""

    name: ClassVar[str] = "convnext"
    description: ClassVar[str] = "timm ConvNeXt (atto to base), gray or RGB, any input size; trained with fexlab"
    config_class: ClassVar[type] = ConvNeXtConfig
    family: ClassVar[str] = "convnext"
    family_title: ClassVar[str] = "a ConvNeXt"
    #: No FER-trained ConvNeXt is published: ``ferplus`` was trained by fexlab on FER2013's faces with
    #: FER+ vote distributions (weights/ferplus/README.md); other checkpoints come from the trainer.
    pretrained: ClassVar[dict[str, str]] = {"ferplus": str(WEIGHTS_DIR / "ferplus")}
    weights_hint: ClassVar[str] = f"train one with `{TRAIN_COMMAND}` and load it as `convnext:runs/convnext` (or `--checkpoint runs/convnext`)"

    def create_kwargs(self) -> dict[str, Any]:
        return {"drop_path_rate": self.config.drop_path_rate, "ls_init_value": self.config.ls_init_value}
