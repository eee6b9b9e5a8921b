"""Prediction on ONNX Runtime: the same probabilities as PyTorch for every shipped classifier,
exported once into the cache, exported again when the weights change, PyTorch where it must."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from fexlab.plugins.mini_xception import MiniXception
from fexlab.registry import default_registry, onnx_runtime
from fexlab.registry.onnx_runtime import OnnxModule, engine

SHIPPED = ["mini_xception.fer2013", "mini_xception.ferplus", "efficientnet.ferplus_muxspace", "efficientnet.ferplus",
           "efficientnet.fer2013", "convnext.ferplus", "vit.ferplus", "ensemble.ferplus"]


def _faces(count: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (int(rng.integers(40, 140)),) * 2 + (3,), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("spec", SHIPPED)
def test_every_shipped_classifier_gives_pytorch_s_probabilities(spec, monkeypatch):
    classifier = default_registry().classifier(spec)
    faces = _faces()
    on_onnx = classifier.predict(faces)
    members = getattr(classifier, "members", None)
    runners = [m.onnx_module() for m in members.values()] if isinstance(members, dict) else [classifier.onnx_module()]
    assert all(isinstance(r, OnnxModule) for r in runners)
    monkeypatch.setenv("FEXLAB_ENGINE", "torch")
    on_torch = classifier.predict(faces)
    assert on_onnx.shape == (5, 7)
    np.testing.assert_allclose(on_onnx, on_torch, atol=1e-4)


def test_an_export_is_cached_and_reused_by_a_classifier_with_the_same_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("FEXLAB_CACHE_DIR", str(tmp_path))
    model = MiniXception.from_config(input_size=48)
    first = model.predict(_faces())
    [cached] = (tmp_path / "onnx").glob("mini_xception-*.onnx")
    twin = MiniXception.from_config(input_size=48)
    twin.torch_module().load_state_dict(model.torch_module().state_dict())
    monkeypatch.setattr(onnx_runtime, "export_module", lambda *a: pytest.fail("exported again"))
    np.testing.assert_allclose(twin.predict(_faces()), first, atol=1e-6)
    assert list((tmp_path / "onnx").glob("*.onnx")) == [cached]


def test_changed_weights_are_exported_again():
    import torch

    model = MiniXception.from_config(input_size=48)
    before = model.predict(_faces())
    with torch.no_grad():
        for parameter in model.torch_module().parameters():
            parameter.add_(0.05)
    after = model.predict(_faces())
    assert not np.allclose(before, after, atol=1e-3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEXLAB_ENGINE", "torch")
        np.testing.assert_allclose(after, model.predict(_faces()), atol=1e-4)


def test_an_unwritable_cache_keeps_the_export_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("FEXLAB_CACHE_DIR", str(blocker))
    model = MiniXception.from_config(input_size=48)
    assert model.predict(_faces()).shape == (5, 7) and isinstance(model.onnx_module(), OnnxModule)


def test_without_onnx_runtime_prediction_falls_back_to_pytorch(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert engine() == "torch"
    model = MiniXception.from_config(input_size=48)
    assert model.predict(_faces()).shape == (5, 7) and model.onnx_module() is None


def test_a_module_the_exporter_cannot_translate_runs_on_pytorch(monkeypatch, caplog):
    def unsupported(*args):
        raise RuntimeError("Exporting the operator 'aten::something' to ONNX is not supported")

    monkeypatch.setattr(onnx_runtime, "export_module", unsupported)
    model = MiniXception.from_config(input_size=40)
    probs = model.predict(_faces())
    assert probs.shape == (5, 7) and model.onnx_module() is None
    assert "runs on PyTorch: its export to ONNX failed (Exporting the operator" in caplog.text


def test_the_engine_is_chosen_by_fexlab_engine(monkeypatch):
    monkeypatch.setenv("FEXLAB_ENGINE", "torch")
    assert engine() == "torch"
    monkeypatch.setenv("FEXLAB_ENGINE", "onnx")
    assert engine() == "onnx"
    monkeypatch.setenv("FEXLAB_ENGINE", "tensorrt")
    with pytest.raises(ValueError, match="FEXLAB_ENGINE must be 'onnx' or 'torch'"):
        engine()
