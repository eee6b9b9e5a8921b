"""The evaluation harness as the CLI and the app run it: :func:`fexlab.eval.harness.evaluate` given
the pieces that live above it, the pipeline's photo editor (editors scored on whole photos) and
ImageNet features (the editors' realism space)."""

from __future__ import annotations

from typing import Any

from fexlab.eval import harness
from fexlab.plugins.efficientnet.features import ImageNetFeatures

from .editing import edit_photo

__all__ = ["evaluate"]


def evaluate(*args: Any, **kwargs: Any) -> harness.EvaluationReport:
    """:func:`fexlab.eval.harness.evaluate` (same arguments), editing whole photos with
    :func:`fexlab.pipeline.editing.edit_photo` and measuring realism in ImageNet features."""
    kwargs.setdefault("edit_photo", edit_photo)
    kwargs.setdefault("features", ImageNetFeatures)
    return harness.evaluate(*args, **kwargs)
