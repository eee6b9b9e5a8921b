"""A "detector" that treats the whole image as one face: for inputs that are already face
crops, such as FER2013 images, data sets prepared by ``fexlab prepare``, or synthetic faces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fexlab.registry import Face, FaceDetector

__all__ = ["FullFrame", "FullFrameConfig"]


@dataclass
class FullFrameConfig:
    pass


class FullFrame(FaceDetector):
    """Returns one face covering the whole image."""

    name: ClassVar[str] = "full_frame"
    description: ClassVar[str] = "the whole image is the face (for pre-cropped faces)"
    config_class: ClassVar[type] = FullFrameConfig

    def detect(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        return [Face((0, 0, int(width), int(height)), 1.0)]
