"""timm EfficientNet emotion classifiers, fine-tuned from Google's ImageNet EfficientNet-Lite weights."""

from .plugin import EfficientNet, EfficientNetConfig

__all__ = ["EfficientNet", "EfficientNetConfig"]
