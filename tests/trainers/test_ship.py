"""Shipping a run's best checkpoint as a pretrained tag, in half precision only where it agrees."""

import json

import numpy as np
from safetensors.torch import load_file

from fexlab.plugins.convnext import ConvNeXt
from fexlab.trainers import ship as ship_module


def _run(tmp_path, data="synthetic:n=70,size=48,seed=0"):
    run = tmp_path / "run"
    model = ConvNeXt.from_config(variant="convnext_atto", input_size=32, pretrained_backbone=False)
    model.save_pretrained(run / "best", training_data="SYNTHETIC test faces")
    (run / "best" / "README.md").write_text("# card\n")
    (run / "train_config.json").write_text(json.dumps({"data": data, "data_options": {}}))
    return run, model


def test_ship_copies_best_with_its_card_and_halves_weights_that_agree(tmp_path, monkeypatch):
    monkeypatch.setattr(ship_module, "PLUGINS", tmp_path / "plugins")
    run, model = _run(tmp_path)
    target, note = ship_module.ship(run, "demo", fp16=True, card_extra="## Figures\n\nnone")
    assert target == tmp_path / "plugins" / "convnext" / "weights" / "demo"
    assert "## Figures" in (target / "README.md").read_text()
    tensors = load_file(str(target / "model.safetensors"))
    assert note.startswith("float16"), note
    assert {str(t.dtype) for t in tensors.values()} == {"torch.float16"}
    faces = [np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8) for i in range(8)]
    shipped = ConvNeXt.from_pretrained(target)
    np.testing.assert_allclose(shipped.predict(faces), model.predict(faces), atol=2e-2)


def test_ship_keeps_float32_without_the_flag(tmp_path, monkeypatch):
    monkeypatch.setattr(ship_module, "PLUGINS", tmp_path / "plugins")
    run, _ = _run(tmp_path)
    target, note = ship_module.ship(run, "demo")
    assert note == "float32"
    assert {str(t.dtype) for t in load_file(str(target / "model.safetensors")).values()} == {"torch.float32"}


def test_ship_keeps_float32_when_half_precision_changes_predictions(tmp_path, monkeypatch):
    monkeypatch.setattr(ship_module, "PLUGINS", tmp_path / "plugins")
    monkeypatch.setattr(ship_module, "_agreement", lambda *args: 0.9)
    run, _ = _run(tmp_path)
    target, note = ship_module.ship(run, "demo", fp16=True)
    assert note.startswith("float32 (in float16: same top emotion as float32 on 90.00%")
    assert {str(t.dtype) for t in load_file(str(target / "model.safetensors")).values()} == {"torch.float32"}


def test_ship_halves_a_generator_only_when_its_faces_stay_the_same(tmp_path, monkeypatch):
    from tests.stargan_tiny import tiny_stargan

    monkeypatch.setattr(ship_module, "PLUGINS", tmp_path / "plugins")
    run = tmp_path / "run"
    tiny_stargan().save_pretrained(run / "best", training_data="SYNTHETIC test faces")
    (run / "best" / "README.md").write_text("# card\n")
    (run / "train_config.json").write_text(json.dumps({"data": "synthetic:n=70,size=48,seed=0", "data_options": {}}))
    target, note = ship_module.ship(run, "demo", fp16=True)
    assert note.startswith("float16 (") and "grey levels" in note
    tensors = load_file(str(target / "model.safetensors")).values()
    assert {str(t.dtype) for t in tensors if t.is_floating_point()} == {"torch.float16"}
    monkeypatch.setattr(ship_module, "_pixel_gap", lambda *args: 3.0)
    _, note = ship_module.ship(run, "demo2", fp16=True)
    assert note == "float32 (in float16: 3.000 grey levels from float32 on average)"
