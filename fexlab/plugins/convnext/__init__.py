"""timm ConvNeXt emotion classifiers, convnext_atto to convnext_base, gray or RGB, any input size."""

from .plugin import ConvNeXt, ConvNeXtConfig

__all__ = ["ConvNeXt", "ConvNeXtConfig"]
