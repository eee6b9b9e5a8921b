"""The ``facs_renderer`` generator plugin: installed, always ready, one identity per seed."""

from __future__ import annotations

import numpy as np
import pytest

from fexlab.registry import EMOTIONS, READY, InputError


@pytest.fixture(scope="module")
def renderer(registry):
    return registry.generator("facs_renderer")


def test_discovered_and_ready_without_weights(registry):
    assert "facs_renderer" in registry.names("generator")
    assert registry.info("generator", "facs_renderer").status == READY


def test_one_image_per_emotion_same_identity_per_seed(renderer):
    first = renderer.generate(list(EMOTIONS), seed=7)
    assert len(first) == 7 and all(im.mode == "RGB" and im.size == (128, 128) for im in first)
    again = renderer.generate(["surprise"], seed=7)[0]
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first[EMOTIONS.index("surprise")]))
    arrays = [np.asarray(im).astype(int) for im in first]
    other = np.asarray(renderer.generate(["neutral"], seed=8)[0]).astype(int)
    same_identity = np.abs(arrays[0] - arrays[-1]).mean()  # angry vs neutral, seed 7
    assert same_identity < np.abs(other - arrays[-1]).mean()  # a new seed is a new face
    assert same_identity > 0.5


def test_options(renderer):
    small = renderer.generate(["happy"], seed=1, size=64, gray=True)[0]
    pixels = np.asarray(small)
    assert small.size == (64, 64) and np.array_equal(pixels[:, :, 0], pixels[:, :, 2])
    calm = np.asarray(renderer.generate(["happy"], seed=1, intensity=0.0)[0])
    neutral = np.asarray(renderer.generate(["neutral"], seed=1)[0])
    np.testing.assert_array_equal(calm, neutral)
    with pytest.raises(InputError, match="no option"):
        renderer.generate(["happy"], seed=1, steps=3)
    with pytest.raises(InputError, match="unknown emotion"):
        renderer.generate(["hapy"], seed=1)
    assert isinstance(renderer.generate(["sad"], seed=None)[0].size, tuple)


def test_interpolation_ends_on_the_two_faces(renderer):
    frames = renderer.interpolate(("neutral", 2), ("surprise", 2), frames=4, size=64)
    assert len(frames) == 4
    end = renderer.generate(["surprise"], seed=2, size=64)[0]
    np.testing.assert_array_equal(np.asarray(frames[-1]), np.asarray(end))
