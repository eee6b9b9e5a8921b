"""The Hugging Face ViT plugin: small configs offline, hub-style checkpoints, label mapping."""

import json

import numpy as np
import pytest
import torch

from fexlab.plugins.vit import HF_DIR, ViT
from fexlab.registry import EMOTIONS, NEEDS_WEIGHTS, CheckpointError, InputError, NeedsWeightsError

TINY = dict(input_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=64)


def faces(n=5, size=40, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def hub_style_folder(path, labels, seed=0):
    """A folder as a hub repo has it: transformers' config.json with id2label, model.safetensors."""
    import torch

    torch.manual_seed(seed)
    model = ViT.from_config(**TINY, labels=tuple(labels))
    model.torch_module().model.save_pretrained(path)
    return model


def test_fexlab_checkpoint_round_trip_keeps_predictions_and_layout(tmp_path):
    model = ViT.from_config(**TINY, grayscale=True)
    before = model.predict(faces())
    path = model.save_pretrained(tmp_path / "ckpt", training_data="noise", metrics={"accuracy": 0.5})
    assert sorted(p.name for p in path.iterdir()) == ["config.json", HF_DIR]
    assert sorted(p.name for p in (path / HF_DIR).iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["plugin"] == "vit" and meta["labels"] == list(EMOTIONS) and meta["config"]["grayscale"]
    loaded = ViT.from_pretrained(path)
    np.testing.assert_array_equal(loaded.predict(faces()), before)
    assert loaded.metadata["metrics"] == {"accuracy": 0.5}


def test_hub_style_id2label_is_mapped_onto_the_emotions(tmp_path):
    order = ("happiness", "sadness", "anger", "surprise", "neutral", "fear", "disgust")
    source = hub_style_folder(tmp_path / "hub", order)
    loaded = ViT.from_pretrained(tmp_path / "hub")
    assert loaded.labels == order and loaded.config.base_model == str(tmp_path / "hub")
    logits = source.predict_logits(faces())
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = expected[:, [order.index(n) for n in ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")]]
    np.testing.assert_allclose(loaded.predict(faces()), expected, atol=1e-6)
    # and it round-trips as a fexlab checkpoint with its own label order
    again = ViT.from_pretrained(loaded.save_pretrained(tmp_path / "ckpt"))
    assert again.labels == order
    np.testing.assert_allclose(again.predict(faces()), expected, atol=1e-6)


def test_extra_labels_are_dropped_and_the_rest_renormalised(tmp_path):
    labels = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")  # AffectNet-8
    hub_style_folder(tmp_path / "affectnet", labels)
    model = ViT.from_pretrained(tmp_path / "affectnet")
    assert model.label_mapping.dropped == ["contempt"]
    probs = model.predict(faces())
    assert probs.shape == (5, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_unnamed_labels_are_refused_unless_overridden(tmp_path):
    generic = tuple(f"LABEL_{i}" for i in range(7))
    hub_style_folder(tmp_path / "generic", generic)
    with pytest.raises(CheckpointError, match="none of the labels.*label_overrides"):
        ViT.from_pretrained(tmp_path / "generic")
    overrides = dict(zip(generic, reversed(EMOTIONS)))
    model = ViT.from_pretrained(tmp_path / "generic", label_overrides=overrides)
    assert model.label_mapping.source_index(EMOTIONS.index("neutral")) == 0


def test_pickled_weights_are_never_loaded(tmp_path):
    hub_style_folder(tmp_path / "pickled", EMOTIONS)
    (tmp_path / "pickled" / "model.safetensors").rename(tmp_path / "pickled" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="no safetensors weights"):
        ViT.from_pretrained(tmp_path / "pickled")


def test_offline_hub_model_needs_weights_and_never_hangs(monkeypatch, without_fexlab_tags):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status = ViT.status()
    assert status.state == NEEDS_WEIGHTS and "trpakov/vit-face-expression" in status.detail
    assert "fexlab train classifier --plugin vit" in status.detail
    with pytest.raises(NeedsWeightsError, match="HF_HUB_OFFLINE=1"):
        ViT.load_default("fer2013")
    with pytest.raises(NeedsWeightsError):
        ViT.from_config(base_model="trpakov/vit-face-expression").predict(faces(1))


MOBILEVIT_XXS = {"hidden_sizes": [32, 40, 48], "neck_hidden_sizes": [8, 8, 16, 24, 32, 40, 80], "expand_ratio": 2.0}


def test_a_hybrid_built_from_scratch_through_the_auto_route(tmp_path):
    from fexlab.plugins.vit import ViT

    torch.manual_seed(0)
    model = ViT.from_config(model_type="mobilevit", input_size=48, grayscale=True, model_options=MOBILEVIT_XXS)
    assert type(model.torch_module().model).__name__ == "MobileViTForImageClassification"
    faces = [np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8) for i in range(3)]
    probs = model.predict(faces)
    assert probs.shape == (3, 7)
    model.save_pretrained(tmp_path / "mvit")
    again = ViT.from_pretrained(tmp_path / "mvit")
    assert again.config.model_type == "mobilevit" and again.config.model_options["hidden_sizes"] == [32, 40, 48]
    np.testing.assert_allclose(again.predict(faces), probs, atol=1e-5)


def test_an_unknown_model_type_is_refused_clearly():
    from fexlab.plugins.vit import ViT

    with pytest.raises(InputError, match="cannot build a 'no_such_model'"):
        ViT.from_config(model_type="no_such_model").torch_module()
