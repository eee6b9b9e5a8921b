"""What the timm-backed classifier plugins (``convnext``, ``efficientnet``) share.

A :class:`TimmClassifier` builds its network with ``timm.create_model`` from the config's
``variant`` (checked against :attr:`TimmClassifier.family`), a 7-emotion head, gray or RGB input,
and keeps it in channels-last memory order (2-4x faster convolutions on CPU). Training starts
from ImageNet weights through :meth:`imagenet_weights`: timm's hub download by default, which a
subclass replaces where the weights are available offline.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fexlab.registry import EMOTIONS, Classifier, InputError
from fexlab.registry.checkpoint import hub_offline

__all__ = ["TimmClassifier"]


class TimmClassifier(Classifier):
    """Base of classifiers that are one timm model; subclasses set :attr:`family` and the config."""

    #: timm model names this plugin accepts start with this (``convnext``, ``efficientnet``, ...).
    family: ClassVar[str] = ""
    #: The family in messages, with its article ("a ConvNeXt").
    family_title: ClassVar[str] = ""
    #: Smallest input side the network accepts (it downsamples this many times).
    min_input_size: ClassVar[int] = 32
    # timm's IMAGENET_DEFAULT_MEAN / _STD, which its ImageNet weights were trained with
    input_mean: ClassVar[tuple[float, ...]] = (0.485, 0.456, 0.406)
    input_std: ClassVar[tuple[float, ...]] = (0.229, 0.224, 0.225)

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        if self.family not in str(cfg.variant):
            raise InputError(f"variant '{cfg.variant}' is not {self.family_title}; use one of {self.variants()}")
        if cfg.input_size < self.min_input_size:
            raise InputError(f"{self.name} needs input_size >= {self.min_input_size} "
                             f"(it downsamples {self.min_input_size} times), got {cfg.input_size}")
        self.module = self._create(pretrained=False).eval()

    def create_kwargs(self) -> dict[str, Any]:
        """Extra ``timm.create_model`` arguments of this family (drop rates, layer scale)."""
        return {}

    def _create(self, pretrained: bool) -> Any:
        import timm
        import torch

        cfg = self.config
        if not timm.is_model(cfg.variant):
            raise InputError(f"timm has no model '{cfg.variant}'; {self.name} variants: {self.variants()}")
        module = timm.create_model(cfg.variant, pretrained=pretrained, num_classes=len(EMOTIONS),
                                   in_chans=1 if cfg.grayscale else 3, **self.create_kwargs())
        return module.to(memory_format=torch.channels_last)

    def torch_module(self) -> Any:
        return self.module

    @classmethod
    def variants(cls) -> list[str]:
        import timm

        return timm.list_models(f"*{cls.family}*")

    def imagenet_weights(self) -> str:
        """Put ImageNet weights into the backbone (the head stays new); return where they came
        from. Raises when they cannot be had. Default: timm's hub download."""
        import timm

        weights = timm.models.get_pretrained_cfg(self.config.variant)
        hub_id = getattr(weights, "hf_hub_id", None) or self.config.variant
        try:
            self.module = self._create(pretrained=True)
        except Exception as err:  # offline, no network, no such weights
            reason = "HF_HUB_OFFLINE=1 is set" if hub_offline() else f"{type(err).__name__}: {str(err)[:160]}"
            raise InputError(f"ImageNet weights {hub_id} could not be fetched ({reason})") from None
        return f"{hub_id} (timm)"

    def init_for_training(self, required: bool = False) -> str:
        """ImageNet weights for the backbone (new 7-way head) when they can be had; with
        ``required`` (``--init imagenet``) their absence is an error, else random initialisation."""
        if not self.config.pretrained_backbone and not required:
            return "random initialisation (pretrained_backbone is off)"
        try:
            where = self.imagenet_weights()
        except InputError as err:
            if required:
                raise
            note = f"random initialisation: {err}"
        else:
            note = f"ImageNet-pretrained backbone {where}, new 7-emotion head"
        self.metadata["init"] = note
        return note
