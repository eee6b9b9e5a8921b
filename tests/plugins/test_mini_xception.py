"""The PyTorch port reproduces the Keras model's outputs (../shared/golden) to 1e-4."""

import numpy as np
import pytest
import torch

from fexlab.plugins.mini_xception import MiniXception
from tests.conftest import GOLDEN


@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN)


@pytest.fixture(scope="module")
def model():
    return MiniXception.load_default()


def test_network_reproduces_the_golden_probabilities(model, golden):
    x = torch.from_numpy(golden["inputs"]).permute(0, 3, 1, 2)
    with torch.no_grad():
        probs = torch.softmax(model.torch_module()(x), dim=1).numpy()
    np.testing.assert_allclose(probs, golden["probs"], atol=1e-4)


def test_predict_from_uint8_faces_normalises_as_the_keras_model(model, golden):
    """RGB uint8 faces go through gray conversion and (x / 255 - 0.5) * 2, as in Keras."""
    gray = np.rint((golden["inputs"][..., 0] / 2 + 0.5) * 255).astype(np.uint8)
    faces = [np.repeat(g[:, :, None], 3, axis=2) for g in gray]
    x = torch.from_numpy((gray[:, None].astype(np.float32) / 255 - 0.5) * 2)
    with torch.no_grad():
        expected = torch.softmax(model.torch_module()(x), dim=1).numpy()
    np.testing.assert_allclose(model.predict(faces), expected, atol=1e-5)
    # the golden inputs are not exactly 8-bit, so only rounding separates them from the golden outputs
    np.testing.assert_allclose(model.predict(faces), golden["probs"], atol=0.02)


def test_predict_is_batched_and_size_independent(model):
    rng = np.random.default_rng(1)
    faces = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in (30, 64, 200)] * 30
    probs = model.predict(faces)
    assert probs.shape == (90, 7)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.predict(faces[:3]), probs[:3], atol=1e-6)


def test_default_weights_record_their_provenance(model):
    assert "FER2013" in model.metadata["training_data"]
    assert model.input_spec().grayscale and model.input_spec().size == 64
    module = model.torch_module()
    stats = sum(b.numel() for n, b in module.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert sum(p.numel() for p in module.parameters()) + stats == 58423  # as Keras counts them
