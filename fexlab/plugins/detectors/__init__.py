"""Built-in face detectors: MediaPipe BlazeFace (the default), OpenCV's Haar cascade and the
whole-image pass-through."""

from .blazeface import BlazeFace
from .full_frame import FullFrame
from .haar import HaarCascade

__all__ = ["BlazeFace", "FullFrame", "HaarCascade"]
