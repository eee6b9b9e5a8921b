"""The cGAN trainer on a few synthetic faces: run folder, sample grids, checkpoints, learning,
judge-picked best checkpoint and an exact resume."""

import argparse
import json

import numpy as np
import pytest
import torch

from fexlab.plugins.cgan import CGAN
from fexlab.preprocessing.readers import open_dataset
from fexlab.registry import InputError
from fexlab.trainers.cgan import CGANTrainConfig, add_arguments, main, train_cgan

DATA = "synthetic:n=140,size=48"
TINY = ["--data", DATA, "--resolution", "16", "--z-dim", "16", "--g-width", "8", "--d-width", "8",
        "--batch-size", "16", "--lr-g", "1e-3", "--lr-d", "1e-3", "--ema-decay", "0.8", "--grid-seeds", "2",
        "--log-every", "2", "--aux-weight", "0.5"]


def _run(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return main(parser.parse_args(argv))


def _colour_gap(plugin: CGAN, real: np.ndarray) -> float:
    """How far the generated faces' colour statistics are from the real faces' (lower is better)."""
    z = torch.randn(64, plugin.config.z_dim, generator=torch.Generator().manual_seed(0))
    fake = plugin.sample(z, torch.arange(64) % 7).astype(np.float32)
    return float(np.abs(fake.mean((0, 1, 2)) - real.mean((0, 1, 2))).mean()
                 + np.abs(fake.std((0, 1, 2)) - real.std((0, 1, 2))).mean())


@pytest.mark.slow
def test_training_writes_the_run_and_the_generator_learns(tmp_path):
    out = tmp_path / "run"
    assert _run([*TINY, "--epochs", "3", "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["split"] == "train"] == [1, 2, 3]
    assert any(r["split"] == "train_step" for r in records)
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in records)
    for name in ("train_config.json", "curves.png", "samples/epoch_001.png", "samples/epoch_003.png",
                 "best/model.safetensors", "last/config.json", "state/trainer_state.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "train_config.json").read_text())
    assert config["aux_weight"] == 0.5 and "SYNTHETIC" in config["training_data"]

    trained = CGAN.from_pretrained(out)  # a run folder loads its best/ checkpoint
    assert trained.config.resolution == 16 and "SYNTHETIC" in trained.metadata["training_data"]
    assert trained.metadata["metrics"]["epoch"] == 3
    faces = np.stack([s.image for s in open_dataset(DATA).split("train")])
    real = torch.nn.functional.interpolate(torch.from_numpy(faces).permute(0, 3, 1, 2).float(), size=16,
                                           mode="area").permute(0, 2, 3, 1).numpy()
    torch.manual_seed(0)
    untrained = CGAN.from_config(trained.config)
    assert _colour_gap(trained, real) < 0.7 * _colour_gap(untrained, real)


@pytest.mark.slow
def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run([*TINY, "--epochs", "2", "--out", str(whole), "--diffaugment", "translation,cutout"])
    _run([*TINY, "--epochs", "1", "--out", str(parts), "--diffaugment", "translation,cutout"])
    with pytest.raises(InputError, match="only .*epochs.* may change"):
        _run(["--resume", "--out", str(parts), "--epochs", "2", "--lr-g", "0.5"])
    _run(["--resume", "--out", str(parts), "--epochs", "2"])
    assert (whole / "last" / "model.safetensors").read_bytes() == (parts / "last" / "model.safetensors").read_bytes()
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k != "time"}  # noqa: E731
                          for line in (path / "metrics.jsonl").read_text().splitlines()]
    assert strip(whole) == strip(parts)


@pytest.mark.slow
def test_a_judge_scores_the_samples_and_picks_best(tmp_path, monkeypatch):
    """The judge is any classifier; a fixed stand-in makes the expected score known."""
    import fexlab.trainers.gan as loop
    class AlwaysHappy:
        def predict(self, faces):
            probs = np.zeros((len(faces), 7), np.float32)
            probs[:, 3] = 1
            return probs

    monkeypatch.setattr(loop, "load_judge", lambda spec: AlwaysHappy() if spec else None)
    cfg = CGANTrainConfig(data=DATA, out=str(tmp_path / "run"), resolution=16, z_dim=16, g_width=4, d_width=4,
                          batch_size=16, epochs=1, max_steps=2, grid_seeds=1, judge="stand-in", judge_seeds=3, limit=64)
    run = train_cgan(cfg)
    assert run.records("train")[0]["step"] == 2  # the step budget ends the epoch early
    val = run.records("val")
    assert len(val) == 1 and val[0]["judge_accuracy"] == pytest.approx(1 / 7)
    assert json.loads((run.path / "best" / "config.json").read_text())["metrics"]["judge_accuracy"] == pytest.approx(1 / 7)
