import json
import os
from pathlib import Path

import pytest
from PIL import Image

from fexlab.app import train as train_tab
from fexlab.app.train import (
    PRETRAINED,
    SCRATCH,
    continue_training,
    follow_training,
    list_runs,
    refresh_runs,
    show_run,
    start_choices,
    start_training,
    stop_training,
    training_command,
)
from fexlab.registry import InputError


def _fake_run(folder, kind="generator"):
    """A run folder as the trainers leave it: config, metrics log, best checkpoint, sample grids."""
    from fexlab.trainers.run import RunDirectory

    run = RunDirectory(folder)
    run.write_config({"data": "synthetic:n=140", "resolved": {"training_data": "SYNTHETIC cartoon faces, n=140",
                                                               "command": "fexlab train cgan --epochs 2"}})
    for epoch in (1, 2):
        run.log(split="train", epoch=epoch, step=epoch * 3, d_loss=1.5 / epoch, g_loss=0.8 * epoch, lr=0.001)
    (folder / "best").mkdir()
    (folder / "best" / "config.json").write_text(json.dumps({"plugin": "cgan", "kind": kind, "config": {},
                                                            "metrics": {"epoch": 2, "judge_accuracy": 0.4}}))
    (folder / "samples").mkdir()
    for epoch in (1, 2):
        Image.new("RGB", (40, 30), (epoch * 60, 0, 0)).save(folder / "samples" / f"epoch_00{epoch}.png")
    return folder


def test_a_run_folder_shows_its_curves_samples_and_how_to_use_it(folders):
    run = _fake_run(folders["runs"] / "cgan-a")
    assert list_runs() == [("runs/cgan-a", str(run))]
    figure, samples, summary = show_run("runs/cgan-a")
    assert [ax.get_title() for ax in figure.axes] == ["d_loss", "g_loss"]  # the learning rate is no result
    assert [caption for _, caption in samples] == ["epoch 002", "epoch 001"]
    assert "SYNTHETIC" in summary and "judge_accuracy 0.4" in summary and "fexlab train cgan --epochs 2" in summary
    assert "`runs/cgan-a` into *Your generator* on the Generate tab" in summary
    chooser, *shown = refresh_runs(None)
    assert chooser.value == str(run) and shown[2] == summary


def test_runs_are_listed_by_when_they_were_last_written(folders):
    older, newer = _fake_run(folders["runs"] / "older"), _fake_run(folders["runs"] / "newer")
    os.utime(newer, (1_000, 1_000))  # its folder looks old; its metrics log was written last
    os.utime(older / "metrics.jsonl", (2_000, 2_000))
    os.utime(older / "train_config.json", (2_000, 2_000))
    os.utime(older, (3_000, 3_000))
    assert [path for _, path in list_runs()] == [str(newer), str(older)]


def test_a_stopped_run_is_the_one_shown_after_stop_and_refresh(registry, folders, monkeypatch):
    import sys

    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(train_tab, "training_command",
                        lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])  # a run that waits
    run = start_training(registry, "cgan", None, SCRATCH, 140, 20, 0, {})
    _, _, state, _ = next(run)
    run_dir = _fake_run(folders["runs"] / os.path.basename(state["run"]))
    later = _fake_run(folders["runs"] / "written-later")
    for path in (run_dir / "metrics.jsonl", run_dir / "train_config.json", run_dir / train_tab.LOG_NAME, run_dir):
        os.utime(path, (1_000, 1_000))
    assert list_runs()[0][1] == str(later)  # the newest run is another one
    assert stop_training(state).startswith(f"Stopped runs/{run_dir.name}")
    outcome, _, _, shown = list(run)[-1]  # the run's own handler ends, showing the run it stopped
    assert "was stopped" in outcome and shown == str(run_dir)
    chooser, _, _, summary = refresh_runs(shown)  # and Refresh keeps it
    assert chooser.value == str(run_dir) and f"### runs/{run_dir.name}" in summary


@pytest.mark.parametrize("typed, error", [("/etc", "outside the folders"), ("runs/none", "no such file"),
                                          ("data", "is not a training run")])
def test_bad_run_folders(folders, typed, error):
    with pytest.raises(InputError, match=error):
        show_run(typed)


def test_no_run_chosen_is_an_empty_view(folders):
    assert show_run(None) == (None, [], "Choose a run folder, or start a short run below.")
    assert refresh_runs(None)[0].value is None


@pytest.mark.parametrize("args, error", [
    (("gan", "x", 140, 1), "choose a trainer"), (("classifier", None, 140, 1), "choose the classifier"),
    (("classifier", "mini_xception", 10, 1), "between 70 and 2800"), (("cgan", None, 140, 0), "between 1 and 20"),
])
def test_bad_training_requests(args, error, tmp_path):
    with pytest.raises(InputError, match=error):
        training_command(*args, seed=0, out=tmp_path / "run")


