"""The SD LoRA trainer end to end on a tiny Stable Diffusion folder: the same code path a real
base model takes (from_pretrained, peft adapters, diffusers LoRA files, Accelerate state)."""

import argparse
import json

import numpy as np
import pytest

from fexlab.plugins.sd_lora import LORA_WEIGHTS_NAME, SDLoRA
from fexlab.trainers.sd_lora import add_arguments, main
from tests.sd_tiny import RESOLUTION, write_tiny_base_model


def _run(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return main(parser.parse_args(argv))


@pytest.mark.slow
def test_lora_training_lowers_the_loss_and_the_saved_lora_changes_a_fresh_pipeline(tmp_path):
    base = write_tiny_base_model(tmp_path / "tiny-sd")
    out = tmp_path / "run"
    common = ["--base-model", str(base), "--resolution", str(RESOLUTION), "--lora-rank", "4", "--lora-alpha", "4",
              "--batch-size", "4", "--lr", "5e-3", "--val-faces", "8", "--validation-seeds", "1",
              "--validation-steps", "2", "--log-every", "2", "--gradient-checkpointing"]
    assert _run(["--data", "synthetic:n=56,size=48", "--out", str(out), "--epochs", "2", "--limit", "24",
                 "--train-text-encoder", *common]) == 0

    val = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["split"] == "val"]
    assert [r["epoch"] for r in val] == [0, 1, 2]
    assert val[-1]["loss"] < val[0]["loss"]  # fixed faces, noise and timesteps: a fair comparison
    for name in ("samples/epoch_002.png", "curves.png", f"best/{LORA_WEIGHTS_NAME}", "best/config.json",
                 f"state/{LORA_WEIGHTS_NAME}", "state/trainer_state.json"):
        assert (out / name).is_file(), name
    assert not (out / "state" / "model.safetensors").exists()  # the frozen base model is never copied

    trained = SDLoRA.from_pretrained(out)
    assert trained.config.train_text_encoder and "SYNTHETIC" in trained.metadata["training_data"]
    first = np.asarray(trained.generate(["happy"], seed=0, steps=3)[0]).astype(int)
    np.testing.assert_array_equal(np.asarray(trained.generate(["happy"], seed=0, steps=3)[0]), first)
    plain = SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION)
    assert np.abs(np.asarray(plain.generate(["happy"], seed=0, steps=3)[0]).astype(int) - first).max() > 0

    assert _run(["--resume", "--out", str(out), "--epochs", "3"]) == 0
    resumed = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["split"] == "val"]
    assert [r["epoch"] for r in resumed] == [0, 1, 2, 3]
