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

from registry import EMOTIONS, Classifier, InputError
from registry.checkpoint import hub_offline

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


class ConvNeXt(Classifier):
    """timm ConvNeXt emotion classifier; train it with ``fexlab train classifier --plugin convnext``."""

    name: ClassVar[str] = "convnext"
    description: ClassVar[str] = "timm ConvNeXt (atto to base), gray or RGB, any input size; trained with fexlab"
    config_class: ClassVar[type] = ConvNeXtConfig
    #: No FER-trained ConvNeXt is published: ``ferplus`` was trained by fexlab on FER2013's faces with
    #: FER+ vote distributions (weights/ferplus/README.md); other checkpoints come from the trainer.
    pretrained: ClassVar[dict[str, str]] = {"ferplus": str(WEIGHTS_DIR / "ferplus")}
    weights_hint: ClassVar[str] = f"train one with `{TRAIN_COMMAND}` and load it as `convnext:runs/convnext` (or `--checkpoint runs/convnext`)"
    # timm's IMAGENET_DEFAULT_MEAN / _STD, which its ConvNeXt weights were trained with
    input_mean: ClassVar[tuple[float, ...]] = (0.485, 0.456, 0.406)
    input_std: ClassVar[tuple[float, ...]] = (0.229, 0.224, 0.225)

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        if not str(cfg.variant).startswith("convnext"):
            raise InputError(f"variant '{cfg.variant}' is not a ConvNeXt; use one of {_variants()}")
        if cfg.input_size < 32:
            raise InputError(f"ConvNeXt needs input_size >= 32 (it downsamples 32 times), got {cfg.input_size}")
        self.module = self._create(pretrained=False).eval()

    def _create(self, pretrained: bool) -> Any:
        import timm

        cfg = self.config
        if not timm.is_model(cfg.variant):
            raise InputError(f"timm has no model '{cfg.variant}'; ConvNeXt variants: {_variants()}")
        return timm.create_model(
            cfg.variant, pretrained=pretrained, num_classes=len(EMOTIONS), in_chans=1 if cfg.grayscale else 3,
            drop_path_rate=cfg.drop_path_rate, ls_init_value=cfg.ls_init_value,
        )

    def torch_module(self) -> Any:
        return self.module

    def init_for_training(self) -> str:
        """timm's ImageNet weights for the backbone (new 7-way head) when they can be fetched."""
        if not self.config.pretrained_backbone:
            return "random initialisation (pretrained_backbone is off)"
        import timm

        weights = timm.models.get_pretrained_cfg(self.config.variant)
        hub_id = getattr(weights, "hf_hub_id", None) or self.config.variant
        try:
            module = self._create(pretrained=True)
        except Exception as err:  # offline, no network, no such weights: train from scratch and say so
            reason = "HF_HUB_OFFLINE=1 is set" if hub_offline() else f"{type(err).__name__}: {str(err)[:160]}"
            note = f"random initialisation: ImageNet weights {hub_id} could not be fetched ({reason})"
        else:
            self.module = module
            note = f"ImageNet-pretrained backbone {hub_id} (timm), new 7-emotion head"
        self.metadata["init"] = note
        return note


def _variants() -> list[str]:
    import timm

    return timm.list_models("convnext*")