def test_fine_tuning_starts_from_the_plugins_pretrained_tag(registry, tmp_path, without_fexlab_tags):
    command = training_command("classifier", "mini_xception", 140, 1, 0, tmp_path / "run", "fer2013")
    assert command[command.index("--init") + 1] == "fer2013"
    assert "--init" not in training_command("classifier", "mini_xception", 140, 1, 0, tmp_path / "run")
    with pytest.raises(InputError, match="^convnext has no pretrained weights to start from; start from scratch$"):
        next(start_training(registry, "classifier", "convnext", PRETRAINED, 140, 1, 0, {}))


def test_start_from_offers_pretrained_weights_only_where_they_are(registry, without_fexlab_tags):
    for plugin, offered in (("mini_xception", [PRETRAINED, SCRATCH]), ("convnext", [SCRATCH]), ("vit", [SCRATCH])):
        chooser, start_from = start_choices(registry, "classifier", plugin)
        assert [choice[0] for choice in start_from.choices] == offered and start_from.value == offered[0], plugin
    _, start_from = start_choices(registry, "cgan", "mini_xception")
    assert start_from.interactive is False
    with pytest.raises(InputError, match="vit's pretrained weights are not on this machine \\('trpakov/vit-face"
                                         "-expression' is not cached and HF_HUB_OFFLINE=1\\); start from scratch$"):
        next(start_training(registry, "classifier", "vit", PRETRAINED, 140, 1, 0, {}))


def test_runs_are_bounded_by_time(monkeypatch, tmp_path):
    monkeypatch.setenv("FEXLAB_TRAIN_MAX_MINUTES", "2")
    for trainer, plugin in (("cgan", None), ("stargan", None), ("classifier", "mini_xception")):
        command = training_command(trainer, plugin, 140, 3, 1, tmp_path / "run")
        assert command[command.index("--max-minutes") + 1] == "1.60" and "synthetic:n=140,size=64,seed=1" in command
    assert "fexlab.trainers.stargan" in command_of("stargan", tmp_path) and "--grid-faces" in command_of("stargan", tmp_path)


def command_of(trainer, tmp_path):
    return training_command(trainer, None, 140, 1, 0, tmp_path / "run")


@pytest.mark.slow
def test_a_short_classifier_run_trains_with_live_progress(registry, folders, monkeypatch):
    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.3)
    fractions = []
    steps = list(start_training(registry, "classifier", "mini_xception", PRETRAINED, 280, 2, 0, {},
                                progress=lambda fraction, desc: fractions.append(fraction)))
    *during, (outcome, figure, state, run) = steps
    assert during and all(step[2]["pid"] and step[3] is None for step in during)
    assert outcome.startswith("Finished runs/app-mini_xception-") and state == {}
    assert os.path.isfile(os.path.join(run, "best", "config.json"))
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    assert {ax.get_title() for ax in figure.axes} >= {"loss", "accuracy"}
    records = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    assert {r["split"] for r in records} >= {"train", "val", "test"}
    config = json.load(open(os.path.join(run, "train_config.json")))
    assert config["init"] == "fer2013" and config["out"] == os.path.relpath(run)
    best = max(r["accuracy"] for r in records if r["split"] == "val")
    assert best > 0.3  # fine-tuned FER2013 weights are far above chance (1/7) on the synthetic faces


@pytest.mark.slow
def test_stopping_or_closing_a_run_ends_its_process(registry, folders, monkeypatch):
    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.2)
    run = start_training(registry, "cgan", None, SCRATCH, 140, 20, 0, {})
    _, _, state, _ = next(run)
    with pytest.raises(InputError, match="still training"):
        next(start_training(registry, "cgan", None, SCRATCH, 140, 1, 0, state))
    assert stop_training(state).startswith("Stopped runs/app-cgan-")
    outcome = list(run)[-1][0]
    assert "was stopped" in outcome
    assert ("nothing was saved" in outcome) != (folders["runs"] / outcome.split()[1].removeprefix("runs/")).is_dir()
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    assert stop_training(state) == "No run of yours is training."



@pytest.mark.slow
def test_a_run_outlives_its_page_and_the_reloaded_page_finds_and_stops_it(registry, folders, monkeypatch):
    """A reload closes the request: the run trains on, the same browser follows it and can stop it."""
    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.2)
    page = start_training(registry, "cgan", None, SCRATCH, 140, 20, 0, {}, browser="browser-a")
    _, _, state, _ = next(page)
    page.close()  # as when Gradio cancels the request of a reloaded page
    os.kill(state["pid"], 0)  # still training
    run = Path(state["run"])
    assert "- **training now**" in show_run(relative(run))[2]
    assert list(follow_training({}, browser="browser-b")) == []  # another browser's page finds nothing
    assert stop_training({}, "browser-b") == "No run of yours is training."
    with pytest.raises(InputError, match="is training; runs train one at a time"):
        next(start_training(registry, "cgan", None, SCRATCH, 140, 1, 0, {}, browser="browser-b"))
    followed = follow_training({}, browser="browser-a")
    status, _, found, _ = next(followed)
    assert status.startswith(f"**Training {relative(run)}**") and found["pid"] == state["pid"]
    assert stop_training({}, "browser-a").startswith(f"Stopped {relative(run)}")
    outcome = list(followed)[-1][0]
    assert "was stopped" in outcome or "nothing was saved" in outcome


