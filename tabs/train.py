"""Train tab: look at training runs (curves, sample grids, what they were trained on) and start a
short, bounded, cancellable run on the synthetic faces.

A run started here is the trainer's own command (``python -m trainers.classifier`` or
``python -m trainers.cgan``) in a child process at low CPU priority, so it never holds up other
users' requests and stopping it is a kill, not a wish. Progress is read from what every trainer
writes anyway: ``metrics.jsonl`` (epoch, step, losses) and ``train_config.json``. A run is
bounded by its epochs, by ``$FEXLAB_TRAIN_MAX_MINUTES`` (default 5) of wall-clock time and by a
watchdog that ends the process even if nobody watches it; the queue runs one at a time.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from registry import BROKEN, READY, InputError, Registry
from registry.paths import resolve_user_path
from trainers.chance import run_warning

from .common import clear_on_error, folder, plain_names, public_paths, relative_name, user_errors

__all__ = ["MAX_EPOCHS", "MAX_FACES", "PRETRAINED", "SCRATCH", "build", "list_runs", "max_minutes", "pretrained_tag",
           "refresh_runs", "show_run", "start_choices", "start_training", "stop_training", "training_command"]

#: fexlab's source folder, put on the trainer's import path.
ROOT = Path(__file__).resolve().parent.parent
TRAINERS = {"classifier": "trainers.classifier", "cgan": "trainers.cgan", "stargan": "trainers.stargan"}
MAX_FACES = 2800
#: The "Start from" choices of a classifier run.
PRETRAINED, SCRATCH = "its pretrained weights", "scratch"
MAX_EPOCHS = 20
POLL_SECONDS = 1.0
LOG_NAME = "train.log"

#: The training processes this server started, by process id: only these can be stopped.
_JOBS: dict[int, subprocess.Popen] = {}
_JOBS_LOCK = threading.Lock()
#: Processes ended by a stop (the button, the time limit, a closed request) rather than by themselves.
_STOPPED: set[int] = set()


def max_minutes() -> float:
    """The wall-clock limit of one run started from the app (``$FEXLAB_TRAIN_MAX_MINUTES``, default 5)."""
    try:
        return max(0.1, float(os.environ.get("FEXLAB_TRAIN_MAX_MINUTES", "5")))
    except ValueError:
        return 5.0


# -- looking at runs ---------------------------------------------------------------------------------
def list_runs(root: Path | None = None) -> list[tuple[str, str]]:
    """(label, path) of every run folder directly inside the runs folder, the one written to last
    (its metrics log, config or folder) first."""
    root = root or folder("FEXLAB_RUNS_DIR")
    if not root.is_dir():
        return []
    runs = [path for path in root.iterdir()
            if path.is_dir() and ((path / "train_config.json").is_file() or (path / "metrics.jsonl").is_file())]
    runs.sort(key=_last_written, reverse=True)
    return [(relative_name(path), str(path)) for path in runs]


def _last_written(run: Path) -> float:
    times = [run.stat().st_mtime]
    for name in ("train_config.json", "metrics.jsonl", LOG_NAME):
        try:
            times.append((run / name).stat().st_mtime)
        except OSError:
            continue
    return max(times)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _curves(path: Path) -> Any:
    from eval.plots import read_metrics_log, training_curves

    try:
        # the learning-rate schedule is no result: leave it out of the panels
        records = [{k: v for k, v in r.items() if k != "lr"} for r in read_metrics_log(path)]
        return training_curves(records, title=relative_name(path)) if records else None
    except InputError:
        return None


def show_run(run: str | None):
    """Handler: (curves figure, sample grids gallery, summary markdown) of a run folder."""
    if not run or not str(run).strip():
        return None, [], "Choose a run folder, or start a short run below."
    path = resolve_user_path(run, must_exist=True)
    if not path.is_dir():
        raise InputError(f"'{run}' is a file; choose a training-run folder")
    config, best = _read_json(path / "train_config.json"), _read_json(path / "best" / "config.json")
    if not config and not (path / "metrics.jsonl").is_file():
        raise InputError(f"'{relative_name(path)}' is not a training run: it has no train_config.json or metrics.jsonl")
    samples = sorted((path / "samples").glob("*.png"))[::-1][:6]
    gallery = [(str(sample), sample.stem.replace("_", " ")) for sample in samples]
    resolved = config.get("resolved") or {}
    data = (best.get("training_data") or resolved.get("training_data") or config.get("training_data")
            or config.get("data"))
    kind, plugin = best.get("kind"), best.get("plugin") or config.get("plugin")
    lines = [f"### {relative_name(path)}", f"- **model**: {plugin or 'unknown'} ({kind or 'no checkpoint yet'})",
             f"- **trained on**: {public_paths(str(data)) if data else 'unknown'}"]
    metrics = {k: v for k, v in (best.get("metrics") or {}).items() if isinstance(v, (int, float))}
    if metrics:
        lines.append("- **best checkpoint**: " + ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    if resolved.get("command"):
        lines.append(f"- **reproduce**: `{resolved['command']}`")
    if kind:
        where = ("*Your model* on the Predict, Live, Video or Evaluate tab" if kind == "classifier"
                 else "*Your generator* on the Generate tab" + (" (then *Edit a face*)" if plugin == "stargan" else ""))
        lines.append(f"- **use it**: type `{relative_name(path)}` into {where}")
    warning = run_warning(path)
    if warning:
        lines.append("\n**" + warning.replace("warning: ", "Warning:** ", 1))
    if resolved.get("synthetic") or "SYNTHETIC" in str(data):
        lines.append("\nTrained on SYNTHETIC faces: its scores are not comparable with results on real photographs.")
    if not samples and kind == "generator":
        lines.append("\nNo sample grids yet (they are written after each epoch).")
    return _curves(path), gallery, "\n".join(lines)


# -- starting and stopping runs ----------------------------------------------------------------------
def data_source(text: str | None) -> str | None:
    """The ``--data`` of a classifier run on data sets of the data folder: ``text`` names one or
    several joined with ``+`` (``fer2013/ferplus_votes.csv+muxspace/legend.csv``), each inside
    ``FEXLAB_DATA_DIR``; empty: None (the synthetic faces)."""
    parts = [part.strip() for part in str(text or "").split("+") if part.strip()]
    if not parts:
        return None
    return "+".join(str(resolve_user_path(part, [folder("FEXLAB_DATA_DIR")], must_exist=True)) for part in parts)


def training_command(trainer: str, plugin: str | None, faces: int, epochs: int, seed: int, out: Path,
                     init: str | None = None, data: str | None = None) -> list[str]:
    """The trainer's own command line for a short run on ``faces`` synthetic faces, or on ``data``
    (a classifier only: a source from :func:`data_source`); a classifier starts from its
    pretrained tag ``init`` (fine-tuning) or, without one, from scratch."""
    if trainer not in TRAINERS:
        raise InputError(f"choose a trainer: {', '.join(TRAINERS)}")
    faces, epochs = int(faces), int(epochs)
    if not 70 <= faces <= MAX_FACES:
        raise InputError(f"choose between 70 and {MAX_FACES} synthetic faces, got {faces}")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise InputError(f"choose between 1 and {MAX_EPOCHS} epochs, got {epochs}")
    if data and trainer != "classifier":
        raise InputError(f"the {trainer} trainer runs on synthetic faces here (real faces: `fexlab train {trainer}`); "
                         "clear the data box")
    data = data or f"synthetic:n={faces},size=64,seed={int(seed)}"
    # the trainer's own budget (training time) ends the run cleanly, checkpoints saved, before the
    # app's wall-clock limit (which also counts start-up and the final test) has to kill it
    command = [sys.executable, "-m", TRAINERS[trainer], "--data", data, "--epochs", str(epochs),
               "--seed", str(int(seed)), "--out", relative_name(out), "--max-minutes", f"{0.8 * max_minutes():.2f}"]
    if trainer == "classifier":
        if not plugin:
            raise InputError("choose the classifier to train")
        fine_tune = ["--init", init] if init else []
        return [*command, "--plugin", plugin, "--log-every", "2", "--patience", "0", *fine_tune]
    if trainer == "stargan":
        return command + ["--log-every", "5", "--ema-decay", "0.99", "--grid-faces", "6"]
    return command + ["--log-every", "5", "--ema-decay", "0.99", "--grid-seeds", "6"]


def _spawn(command: list[str], run_dir: Path) -> subprocess.Popen:
    run_dir.mkdir(parents=True, exist_ok=False)
    with (run_dir / LOG_NAME).open("wb") as log:  # in the app's working directory, where --out is relative
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=_child_environment())
    try:  # below the app's own priority, so predictions stay quick while a run trains
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
    except OSError:
        pass
    with _JOBS_LOCK:
        _JOBS[process.pid] = process
    watchdog = threading.Timer(max_minutes() * 60 + 30, _end, args=(process.pid,))
    watchdog.daemon = True
    watchdog.start()
    return process


def _child_environment() -> dict[str, str]:
    """This environment, with fexlab's own folder importable (a source checkout need not be
    installed) and unbuffered output so the log follows the run."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def _end(pid: int) -> bool:
    """Stop the training process ``pid`` (one this server started); True if it was running."""
    with _JOBS_LOCK:
        process = _JOBS.pop(pid, None)
    if process is None or process.poll() is not None:
        return False
    _STOPPED.add(pid)
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    return True


