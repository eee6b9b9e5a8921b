"""The sd_lora plugin on a tiny Stable Diffusion folder: lazy imports, offline status,
reproducible generation, img2img editing, interpolation and the diffusers LoRA format."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from fexlab.plugins.sd_lora import BASE_MODEL_ENV, LORA_WEIGHTS_NAME, SDLoRA
from fexlab.registry import InputError, NeedsWeightsError
from tests.conftest import ROOT
from tests.sd_tiny import RESOLUTION, write_tiny_base_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_tiny_base_model(tmp_path_factory.mktemp("sd") / "tiny-sd")


@pytest.fixture(scope="module")
def sd(base):
    return SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION)


def _arrays(images):
    return [np.asarray(image) for image in images]


def test_listing_and_status_never_import_diffusers():
    code = ("import sys; from fexlab.registry import Registry; r = Registry(); "
            "print(r.info('generator', 'sd_lora').status); "
            "print(any(m.split('.')[0] in ('diffusers', 'transformers', 'peft') for m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != BASE_MODEL_ENV}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**env, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["needs", "weights", "False"]


def test_offline_without_a_base_model_it_needs_weights_and_says_how(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(BASE_MODEL_ENV, raising=False)
    status = SDLoRA.status()
    assert status.state == "needs weights" and BASE_MODEL_ENV in status.detail
    plugin = SDLoRA.load_default()
    with pytest.raises(NeedsWeightsError, match="cannot load its base model 'stable-diffusion-v1-5/"):
        plugin.generate(["happy"], seed=0)


def test_a_local_base_model_makes_it_ready(monkeypatch, base):
    monkeypatch.setenv(BASE_MODEL_ENV, str(base))
    assert SDLoRA.status().ready
    assert SDLoRA.load_default().config.base_model == str(base)
    assert SDLoRA.from_pretrained(base).config.base_model == str(base)  # a diffusers folder is a base model


def test_fixed_seed_generation_is_reproducible_and_shares_the_noise(sd):
    first = _arrays(sd.generate(["happy", "sad"], seed=3, steps=3))
    assert first[0].shape == (RESOLUTION, RESOLUTION, 3)
    again = _arrays(sd.generate(["sad"], seed=3, steps=3))
    np.testing.assert_array_equal(again[0], first[1])
    assert not np.array_equal(first[0], first[1])  # the caption changes the image
    assert not np.array_equal(_arrays(sd.generate(["sad"], seed=4, steps=3))[0], first[1])
    assert sd.prompt("fear") == "a close-up photo of a fear face"


def test_img2img_edits_an_uploaded_face(sd):
    face = np.zeros((40, 60, 3), np.uint8)
    face[:, :, 0] = 200
    edited = _arrays(sd.generate(["surprise", "angry"], seed=1, steps=4, image=face, strength=0.5))
    assert [e.shape for e in edited] == [(RESOLUTION, RESOLUTION, 3)] * 2
    np.testing.assert_array_equal(edited[0], _arrays(sd.edit(face, ["surprise"], seed=1, steps=4, strength=0.5))[0])
    assert not np.array_equal(edited[0], _arrays(sd.edit(face, ["surprise"], seed=1, steps=4, strength=1.0))[0])
    with pytest.raises(InputError, match="strength must be in"):
        sd.edit(face, ["happy"], seed=1, strength=0)


def test_interpolation_ends_on_the_generated_images(sd):
    frames = _arrays(sd.interpolate(("happy", 0), ("sad", 5), frames=3, steps=3))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[0], _arrays(sd.generate(["happy"], seed=0, steps=3))[0])
    np.testing.assert_array_equal(frames[-1], _arrays(sd.generate(["sad"], seed=5, steps=3))[0])


def test_lora_is_saved_and_loaded_the_diffusers_way(base, tmp_path):
    from safetensors.torch import load_file

    plugin = SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION, lora_rank=2)
    params = plugin.add_lora()
    with torch.no_grad():
        for p in params:  # as if trained: lora_B leaves its zero initialisation
            p.add_(torch.randn_like(p) * 0.3)
    with_lora = _arrays(plugin.generate(["happy"], seed=2, steps=3))[0]
    plugin.save_pretrained(tmp_path / "ckpt", training_data="unit test")
    keys = load_file(tmp_path / "ckpt" / LORA_WEIGHTS_NAME).keys()
    assert keys and all(k.startswith("unet.") and "lora" in k for k in keys)

    fresh = SDLoRA.from_pretrained(tmp_path / "ckpt")
    assert fresh.config.lora_rank == 2 and fresh.metadata["training_data"] == "unit test"
    np.testing.assert_allclose(_arrays(fresh.generate(["happy"], seed=2, steps=3))[0], with_lora, atol=2)
    plain = SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION)
    assert np.abs(_arrays(plain.generate(["happy"], seed=2, steps=3))[0].astype(int) - with_lora).max() > 10
    half = _arrays(fresh.generate(["happy"], seed=2, steps=3, lora_scale=0.0))[0]
    np.testing.assert_allclose(half, _arrays(plain.generate(["happy"], seed=2, steps=3))[0], atol=2)
