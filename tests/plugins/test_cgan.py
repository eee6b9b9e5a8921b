"""The cgan plugin: one identity per seed, truncation, interpolation, checkpoints, its networks."""

import numpy as np
import pytest
import torch

from fexlab.plugins.cgan import CGAN, ProjectionDiscriminator
from fexlab.plugins.cgan.diffaugment import diff_augment
from fexlab.registry import EMOTIONS, InputError
from tests.cgan_tiny import tiny_cgan


@pytest.fixture(scope="module")
def gan():
    return tiny_cgan()


def _arrays(images):
    return [np.asarray(image) for image in images]


def test_one_seed_is_one_latent_across_emotions_and_repeats_exactly(gan):
    seen = []
    stem = gan.torch_module().stem  # its input is [z, class embedding]
    handle = stem.register_forward_hook(lambda m, args, out: seen.append(args[0][:, :16].clone()))
    try:
        images = gan.generate(list(EMOTIONS), seed=7)
    finally:
        handle.remove()
    z = seen[0]
    assert z.shape == (7, 16) and torch.equal(z, z[:1].expand(7, -1))  # the same identity for every emotion
    assert torch.equal(z[0], gan.latent(7))
    assert all(image.size == (64, 64) and image.mode == "RGB" for image in images)
    arrays = _arrays(images)
    assert not np.array_equal(arrays[0], arrays[3])  # the emotion changes the face
    again = _arrays(gan.generate(["angry", "happy"], seed=7))
    np.testing.assert_array_equal(again[0], arrays[0])
    np.testing.assert_array_equal(again[1], arrays[3])  # batch composition never changes a face
    assert not np.array_equal(_arrays(gan.generate(["angry"], seed=8))[0], arrays[0])


def test_truncation_pulls_the_latent_toward_the_mean_and_bad_options_are_refused(gan):
    assert torch.allclose(gan.latent(3, truncation=0.5), gan.latent(3) * 0.5)
    assert not np.array_equal(_arrays(gan.generate(["sad"], seed=3, truncation=0.5))[0],
                              _arrays(gan.generate(["sad"], seed=3))[0])
    with pytest.raises(InputError, match="truncation must be in"):
        gan.generate(["sad"], seed=3, truncation=0)
    with pytest.raises(InputError, match="no option.*'steps'"):
        gan.generate(["sad"], seed=3, steps=10)
    with pytest.raises(InputError, match="unknown emotion 'hapy'.*Did you mean 'happy'"):
        gan.generate(["hapy"], seed=3)


def test_interpolation_starts_and_ends_on_the_generated_faces(gan):
    frames = _arrays(gan.interpolate(("happy", 1), ("sad", 2), frames=5))
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[0], _arrays(gan.generate(["happy"], seed=1))[0])
    np.testing.assert_array_equal(frames[-1], _arrays(gan.generate(["sad"], seed=2))[0])
    assert not np.array_equal(frames[2], frames[0]) and not np.array_equal(frames[2], frames[-1])
    same_identity = _arrays(gan.interpolate(("angry", 4), ("surprise", 4), frames=3))
    np.testing.assert_array_equal(same_identity[-1], _arrays(gan.generate(["surprise"], seed=4))[0])
    with pytest.raises(InputError, match="at least 2 frames"):
        gan.interpolate(("happy", 1), ("sad", 2), frames=1)


def test_checkpoint_round_trip_gives_the_same_faces(gan, tmp_path):
    gan.save_pretrained(tmp_path / "ckpt", training_data="unit test noise")
    loaded = CGAN.from_pretrained(tmp_path / "ckpt")
    assert loaded.config == gan.config and loaded.metadata["training_data"] == "unit test noise"
    for a, b in zip(_arrays(gan.generate(["fear", "neutral"], seed=5)), _arrays(loaded.generate(["fear", "neutral"], seed=5))):
        np.testing.assert_array_equal(a, b)


