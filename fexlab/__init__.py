"""fexlab: facial expression lab.

Find faces in photos, videos and a webcam and predict their emotions with several classifiers side
by side; read each face's mesh, blendshapes, action units and head pose; generate and edit faces
in any of seven emotions. Every model is a plugin discovered through Python entry points::

    from fexlab import Predictor, default_registry

    registry = default_registry()
    predictor = Predictor({"efficientnet": registry.classifier("efficientnet")}, registry.detector("yunet"))
    for face in predictor.predict_image("photo.jpg").faces:
        print(face.box, face.emotion)

A plugin package subclasses :class:`Classifier`, :class:`Generator`, :class:`FaceDetector` or
:class:`FaceAnalyzer` and declares an entry point in ``fexlab.classifiers``, ``fexlab.generators``,
``fexlab.detectors`` or ``fexlab.analyzers``. Names are imported on first use, so ``import
fexlab`` stays light (no torch, no Gradio).
"""

from __future__ import annotations

import importlib
from typing import Any

from .registry import (
    EMOTIONS,
    BrokenPluginError,
    CheckpointError,
    Classifier,
    Face,
    FaceAnalyzer,
    FaceDetector,
    FexlabError,
    Generator,
    InputError,
    InputSpec,
    LabelMapping,
    NeedsWeightsError,
    Plugin,
    PluginStatus,
    Registry,
    UnknownPluginError,
    __version__,
    default_registry,
)

#: Names of the pipeline, imported from their module on first use.
_LAZY = {
    "Predictor": "fexlab.pipeline.predict",
    "FacePrediction": "fexlab.pipeline.predict",
    "ImagePrediction": "fexlab.pipeline.predict",
    "FramePrediction": "fexlab.pipeline.predict",
    "edit_photo": "fexlab.pipeline.editing",
    "load_image": "fexlab.preprocessing.images",
}

__all__ = [
    "EMOTIONS",
    "BrokenPluginError",
    "CheckpointError",
    "Classifier",
    "Face",
    "FaceAnalyzer",
    "FaceDetector",
    "FacePrediction",
    "FexlabError",
    "FramePrediction",
    "Generator",
    "ImagePrediction",
    "InputError",
    "InputSpec",
    "LabelMapping",
    "NeedsWeightsError",
    "Plugin",
    "PluginStatus",
    "Predictor",
    "Registry",
    "UnknownPluginError",
    "__version__",
    "default_registry",
    "edit_photo",
    "load_image",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fexlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
