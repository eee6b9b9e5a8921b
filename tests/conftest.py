"""Shared fixtures. Tests run offline (HF_HUB_OFFLINE=1) and build every model they need."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Classifiers exported to ONNX go to a cache of the test run's own, not the user's.
if "FEXLAB_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["FEXLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="fexlab-test-cache-")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "mini_xception_golden.npz"


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    """A real photo of one smiling face (Eileen Collins, NASA, public domain)."""
    return EXAMPLES / "astronaut.jpg"


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    """matplotlib's bundled photo of Grace Hopper (US Navy, public domain)."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def two_faces(astronaut_path, hopper_path) -> np.ndarray:
    """The two real photos side by side: an RGB image with two faces."""
    from fexlab.preprocessing.images import load_image

    a, b = load_image(astronaut_path), load_image(hopper_path)
    height = max(a.shape[0], b.shape[0])
    canvas = np.full((height, a.shape[1] + b.shape[1], 3), 255, np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1] :] = b
    return canvas


@pytest.fixture(scope="session")
def registry():
    """The registry of what is installed (the project's own entry points)."""
    from fexlab.registry import Registry

    return Registry()


@pytest.fixture
def without_fexlab_tags(monkeypatch):
    """``convnext`` and ``vit`` as on an install without fexlab's own trained tags: no weights for
    ConvNeXt, only the hub's ViT (offline: not cached), so their needs-weights paths can be tested."""
    from fexlab.plugins.convnext import ConvNeXt
    from fexlab.plugins.vit import ViT

    monkeypatch.setattr(ConvNeXt, "pretrained", {})
    monkeypatch.setattr(ViT, "pretrained", {"fer2013": "trpakov/vit-face-expression"})
