"""Built-in face detectors: OpenCV's Haar cascade and the whole-image pass-through."""

from .full_frame import FullFrame
from .haar import HaarCascade

__all__ = ["FullFrame", "HaarCascade"]
