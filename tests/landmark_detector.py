"""A tiny face detector for tests: two faces at fixed places with the six keypoints BlazeFace
gives, and a registry that has it beside the installed plugins as ``dots``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fexlab.registry import Face, FaceDetector, Registry

__all__ = ["KEYPOINT_NAMES", "DotsDetector", "dots_registry"]

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")
#: Where each keypoint lies in its face's box, as fractions of the side.
_PLACES = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.5, 0.8), (0.05, 0.45), (0.95, 0.45))


@dataclass
class DotsConfig:
    pass


class DotsDetector(FaceDetector):
    """Two square faces, each 30% of the image's short side: the larger-x one first, as a
    detector that lists faces largest first might."""

    name: ClassVar[str] = "dots"
    description: ClassVar[str] = "two fixed faces with six keypoints each (tests)"
    config_class: ClassVar[type] = DotsConfig

    def detect(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        side = int(0.3 * min(height, width))
        faces = []
        for left in (0.6, 0.1):
            x, y = int(left * width), int(0.2 * height)
            marks = {name: (x + fx * side, y + fy * side) for name, (fx, fy) in zip(KEYPOINT_NAMES, _PLACES)}
            faces.append(Face((x, y, side, side), 0.9, marks))
        return faces


def dots_registry() -> Registry:
    """The installed plugins and ``dots``, as if a package had declared its entry point."""
    from importlib.metadata import EntryPoint

    from fexlab.registry.registry import discover_entry_points

    extra = EntryPoint(name="dots", value="tests.landmark_detector:DotsDetector", group="fexlab.detectors")
    return Registry([*discover_entry_points(), extra])