def test_gray_and_128_configs():
    gray = CGAN.from_config(grayscale=True, g_width=4, z_dim=8)
    image = np.asarray(gray.generate(["happy"], seed=0)[0])
    assert image.shape == (64, 64, 3) and np.array_equal(image[..., 0], image[..., 2])
    assert CGAN.from_config(resolution=128, g_width=4, z_dim=8).generate(["sad"], seed=0)[0].size == (128, 128)
    with pytest.raises(ValueError, match="power of two"):
        CGAN.from_config(resolution=80)


def test_48px_gray_config_matches_fer2013_faces():
    """FER2013's 48x48 faces: a 3x3 stem doubled four times, and a discriminator and auxiliary
    classifier that take 48x48 inputs."""
    gan = CGAN.from_config(resolution=48, grayscale=True, g_width=4, d_width=4, z_dim=8)
    assert gan.generate(["sad"], seed=0)[0].size == (48, 48)
    x = torch.zeros(2, 1, 48, 48)
    assert gan.build_discriminator()(x, torch.tensor([0, 1])).shape == (2,)
    assert gan.build_classifier()(x).shape == (2, 7)


def test_projection_discriminator_is_class_aware_and_spectrally_normalised():
    torch.manual_seed(0)
    disc = ProjectionDiscriminator(channels=3, resolution=64, width=8)
    x = torch.randn(2, 3, 64, 64)
    for _ in range(20):  # power iterations converge in training mode
        scores = disc(x, torch.tensor([0, 0]))
    assert not torch.allclose(scores, disc(x, torch.tensor([3, 3])))
    soft = torch.full((2, 7), 1 / 7)  # soft class weights are accepted (interpolation)
    assert disc(x, soft).shape == (2,)
    disc.eval()
    conv = disc.features[0]
    sigma = float(torch.linalg.matrix_norm(conv.weight.detach().reshape(conv.weight.shape[0], -1), ord=2))
    assert sigma == pytest.approx(1.0, abs=0.05)


def test_diffaugment_is_differentiable_and_keeps_shapes():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    out = diff_augment(x, "color,translation,cutout", g)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    cut = diff_augment(torch.ones(2, 1, 16, 16), "cutout", g)
    assert (cut == 0).sum(dim=(1, 2, 3)).tolist() == [16, 16]  # one 4x4 square per image
    shifted = diff_augment(torch.arange(256.0).reshape(1, 1, 16, 16), "translation", g)
    assert set(shifted.unique().tolist()) <= set(range(256))  # whole-pixel shifts, zero fill
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        diff_augment(x, "rotate")


def test_the_shipped_checkpoints_are_ready_small_and_say_what_they_were_trained_on(registry):
    from fexlab.plugins.cgan.plugin import WEIGHTS_DIR

    assert registry.info("generator", "cgan").status == "ready"
    real = CGAN.load_default()  # the default tag: real faces
    assert "FER+ majority labels" in real.metadata["training_data"] and not real.metadata.get("synthetic")
    card = (WEIGHTS_DIR / "fer2013" / "README.md").read_text(encoding="utf-8")
    assert "FER2013" in card and "fexlab train cgan" in card and "fexlab evaluate" in card
    assert (WEIGHTS_DIR / "fer2013" / "model.safetensors").stat().st_size < 8 * 2**20
    faces = _arrays(real.generate(list(EMOTIONS), seed=0))
    assert [f.shape for f in faces] == [(48, 48, 3)] * 7
    folder = WEIGHTS_DIR / "synthetic"
    assert (folder / "model.safetensors").stat().st_size < 8 * 2**20
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in card and "not real photographs" in card and "fexlab train cgan" in card
    gan = CGAN.load_default("synthetic")
    assert "SYNTHETIC" in gan.metadata["training_data"]
    faces = _arrays(gan.generate(list(EMOTIONS), seed=0))
    assert [f.shape for f in faces] == [(64, 64, 3)] * 7
    np.testing.assert_array_equal(_arrays(gan.generate(["sad"], seed=0))[0], faces[EMOTIONS.index("sad")])
