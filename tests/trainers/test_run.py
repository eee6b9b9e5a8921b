"""The shared trainer pieces: run folder, metrics log, resume, guards, configs from files and flags."""

import argparse
import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from fexlab.registry import InputError
from fexlab.trainers.run import (
    EarlyStopping,
    EpochSampler,
    RunDirectory,
    RunState,
    TrainingError,
    add_dataclass_arguments,
    check_finite,
    resolve_config,
)


@dataclass
class ToyConfig:
    lr: float = 1e-3
    epochs: int = 3
    amp: bool = False
    sizes: tuple[int, ...] = (1, 2)
    options: dict = field(default_factory=dict)
    name: str | None = field(default=None, metadata={"help": "a name"})


def test_a_finished_run_is_never_overwritten_and_resume_needs_state(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_config({"lr": 0.1})
    with pytest.raises(InputError, match="already holds a training run; pass --resume"):
        RunDirectory(tmp_path / "run")
    with pytest.raises(InputError, match="nothing to resume"):
        RunDirectory(tmp_path / "run", resume=True)
    assert run.read_config() == {"lr": 0.1}


def test_resume_puts_back_a_state_a_kill_left_aside_mid_save(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.write_config({"lr": 0.1})
    # the second rename of a state save never happened: only the previous state, set aside by a dead process
    aside = tmp_path / "run" / ".old-state-999999999"
    aside.mkdir()
    (aside / "trainer_state.json").write_text("{}")
    RunDirectory(tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "state" / "trainer_state.json").read_text() == "{}" and not aside.exists()


def test_log_appends_records_with_time_and_draws_curves(tmp_path):
    run = RunDirectory(tmp_path / "run")
    for epoch in range(1, 4):
        run.log(split="train", epoch=epoch, loss=1.0 / epoch, accuracy=0.3 * epoch)
        run.log(split="val", epoch=epoch, loss=1.2 / epoch, accuracy=0.25 * epoch)
    lines = run.metrics_path.read_text().splitlines()
    assert len(lines) == 6 and all("time" in json.loads(line) for line in lines)
    assert [r["loss"] for r in run.records("val")] == pytest.approx([1.2, 0.6, 0.4])
    path = run.plot_curves(("loss", "accuracy"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.plot_curves(("fid",)) is None  # no record has it: no empty figure


def test_state_round_trip_restores_weights_rng_and_cuts_the_log(tmp_path):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    run = RunDirectory(tmp_path / "run")
    run.log(split="train", epoch=1, loss=1.0)
    run.save_state(accelerator, RunState(epoch=1, step=10, extra={"best": 0.5}))
    saved = model.weight.detach().clone()
    expected_draw = torch.rand(3)
    # the run goes on, then is killed before its next save
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    run.log(split="train", epoch=2, loss=0.5)
    torch.rand(5)

    resumed = RunDirectory(tmp_path / "run", resume=True)
    state = resumed.load_state(accelerator)
    assert (state.epoch, state.step, state.extra) == (1, 10, {"best": 0.5})
    assert torch.equal(model.weight, saved)
    assert torch.equal(torch.rand(3), expected_draw)
    assert [r["epoch"] for r in resumed.records()] == [1]
    assert not list((tmp_path / "run").glob(".tmp-*"))


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    assert check_finite(torch.tensor(0.25), epoch=0, step=3) == 0.25
    run = RunDirectory(tmp_path / "run")
    (run.path / "last").mkdir()
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 7.*last good checkpoint.*learning rate"):
        check_finite(torch.tensor(float("nan")), epoch=1, step=7, run=run)


def test_early_stopping_counts_stale_epochs_and_survives_a_resume():
    stop = EarlyStopping(patience=2)
    assert [stop.update(v, e) for e, v in enumerate([0.5, 0.7, 0.6])] == [True, True, False]
    restored = EarlyStopping(patience=2)
    restored.load_state_dict(json.loads(json.dumps(stop.state_dict())))
    assert not restored.should_stop
    restored.update(0.65, 3)
    assert restored.should_stop and restored.best == 0.7 and restored.best_epoch == 1


def test_epoch_sampler_order_depends_only_on_seed_and_epoch():
    sampler = EpochSampler(50, seed=3)
    sampler.set_epoch(4)
    fourth = list(sampler)
    other = EpochSampler(50, seed=3)
    other.set_epoch(1)
    list(other)
    other.set_epoch(4)
    assert list(other) == fourth and sorted(fourth) == list(range(50))
    sampler.set_epoch(5)
    assert list(sampler) != fourth
    weighted = EpochSampler(2000, seed=0, weights=[1.0] * 1000 + [9.0] * 1000)
    drawn = np.array(list(weighted))
    assert 0.85 < (drawn >= 1000).mean() < 0.95


def test_config_from_defaults_file_and_flags(tmp_path):
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, ToyConfig)
    (tmp_path / "c.yaml").write_text("lr: 0.5\nepochs: 7\nsizes: [4, 5]\n")
    args = parser.parse_args(["--epochs", "9", "--amp", "--options", "a=1", "--options", "b=x"])
    config = resolve_config(ToyConfig, args, tmp_path / "c.yaml")
    assert config == ToyConfig(lr=0.5, epochs=9, amp=True, sizes=(4, 5), options={"a": 1, "b": "x"})
    assert resolve_config(ToyConfig, parser.parse_args([])) == ToyConfig()
    (tmp_path / "bad.json").write_text('{"lr": 1, "epochz": 2}')
    with pytest.raises(InputError, match=r"unknown ToyConfig option\(s\) \['epochz'\]"):
        resolve_config(ToyConfig, None, tmp_path / "bad.json")
    with pytest.raises(InputError, match="does not exist"):
        resolve_config(ToyConfig, None, tmp_path / "missing.toml")