def relative(path):
    return os.path.relpath(path)


def test_a_run_the_app_stopped_during_is_marked_interrupted(folders):
    run = _classifier_run(folders["runs"] / "cut", test_accuracy=0.8, test_balanced_accuracy=0.8, test_macro_f1=0.8)
    (run / train_tab.APP_RUN_NAME).write_text(json.dumps({"pid": 999_999_999, "ended": None, "epochs": 20}))
    assert train_tab.run_ending(run) == "interrupted"
    *_, summary = show_run("runs/cut")
    assert "- **ended**: interrupted: the app stopped while it trained; *Continue* trains it further" in summary


@pytest.mark.slow
def test_continue_trains_a_run_further_from_its_last_epoch(registry, folders, monkeypatch):
    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.3)
    *_, (outcome, _, _, run) = start_training(registry, "classifier", "mini_xception", SCRATCH, 140, 1, 0, {})
    assert outcome.startswith("Finished")
    name = relative(run)
    *_, (outcome, _, state, again) = continue_training(name, 2, {})
    assert outcome == f"Finished {name}." and again == run and state == {}
    epochs = [json.loads(line)["epoch"] for line in open(os.path.join(run, "metrics.jsonl"))
              if json.loads(line)["split"] == "val"]
    assert epochs == [1, 2, 3]
    with pytest.raises(InputError, match="between 1 and 20 more epochs"):
        next(continue_training(name, 0, {}))
    with pytest.raises(InputError, match="has no saved epoch to continue from"):
        next(continue_training("runs", 1, {}))


def test_a_run_past_the_time_limit_is_ended(registry, folders, monkeypatch):
    monkeypatch.setattr(train_tab, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(train_tab, "max_minutes", lambda: 0.005)  # 0.3 s: less than the trainer takes to start
    started = []
    spawn = train_tab._spawn
    monkeypatch.setattr(train_tab, "_spawn", lambda *args: started.append(spawn(*args)) or started[-1])
    outcome = list(start_training(registry, "cgan", None, SCRATCH, 140, 20, 0, {}))[-1][0]
    assert "stopped" in outcome and started[0].poll() is not None


def test_a_run_can_train_on_data_sets_of_the_data_folder_joined_with_plus(tmp_path, monkeypatch):
    from fexlab.app.train import data_source

    data = tmp_path / "data"
    (data / "fer").mkdir(parents=True)
    (data / "fer" / "votes.csv").write_text("image,neutral\n")
    (data / "mux.csv").write_text("image,emotion\n")
    monkeypatch.setenv("FEXLAB_DATA_DIR", str(data))
    assert data_source("") is None and data_source(None) is None
    joined = data_source("fer/votes.csv + mux.csv")
    assert joined == f"{data / 'fer' / 'votes.csv'}+{data / 'mux.csv'}"
    command = training_command("classifier", "mini_xception", 140, 1, 0, tmp_path / "run", data=joined)
    assert command[command.index("--data") + 1] == joined
    with pytest.raises(InputError):
        data_source("/etc/passwd")  # outside the data folder
    with pytest.raises(InputError):
        data_source("fer/missing.csv")
    with pytest.raises(InputError, match="synthetic faces here"):
        training_command("cgan", None, 140, 1, 0, tmp_path / "run", data=joined)


def _classifier_run(folder, **metrics):
    run = _fake_run(folder, kind="classifier")
    best = json.loads((run / "best" / "config.json").read_text())
    best.update(plugin="mini_xception", metrics={"epoch": 4, **metrics})
    (run / "best" / "config.json").write_text(json.dumps(best))
    return run


def test_a_run_that_ends_at_chance_says_so_and_what_usually_helps(folders):
    _classifier_run(folders["runs"] / "chance", test_accuracy=0.143, test_balanced_accuracy=0.143,
                    test_macro_f1=0.036)
    *_, summary = show_run("runs/chance")
    assert "**Warning:** the model is at chance on the test split (accuracy 14%, macro F1 0.036" in summary
    assert "more epochs (*Continue the chosen run* below)" in summary and "--lr" not in summary
    _classifier_run(folders["runs"] / "learned", test_accuracy=0.8, test_balanced_accuracy=0.78, test_macro_f1=0.77)
    *_, summary = show_run("runs/learned")
    assert "chance" not in summary


def test_the_data_box_suggests_what_the_data_folder_holds_or_how_to_fill_it(folders):
    from fexlab.app.train import data_hint, data_source

    placeholder, info = data_hint()
    assert placeholder.startswith("empty") and "FEXLAB_DATA_DIR" in info  # nothing there: how to point it at data
    for name in ("fer2013/ferplus_votes.csv", "muxspace/legend.csv"):
        (folders["data"] / name).parent.mkdir(parents=True, exist_ok=True)
        (folders["data"] / name).write_text("x\n")
    placeholder, info = data_hint()
    assert placeholder == "fer2013/ferplus_votes.csv+muxspace/legend.csv"
    assert data_source(placeholder) == "+".join(str(folders["data"] / n) for n in placeholder.split("+"))
