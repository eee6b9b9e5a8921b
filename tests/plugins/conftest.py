"""Fixtures the geometry classifier's tests share: the mesh reader and a real face crop."""

from __future__ import annotations

import pytest

from fexlab.plugins.geometry.features import MeshReader
from fexlab.preprocessing.images import load_image


@pytest.fixture(scope="module")
def reader():
    """The Face Landmarker as the geometry classifier runs it on crops."""
    return MeshReader()


@pytest.fixture(scope="module")
def astronaut_crop(astronaut_path, registry):
    """The smiling astronaut's face, cropped from YuNet's box with the geometry classifier's margin."""
    from fexlab.preprocessing.align import classifier_crop

    image = load_image(astronaut_path)
    face = max(registry.detector("yunet").detect(image), key=lambda f: f.box[2] * f.box[3])
    return classifier_crop(image, face, 0.05, False)
