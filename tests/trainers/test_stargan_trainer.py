"""The expression translator's trainer on a few synthetic faces: run folder, sample grids of
validation faces, checkpoints, learning, a judge-picked best checkpoint and an exact resume."""

import argparse
import json

import numpy as np
import pytest
import torch

from fexlab.plugins.stargan import StarGAN
from fexlab.registry import InputError
from fexlab.trainers.gan import face_arrays
from fexlab.trainers.stargan import StarGANTrainConfig, add_arguments, main, train_stargan

DATA = "synthetic:n=140,size=48"
TINY = ["--data", DATA, "--resolution", "16", "--width", "4", "--blocks", "1", "--d-width", "8",
        "--batch-size", "16", "--lr-g", "2e-3", "--lr-d", "1e-3", "--ema-decay", "0.5", "--grid-faces", "2",
        "--log-every", "2"]


def _run(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return main(parser.parse_args(argv))


def _identity_error(plugin: StarGAN) -> float:
    """Mean absolute change when each training face is 'edited' to the emotion it shows (lower is better)."""
    faces, labels, _ = face_arrays(DATA, {}, "train", 16, True)
    x = torch.from_numpy(faces)
    return float((plugin.translate(x, torch.eye(7)[labels]) - x).abs().mean())


@pytest.mark.slow
def test_training_writes_the_run_and_the_translator_learns(tmp_path):
    out = tmp_path / "run"
    assert _run([*TINY, "--epochs", "3", "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["split"] == "train"] == [1, 2, 3]
    assert all(np.isfinite(r["g_loss"]) and np.isfinite(r["d_loss"]) for r in records)
    for name in ("train_config.json", "curves.png", "samples/epoch_001.png", "samples/epoch_003.png",
                 "best/model.safetensors", "best/README.md", "last/config.json", "state/trainer_state.json"):
        assert (out / name).is_file(), name
    trained = StarGAN.from_pretrained(out)
    assert trained.config.resolution == 16 and "SYNTHETIC" in trained.metadata["training_data"]
    torch.manual_seed(0)
    untrained = StarGAN.from_config(trained.config)
    assert _identity_error(trained) < 0.6 * _identity_error(untrained)
    train = [r for r in records if r["split"] == "train"]
    assert train[-1]["c_accuracy"] > train[0]["c_accuracy"]  # its own classifier learns the real faces


@pytest.mark.slow
def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run([*TINY, "--epochs", "2", "--limit", "64", "--out", str(whole)])
    _run([*TINY, "--epochs", "1", "--limit", "64", "--out", str(parts)])
    with pytest.raises(InputError, match="only .*epochs.* may change"):
        _run(["--resume", "--out", str(parts), "--epochs", "2", "--cycle-weight", "1"])
    _run(["--resume", "--out", str(parts), "--epochs", "2"])
    assert (whole / "last" / "model.safetensors").read_bytes() == (parts / "last" / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_a_judge_scores_edits_of_validation_faces_and_picks_best(tmp_path, monkeypatch):
    import fexlab.trainers.gan as loop
    class AlwaysHappy:
        def predict(self, faces):
            probs = np.zeros((len(faces), 7), np.float32)
            probs[:, 3] = 1
            return probs

        def embed(self, faces):
            return np.ones((len(faces), 4), np.float32)

    monkeypatch.setattr(loop, "load_judge", lambda spec: AlwaysHappy() if spec else None)
    cfg = StarGANTrainConfig(data=DATA, out=str(tmp_path / "run"), resolution=16, width=4, blocks=1, d_width=8,
                             batch_size=16, epochs=1, max_steps=2, grid_faces=1, judge="stand-in", judge_faces=7,
                             best_min_ssim=0.0, limit=64)
    run = train_stargan(cfg)
    assert run.records("train")[0]["step"] == 2
    val = run.records("val")
    assert len(val) == 1 and val[0]["judge_accuracy"] == pytest.approx(1 / 7, abs=0.03)
    assert 0 <= val[0]["ssim"] <= 1
    assert "judge_accuracy" in json.loads((run.path / "best" / "config.json").read_text())["metrics"]
