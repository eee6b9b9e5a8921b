"""fexlab's plugin layer: the emotion label space, the plugin interfaces and the registry.

A plugin package implements one of :class:`Classifier`, :class:`Generator`, :class:`FaceDetector`
or :class:`FaceAnalyzer` and declares an entry point in the group ``fexlab.classifiers``,
``fexlab.generators``, ``fexlab.detectors`` or ``fexlab.analyzers``; :class:`Registry` finds it
with no edit here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fexlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from .analyzer import FaceAnalyzer
from .classifier import DEFAULT_CLASSIFIER, Classifier, InputSpec
from .detector import DEFAULT_ALIGN, DEFAULT_DETECTOR, Face, FaceDetector
from .emotions import EMOTIONS, LabelMapping, canonical_emotion, emotion_index, parse_emotions
from .errors import (
    BrokenPluginError,
    CheckpointError,
    FexlabError,
    InputError,
    NeedsWeightsError,
    NoFaceError,
    PluginError,
    UnknownPluginError,
)
from .generator import Generator
from .plugin import BROKEN, NEEDS_WEIGHTS, READY, Plugin, PluginStatus
from .registry import KINDS, PluginInfo, Registry, default_registry, parse_spec

__all__ = [
    "BROKEN",
    "DEFAULT_ALIGN",
    "DEFAULT_CLASSIFIER",
    "DEFAULT_DETECTOR",
    "EMOTIONS",
    "KINDS",
    "NEEDS_WEIGHTS",
    "READY",
    "BrokenPluginError",
    "CheckpointError",
    "Classifier",
    "Face",
    "FaceAnalyzer",
    "FaceDetector",
    "FexlabError",
    "Generator",
    "InputError",
    "InputSpec",
    "LabelMapping",
    "NeedsWeightsError",
    "NoFaceError",
    "Plugin",
    "PluginError",
    "PluginInfo",
    "PluginStatus",
    "Registry",
    "UnknownPluginError",
    "canonical_emotion",
    "default_registry",
    "emotion_index",
    "parse_emotions",
    "parse_spec",
]
