"""Augmentation: seeded and repeatable, each operation does what its option says."""

from __future__ import annotations

import numpy as np
import pytest

from fexlab.preprocessing.augment import AugmentConfig, Augmenter, preview
from fexlab.registry import InputError

OFF = {"rotation": 0, "scale": 0, "translate": 0, "hflip_p": 0, "brightness": 0, "contrast": 0,
       "blur_p": 0, "noise_p": 0, "erase_p": 0}


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    rng = np.random.default_rng(0)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = (200, 60, 30)
    image[20:40, 40:56] = rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)
    return image


def test_same_seed_same_result_other_seed_other_result(face):
    a, b = Augmenter(seed=3), Augmenter(seed=3)
    first = [a(face) for _ in range(4)]
    np.testing.assert_array_equal(np.stack(first), np.stack([b(face) for _ in range(4)]))
    assert not np.array_equal(first[0], first[1])  # successive calls draw new parameters
    np.testing.assert_array_equal(a(face, seed=11), Augmenter(seed=3)(face, seed=11))
    assert not np.array_equal(Augmenter(seed=4)(face, seed=11), a(face, seed=11))


def test_everything_off_is_the_identity(face):
    out = Augmenter(OFF)(face)
    assert out.dtype == np.uint8 and out.shape == face.shape
    np.testing.assert_array_equal(out, face)


def test_flip_only_mirrors(face):
    np.testing.assert_array_equal(Augmenter({**OFF, "hflip_p": 1.0})(face), face[:, ::-1])


def test_rotation_only_turns_the_face_about_its_centre():
    image = np.zeros((64, 64, 3), np.uint8)
    image[30:34, 50:54] = 255  # a dot 20 px right of the centre
    augmenter = Augmenter({**OFF, "rotation": 40}, seed=0)
    angle = augmenter.params(np.random.default_rng([0, 5]), 64)["angle"]
    assert abs(angle) > 5
    out = augmenter(image, seed=5)
    y, x = np.argwhere(out[:, :, 0] > 100).mean(0)
    theta = np.radians(angle)  # OpenCV turns counter-clockwise on screen for positive angles
    np.testing.assert_allclose([x, y], [32 + 20 * np.cos(theta), 32 - 20 * np.sin(theta)], atol=1.0)


def test_erasing_only_paints_one_flat_rectangle(face):
    out = Augmenter({**OFF, "erase_p": 1.0, "erase_area": 0.2})(face, seed=2)
    changed = np.argwhere((out != face).any(axis=2))
    (top, left), (bottom, right) = changed.min(0), changed.max(0)
    patch = out[top : bottom + 1, left : right + 1]
    assert len(np.unique(patch.reshape(-1, 3), axis=0)) == 1
    assert 0 < patch.shape[0] * patch.shape[1] <= 0.2 * 64 * 64 + 64


def test_noise_and_brightness_change_values_not_geometry(face):
    gray = np.full((64, 64, 3), 128, np.uint8)
    noise = Augmenter({**OFF, "noise_p": 1.0, "noise_sigma": 20})
    spread = [(noise(gray, seed=s).astype(int) - 128).std() for s in range(10)]
    assert max(spread) > 8 and max(spread) < 21 and abs(np.mean([noise(gray, seed=s).mean() for s in range(10)]) - 128) < 1
    bright = Augmenter({**OFF, "brightness": 0.5})
    means = [bright(face, seed=s).mean() for s in range(20)]
    assert max(means) - min(means) > 20


def test_blur_only_smooths(face):
    out = Augmenter({**OFF, "blur_p": 1.0, "blur_sigma": 2.0})(face, seed=0)
    assert np.abs(np.diff(out.astype(int), axis=1)).sum() < np.abs(np.diff(face.astype(int), axis=1)).sum()


def test_config_checks_and_preview(face):
    with pytest.raises(InputError, match="probability"):
        Augmenter(hflip_p=2)
    with pytest.raises(InputError, match="unknown AugmentConfig option"):
        Augmenter({"rotate": 10})
    with pytest.raises(InputError, match="HxWx3 RGB uint8"):
        Augmenter()(face.astype(np.float32))
    assert Augmenter(AugmentConfig(rotation=5)).config.rotation == 5
    images = preview(face, Augmenter(seed=1), count=5)
    assert len(images) == 6 and images[0] is face or np.array_equal(images[0], face)


def test_cli_writes_a_preview_png(tmp_path, astronaut_path):
    from PIL import Image

    from fexlab import cli
    out = tmp_path / "preview.png"
    assert cli.main(["augment-preview", str(astronaut_path), str(out), "--n", "7", "--set", "rotation=25"]) == 0
    assert Image.open(out).size[0] > 400
    assert cli.main(["augment-preview", str(astronaut_path), str(out), "--set", "rotate=2"]) == 2


def test_lab_like_options_are_off_by_default_and_leave_other_draws_alone(face):
    np.testing.assert_array_equal(Augmenter(seed=2, gamma=0.0)(face, seed=4), Augmenter(seed=2)(face, seed=4))
    params = Augmenter(seed=0).params(np.random.default_rng(0), 64)
    assert not params["gray"] and params["gamma"] is None and not params["equalize"]


def test_gray_makes_three_equal_channels(face):
    out = Augmenter({**OFF, "gray_p": 1.0})(face)
    assert out.shape == face.shape and (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert not np.array_equal(out, face)


def test_equalisation_spreads_a_dim_face_over_the_full_range():
    rng = np.random.default_rng(1)
    dim = np.repeat(rng.integers(40, 90, (64, 64, 1), dtype=np.uint8), 3, axis=2)  # a badly lit gray face
    out = Augmenter({**OFF, "equalize_p": 1.0})(dim)
    assert out.min() < 20 and out.max() > 235
    order = np.argsort(dim[..., 0].ravel(), kind="stable")  # brighter stays brighter
    assert (np.diff(out[..., 0].ravel()[order].astype(int)) >= 0).all()


def test_gamma_darkens_or_brightens_monotonically(face):
    augmenter = Augmenter({**OFF, "gamma": 0.5}, seed=0)
    outs = [augmenter(face, seed=s) for s in range(6)]
    gammas = [augmenter.params(np.random.default_rng([0, s]), 64)["gamma"] for s in range(6)]
    assert all(np.exp(-0.5) <= g <= np.exp(0.5) for g in gammas) and max(gammas) > 1 > min(gammas)
    for out, g in zip(outs, gammas):
        mean_change = out.astype(float).mean() - face.astype(float).mean()
        assert mean_change < 0 if g > 1.05 else mean_change > 0 if g < 0.95 else True