@atexit.register
def _end_all() -> None:
    for pid in list(_JOBS):
        _end(pid)


def _records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # the line being written
    return records


def _status(records: list[dict[str, Any]], epochs: int, elapsed: float) -> tuple[float, str]:
    if not records:
        return 0.0, f"preparing the data and the model… {elapsed:.0f} s"
    last = records[-1]
    epoch = max(float(r.get("epoch") or 0) for r in records)  # the test record repeats the best epoch
    shown = {k: v for k, v in last.items() if isinstance(v, float) and k not in ("epoch", "time", "lr")}
    numbers = ", ".join(f"{k} {v:.3f}" for k, v in list(shown.items())[:4])
    text = f"epoch {epoch:.2f} of {epochs}, step {last.get('step')}: {numbers} · {elapsed:.0f} s"
    return min(epoch / epochs, 1.0), text


def _tail(run_dir: Path, lines: int = 3) -> str:
    try:
        text = (run_dir / LOG_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    last = [line.split("\r")[-1].strip() for line in text.splitlines() if line.strip()]
    return "\n".join(last[-lines:])


def pretrained_tag(registry: Registry, plugin: str | None) -> str | None:
    """The default pretrained tag of ``plugin`` when its weights are here to fine-tune from, else None."""
    if not plugin or plugin not in registry.names("classifier"):
        return None
    info = registry.info("classifier", plugin)
    tags = list(registry.plugin_class("classifier", plugin).pretrained) if info.status == READY else []
    return tags[0] if tags else None


def _no_pretrained(registry: Registry, plugin: str) -> InputError:
    """The one-line error for fine-tuning a classifier whose weights are not here."""
    info = registry.info("classifier", plugin)
    if registry.plugin_class("classifier", plugin).pretrained:  # published, but not on this machine
        return InputError(f"{plugin}'s pretrained weights are not on this machine ({info.detail.split(';')[0]}); "
                          f"start from {SCRATCH}")
    return InputError(f"{plugin} has no pretrained weights to start from; start from {SCRATCH}")


def start_choices(registry: Registry, trainer: str | None, plugin: str | None) -> tuple[Any, Any]:
    """Handler: (classifier chooser, "Start from" choices) for ``trainer`` and ``plugin``: only
    what exists is offered, so "its pretrained weights" only where they are on this machine. Both
    are greyed out for the GANs, which always start from scratch."""
    classifier = trainer == "classifier"
    offered = [PRETRAINED, SCRATCH] if pretrained_tag(registry, plugin) else [SCRATCH]
    return (gr.Dropdown(interactive=classifier),
            gr.Radio(choices=offered, value=offered[0], interactive=classifier and len(offered) > 1))


def start_training(registry: Registry, trainer: str, plugin: str | None, start_from: str, faces: int, epochs: int,
                   seed: int, state: dict[str, Any] | None, progress: Any = None, data: str | None = None):
    """Handler (a generator): start a run and yield (status, curves figure, state, run folder) as
    it trains. The run folder is None until the last yield, which says how the run ended and gives
    its folder ("" when a run stopped before it began left nothing)."""
    state = dict(state or {})
    with _JOBS_LOCK:
        busy = state.get("pid") in _JOBS and _JOBS[state["pid"]].poll() is None
    if busy:
        raise InputError("a run you started is still training; stop it first")
    init = None
    if trainer == "classifier" and plugin:
        plugin = plain_names(plugin, "classifier")[0]
        if registry.info("classifier", plugin).status == BROKEN:
            raise InputError(f"{plugin} is broken: {registry.info('classifier', plugin).detail}")
        init = pretrained_tag(registry, plugin) if start_from == PRETRAINED else None
        if start_from == PRETRAINED and init is None:
            raise _no_pretrained(registry, plugin)
    name = f"app-{plugin if trainer == 'classifier' else trainer}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = folder("FEXLAB_RUNS_DIR") / name
    for n in range(2, 100):  # two runs started within the same second
        if not run_dir.exists():
            break
        run_dir = run_dir.with_name(f"{name}-{n}")
    command = training_command(trainer, plugin, faces, epochs, seed, run_dir, init, data_source(data))
    process = _spawn(command, run_dir)
    state = {"pid": process.pid, "run": str(run_dir)}
    started, limit, seen = time.monotonic(), max_minutes() * 60, -1
    ended_by = ""
    try:
        while process.poll() is None:
            time.sleep(POLL_SECONDS)
            elapsed = time.monotonic() - started
            if elapsed > limit:
                _end(process.pid)
                ended_by = f"stopped at the {max_minutes():g}-minute limit; "
                break
            records = _records(run_dir)
            fraction, text = _status(records, int(epochs), elapsed)
            if progress is not None:
                progress(fraction, desc=text)
            figure = _curves(run_dir) if len(records) != seen else gr.skip()
            seen = len(records)
            yield f"**Training {relative_name(run_dir)}**: {text}", figure, state, None
    finally:
        _end(process.pid)  # a cancelled or closed request never leaves its process running
    code = process.poll()
    if code == 0:
        outcome = f"Finished {relative_name(run_dir)}."
    elif process.pid in _STOPPED:
        _STOPPED.discard(process.pid)
        outcome = (f"Run {relative_name(run_dir)} {ended_by or 'was stopped; '}the checkpoints of finished epochs "
                   "are kept.")
        if not any((run_dir / name).exists() for name in ("train_config.json", "metrics.jsonl")):
            shutil.rmtree(run_dir, ignore_errors=True)  # stopped before it began: nothing to keep
            outcome = f"Run {relative_name(run_dir)} was stopped before it began; nothing was saved."
    else:
        outcome = f"Run {relative_name(run_dir)} failed (exit status {code}):\n```\n{_tail(run_dir, 4)}\n```"
    yield outcome, _curves(run_dir) if run_dir.is_dir() else None, {}, str(run_dir) if run_dir.is_dir() else ""


def stop_training(state: dict[str, Any] | None) -> str:
    """Handler: stop the run this session started (if any). Its :func:`start_training` then ends
    by itself, with the run just stopped in view."""
    pid = (state or {}).get("pid")
    if pid is not None and _end(int(pid)):
        return f"Stopped {relative_name(Path(state['run']))}; the checkpoints of finished epochs are kept."
    return "No run of yours is training."


# -- layout ------------------------------------------------------------------------------------------
def refresh_runs(current: str | None):
    """Handler: the run chooser with the runs folder's current runs, and the chosen run shown
    (``current`` if it is still there, else the newest)."""
    runs = list_runs()
    paths = [path for _, path in runs]
    chosen = current if current in paths else (paths[0] if paths else None)
    return (gr.Dropdown(choices=runs, value=chosen), *show_run(chosen))


def build(registry: Registry, tab: Any = None) -> None:
    """Lay out the Train tab; ``tab`` (its ``gr.Tab``) refreshes the run list when opened."""
    trainable = [info.name for info in registry.infos("classifier")
                 if info.status != BROKEN and registry.plugin_class("classifier", info.name).trainable]
    state = gr.State({})
    with gr.Row(equal_height=True):
        runs = gr.Dropdown(list_runs(), value=None, label="Training run", allow_custom_value=True, scale=5,
                           info="a folder in the runs folder ($FEXLAB_RUNS_DIR), or type one")
        refresh = gr.Button("Refresh", scale=1)
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            summary = gr.Markdown("Open this tab or press **Refresh** to list the training runs.", label="Run summary",
                                  elem_id="train-summary")
        samples = gr.Gallery(label="Sample grids (rows emotions, columns seeds), latest first", columns=2, scale=3,
                             height="auto", object_fit="contain", preview=False, visible=False,
                             elem_classes=["fexlab-whole"])
    curves = gr.Plot(label="Training curves", show_label=False)
    gr.Markdown(f"### Start a short run on synthetic faces or your data\nAt most {MAX_EPOCHS} epochs and {max_minutes():g} minutes. "
                "The run trains in its own process at low priority, one at a time (the others wait in the queue); "
                "its curves appear above as it trains.")
    with gr.Row():
        trainer = gr.Radio(list(TRAINERS), value="classifier", label="Trainer", elem_id="train-trainer")
        first = "mini_xception" if "mini_xception" in trainable else (trainable[:1] or [None])[0]
        plugin = gr.Dropdown(trainable, value=first, label="Classifier to train", elem_id="train-plugin")
        offered = [PRETRAINED, SCRATCH] if pretrained_tag(registry, first) else [SCRATCH]
        start_from = gr.Radio(offered, value=offered[0], label="Start from", elem_id="train-start-from",
                              info="fine-tuning learns in a few epochs; from scratch needs hundreds of steps")
        faces = gr.Slider(70, MAX_FACES, value=700, step=70, label="Synthetic faces", elem_id="train-faces")
        epochs = gr.Slider(1, MAX_EPOCHS, value=3, step=1, label="Epochs", elem_id="train-epochs")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed")
    data = gr.Textbox("", label="Data (optional, classifiers)", elem_id="train-data",
                      placeholder="fer2013/ferplus_votes.csv+muxspace/legend.csv",
                      info="data sets in the data folder, several joined with +, each keeping its own splits; "
                           "empty: the synthetic faces above")
    with gr.Row():
        start = gr.Button("Start training", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    status = gr.Markdown(label="Training status", elem_id="train-status")

    @user_errors
    def train(trainer, plugin, start_from, faces, epochs, seed, state, data="", progress=gr.Progress()):
        for message, figure, new_state, run in start_training(registry, trainer, plugin, start_from, faces, epochs,
                                                              seed, state, progress, data):
            if run is None:
                yield message, figure, new_state, gr.skip(), gr.skip(), gr.skip()
            else:  # finished: list the new run and show it
                _, shown, summary = show_run(run or None)
                yield message, figure, new_state, gr.Dropdown(choices=list_runs(), value=run or None), \
                    _samples(shown), summary

    def _samples(images):
        return gr.Gallery(value=images, visible=bool(images))

    @user_errors
    def show(run):
        curves, images, summary = show_run(run)
        return curves, _samples(images), summary

    @user_errors
    def refresh_view(current):
        chooser, curves, images, summary = refresh_runs(current)
        return chooser, curves, _samples(images), summary

    view = [curves, samples, summary]
    triggers = [refresh.click] + ([tab.select] if tab is not None else [])
    clear_on_error(gr.on(triggers, refresh_view, runs, [runs, *view], api_name="runs", show_progress_on=[summary]),
                   view)
    clear_on_error(runs.input(show, runs, view, api_name="show_run", show_progress_on=[summary]), view)
    gr.on([trainer.change, plugin.input], user_errors(lambda t, p: start_choices(registry, t, p)), [trainer, plugin],
          [plugin, start_from], api_name="trainer_changed", show_progress="hidden")
    started = start.click(train, [trainer, plugin, start_from, faces, epochs, seed, state, data],
                          [status, curves, state, runs, samples, summary], api_name="train", concurrency_limit=1,
                          concurrency_id="train", show_progress_on=[status])
    clear_on_error(started, [status, *view])
    # no cancel: the stopped run's own handler ends within a poll and shows the run it stopped
    stop.click(user_errors(stop_training), state, status, api_name="stop_training", show_progress="hidden")
