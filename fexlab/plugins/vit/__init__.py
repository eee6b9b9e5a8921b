"""Hugging Face ViT (and any AutoModelForImageClassification) emotion classifiers."""

from .plugin import HF_DIR, ViT, ViTConfig

__all__ = ["HF_DIR", "ViT", "ViTConfig"]
