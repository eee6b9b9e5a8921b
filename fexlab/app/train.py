"""Train tab: look at training runs (curves, sample grids, what they were trained on) and start a
short, bounded, cancellable run on the synthetic faces.

A run started here is the trainer's own command (``python -m fexlab.trainers.classifier`` or
``python -m fexlab.trainers.cgan``) in a child process at low CPU priority, so it never holds up other
users' requests and stopping it is a kill, not a wish. Progress is read from what every trainer
writes anyway: ``metrics.jsonl`` (epoch, step, losses) and ``train_config.json``. A run is
bounded by its epochs, by ``$FEXLAB_TRAIN_MAX_MINUTES`` (default 5) of wall-clock time and by a
watchdog that ends the process even if nobody watches it; the queue runs one at a time.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr

from fexlab.registry import BROKEN, READY, InputError, Registry
from fexlab.registry.paths import resolve_user_path
from fexlab.trainers.chance import run_warning

from .common import clear_on_error, data_set_paths, folder, plain_names, public_paths, relative_name, user_errors

__all__ = ["MAX_EPOCHS", "MAX_FACES", "PRETRAINED", "SCRATCH", "build", "continue_training", "follow_training",
           "list_runs", "max_minutes", "pretrained_tag", "refresh_runs", "run_ending", "show_run", "start_choices",
           "start_training", "stop_training", "training_command"]

#: The folder holding the fexlab package, put on the trainer's import path (a source tree not installed).
ROOT = Path(__file__).resolve().parents[2]
TRAINERS = {"classifier": "fexlab.trainers.classifier", "cgan": "fexlab.trainers.cgan", "stargan": "fexlab.trainers.stargan"}
MAX_FACES = 2800
#: The "Start from" choices of a classifier run.
PRETRAINED, SCRATCH = "its pretrained weights", "scratch"
MAX_EPOCHS = 20
POLL_SECONDS = 1.0
LOG_NAME = "train.log"

#: The file in a run folder where the app records a run it started: its process, and how it ended.
APP_RUN_NAME = "app_run.json"
#: Browser-side: put this browser's id (made once, kept in its local storage) in place of the last input.
BROWSER_ID_JS = """(...args) => {
  let id = localStorage.getItem("fexlab-browser");
  if (!id) {
    id = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : Math.random().toString(36).slice(2) + Date.now();
    localStorage.setItem("fexlab-browser", id);
  }
  return [...args.slice(0, -1), id];
}"""
#: What a run summary says of a run started in the app that did not finish.
ENDINGS = {
    "stopped": "stopped from the app before its last epoch; *Continue* trains it further",
    "limit": "at the app's time limit; *Continue* trains it further",
    "interrupted": "interrupted: the app stopped while it trained; *Continue* trains it further from its last epoch",
    "failed": "failed (its train.log says why)",
}

#: The training processes this server started, by process id: only these can be stopped. A run
#: belongs to the server, not to the page that started it: closing or reloading the page leaves
#: it training, and the page finds it again (its state is kept in the browser).
_JOBS: dict[int, subprocess.Popen] = {}
_JOBS_LOCK = threading.Lock()
#: Why a process was ended by the app rather than by itself: "stopped", "limit" or "interrupted".
_STOPPED: dict[int, str] = {}
#: The secret that lets the page that started a run stop it, and the run's folder, by process id.
_TOKENS: dict[int, str] = {}
_RUN_DIRS: dict[int, Path] = {}
#: The browser that started each run (its id, kept in its local storage), by process id.
_BROWSERS: dict[int, str] = {}


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
    from fexlab.eval.plots import read_metrics_log, training_curves

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
    if not config and not (path / "metrics.jsonl").is_file() and not (path / APP_RUN_NAME).is_file():
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
    ending = run_ending(path)
    if ending in ENDINGS:
        lines.append(f"- **ended**: {ENDINGS[ending]}")
    elif ending is None and _read_json(path / APP_RUN_NAME):
        lines.append("- **training now**")
    warning = run_warning(path, "more epochs (*Continue the chosen run* below), more faces, or, for a classifier "
                                "that has them, starting from its pretrained weights")
    if warning:
        lines.append("\n**" + warning.replace("warning: ", "Warning:** ", 1))
    if resolved.get("synthetic") or "SYNTHETIC" in str(data):
        lines.append("\nTrained on SYNTHETIC faces: its scores are not comparable with results on real photographs.")
    if not samples and kind == "generator":
        lines.append("\nNo sample grids yet (they are written after each epoch).")
    return _curves(path), gallery, "\n".join(lines)


# -- starting and stopping runs ----------------------------------------------------------------------
def data_hint() -> tuple[str, str]:
    """(placeholder, info) of the Data box: what the data folder holds, or how to point it at data."""
    root = folder("FEXLAB_DATA_DIR")
    found = data_set_paths()
    tables = [p for p in found if p.suffix.lower() == ".csv"] or found
    if not tables:
        return ("empty: the synthetic faces above",
                f"no data sets in {relative_name(root)}: start the app with FEXLAB_DATA_DIR set to a folder of data "
                "sets (`FEXLAB_DATA_DIR=../shared/data make app`); empty: the synthetic faces above")
    names = [p.relative_to(root).as_posix() for p in tables]
    return ("+".join(names[:2]),
            f"data sets in {relative_name(root)} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}), "
            "several joined with +, each keeping its own splits; empty: the synthetic faces above")


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


def _spawn(command: list[str], run_dir: Path, *, new: bool = True) -> subprocess.Popen:
    """Start ``command`` training into ``run_dir`` (a new folder, or with ``new=False`` the run
    being continued), record it in the folder's :data:`APP_RUN_NAME`, and end it at the time limit."""
    run_dir.mkdir(parents=True, exist_ok=not new)
    with (run_dir / LOG_NAME).open("wb" if new else "ab") as log:  # in the app's folder, where --out is relative
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=_child_environment())
    try:  # below the app's own priority, so predictions stay quick while a run trains
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
    except OSError:
        pass
    with _JOBS_LOCK:
        _JOBS[process.pid] = process
        _RUN_DIRS[process.pid] = run_dir
    _record(run_dir, pid=process.pid, ended=None, epochs=_epochs_of(command))
    watchdog = threading.Timer(max_minutes() * 60, _end, args=(process.pid, "limit"))
    watchdog.daemon = True
    watchdog.start()
    threading.Thread(target=_wait, args=(process, run_dir), daemon=True).start()
    return process


def _epochs_of(command: list[str]) -> int:
    return int(command[command.index("--epochs") + 1]) if "--epochs" in command else 1


def _record(run_dir: Path, **fields: Any) -> None:
    """Update the app's record of the run in ``run_dir`` (:data:`APP_RUN_NAME`)."""
    path = run_dir / APP_RUN_NAME
    if run_dir.is_dir():
        path.write_text(json.dumps({**_read_json(path), **fields}), encoding="utf-8")


def _wait(process: subprocess.Popen, run_dir: Path) -> None:
    """Wait for a run's process and record how it ended, whether or not a page is watching."""
    code = process.wait()
    with _JOBS_LOCK:
        _JOBS.pop(process.pid, None)
    how = _STOPPED.pop(process.pid, None) or ("finished" if code == 0 else "failed")
    if how in ("stopped", "limit") and not any((run_dir / n).exists() for n in ("train_config.json", "metrics.jsonl")):
        shutil.rmtree(run_dir, ignore_errors=True)  # stopped before it began: nothing to keep
        return
    _record(run_dir, ended=how, code=code)


def _running(pid: Any) -> subprocess.Popen | None:
    """The training process ``pid`` if this server started it and it is still running."""
    with _JOBS_LOCK:
        process = _JOBS.get(pid) if isinstance(pid, int) else None
    return process if process is not None and process.poll() is None else None


def run_ending(run_dir: Path) -> str | None:
    """How a run started in the app ended ("finished", "stopped", "limit", "failed",
    "interrupted"), None while it trains or when the app did not start it. A run recorded as
    training whose process this server does not know (the app stopped meanwhile) was interrupted."""
    record = _read_json(run_dir / APP_RUN_NAME)
    if not record:
        return None
    if record.get("ended"):
        return str(record["ended"])
    return None if _running(record.get("pid")) else "interrupted"


def _child_environment() -> dict[str, str]:
    """This environment, with fexlab's own folder importable (a source checkout need not be
    installed) and unbuffered output so the log follows the run."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def _end(pid: int, why: str = "stopped") -> bool:
    """Stop the training process ``pid`` (one this server started) for ``why`` ("stopped",
    "limit", "interrupted"); True if it was running."""
    with _JOBS_LOCK:
        process = _JOBS.get(pid)
    if process is None or process.poll() is not None:
        return False
    _STOPPED[pid] = why
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
    """When the app stops, its runs end too, recorded as interrupted."""
    for pid in list(_JOBS):
        if _end(pid, "interrupted") and pid in _RUN_DIRS:
            _record(_RUN_DIRS[pid], ended="interrupted")


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
                   seed: int, state: dict[str, Any] | None, progress: Any = None, data: str | None = None,
                   browser: str = ""):
    """Handler (a generator): start a run and yield (status, curves figure, state, run folder) as
    it trains. The run folder is None until the last yield, which says how the run ended and gives
    its folder ("" when a run stopped before it began left nothing). The run belongs to the
    server: a closed request (a reloaded page) leaves it training, and :func:`follow_training`
    with the same ``state``, or from the same ``browser`` (its id), finds it again."""
    state = dict(state or {})
    if _running(state.get("pid")):
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
    _busy_elsewhere()
    process = _spawn(command, run_dir)
    yield from _watch(_owned(process.pid, run_dir, int(epochs), browser), progress)


def continue_training(run: str | None, more: int, state: dict[str, Any] | None, progress: Any = None,
                      browser: str = ""):
    """Handler (a generator, as :func:`start_training`): continue the run in folder ``run`` from
    its last saved epoch for ``more`` epochs (``--resume`` with a larger ``--epochs``)."""
    state = dict(state or {})
    if _running(state.get("pid")):
        raise InputError("a run you started is still training; stop it first")
    if not run or not str(run).strip():
        raise InputError("choose the run to continue")
    run_dir = resolve_user_path(run, [folder("FEXLAB_RUNS_DIR")], must_exist=True)
    more = int(more)
    if not 1 <= more <= MAX_EPOCHS:
        raise InputError(f"choose between 1 and {MAX_EPOCHS} more epochs, got {more}")
    saved = _read_json(run_dir / "state" / "trainer_state.json")
    if not saved:
        raise InputError(f"{relative_name(run_dir)} has no saved epoch to continue from")
    if (saved.get("extra") or {}).get("stopped"):
        raise InputError(f"{relative_name(run_dir)} ended by its own time budget or early stopping; continuing would "
                         "stop at once: start a new run with more epochs")
    trainer = _trainer_of(run_dir)
    total = int(saved.get("epoch") or 0) + more
    minutes = float(saved.get("elapsed") or 0.0) / 60 + 0.8 * max_minutes()  # the budget counts earlier time too
    command = [sys.executable, "-m", TRAINERS[trainer], "--out", relative_name(run_dir), "--resume",
               "--epochs", str(total), "--max-minutes", f"{minutes:.2f}"]
    _busy_elsewhere()
    process = _spawn(command, run_dir, new=False)
    yield from _watch(_owned(process.pid, run_dir, total, browser), progress)


def _trainer_of(run_dir: Path) -> str:
    """Which of :data:`TRAINERS` wrote the run in ``run_dir``."""
    config = _read_json(run_dir / "train_config.json")
    command = str((config.get("resolved") or {}).get("command") or "").split()
    named = command[2] if command[:2] == ["fexlab", "train"] and len(command) > 2 else None
    plugin = _read_json(run_dir / "best" / "config.json").get("plugin")
    trainer = named or (plugin if plugin in ("cgan", "stargan") else "classifier" if config.get("plugin") else None)
    if trainer not in TRAINERS:
        raise InputError(f"{relative_name(run_dir)} is not a run the Train tab can continue (classifier, cgan or "
                         "stargan); continue it with `fexlab train ... --resume`")
    return trainer


def _busy_elsewhere() -> None:
    """Refuse a second run while one started in the app trains (one at a time on this server)."""
    with _JOBS_LOCK:
        busy = [pid for pid, process in _JOBS.items() if process.poll() is None]
    if busy:
        raise InputError(f"{relative_name(_RUN_DIRS[busy[0]])} is training; runs train one at a time, try again "
                         "when it ends")


def _owned(pid: int, run_dir: Path, epochs: int, browser: str = "") -> dict[str, Any]:
    """The page's state of a run it started: what :func:`follow_training` and :func:`stop_training`
    need; the run is also its ``browser``'s (a reloaded page has only that)."""
    token = secrets.token_hex(16)
    _TOKENS[pid] = token
    if browser:
        _BROWSERS[pid] = str(browser)
    return {"pid": pid, "run": str(run_dir), "epochs": epochs, "token": token}


def _mine(state: dict[str, Any], browser: str = "") -> dict[str, Any] | None:
    """The state of the running run that ``state`` holds, or that ``browser`` started; None if none."""
    pid = state.get("pid")
    if _running(pid) and _TOKENS.get(pid) == state.get("token"):
        return state
    for pid, owner in list(_BROWSERS.items()):
        if browser and owner == browser and _running(pid):
            epochs = int(_read_json(_RUN_DIRS[pid] / APP_RUN_NAME).get("epochs") or 1)
            return {"pid": pid, "run": str(_RUN_DIRS[pid]), "epochs": epochs, "token": _TOKENS[pid]}
    return None


def _watch(state: dict[str, Any], progress: Any = None):
    """Yield (status, curves figure, state, None) while the run of ``state`` trains, then (how it
    ended, curves, {}, run folder or "")."""
    pid, run_dir, epochs = int(state["pid"]), Path(state["run"]), int(state["epochs"])
    started, seen = time.monotonic() - _elapsed(run_dir), -1
    while _running(pid):
        elapsed = time.monotonic() - started
        records = _records(run_dir)
        fraction, text = _status(records, epochs, elapsed)
        if progress is not None:
            progress(fraction, desc=text)
        figure = _curves(run_dir) if len(records) != seen else gr.skip()
        seen = len(records)
        yield f"**Training {relative_name(run_dir)}**: {text}", figure, state, None
        time.sleep(POLL_SECONDS)
    for _ in range(50):  # the waiting thread records how it ended, just after the process exits
        if run_ending(run_dir) not in (None, "interrupted") or not run_dir.is_dir():
            break
        time.sleep(0.05)
    yield _outcome(run_dir), _curves(run_dir) if run_dir.is_dir() else None, {}, str(run_dir) if run_dir.is_dir() else ""


def _elapsed(run_dir: Path) -> float:
    """Seconds since the run's process was started (its log was opened)."""
    try:
        return max(0.0, time.time() - (run_dir / APP_RUN_NAME).stat().st_mtime)
    except OSError:
        return 0.0


def _outcome(run_dir: Path) -> str:
    """One line on how a run started in the app ended."""
    name = relative_name(run_dir)
    if not run_dir.is_dir():
        return f"Run {name} was stopped before it began; nothing was saved."
    how = run_ending(run_dir)
    kept = "the checkpoints of finished epochs are kept; *Continue* trains it further."
    if how == "finished":
        return f"Finished {name}."
    if how == "stopped":
        return f"Run {name} was stopped; {kept}"
    if how == "limit":
        return f"Run {name} stopped at the {max_minutes():g}-minute limit; {kept}"
    if how == "interrupted":
        return f"Run {name} was interrupted (the app stopped while it trained); {kept}"
    code = _read_json(run_dir / APP_RUN_NAME).get("code")
    return f"Run {name} failed (exit status {code}):\n```\n{_tail(run_dir, 4)}\n```"


def follow_training(state: dict[str, Any] | None, progress: Any = None, browser: str = ""):
    """Handler (a generator): when this page (``state``) or this browser (a reloaded page) started
    a run that still trains, follow it as :func:`start_training` does; else yield nothing."""
    mine = _mine(dict(state or {}), browser)
    if mine is not None:
        yield from _watch(mine, progress)


def stop_training(state: dict[str, Any] | None, browser: str = "") -> str:
    """Handler: stop the run this page or this browser started (if any). Its :func:`start_training`
    (or :func:`follow_training`) then ends by itself, with the run just stopped in view."""
    mine = _mine(dict(state or {}), browser)
    if mine is not None and _end(int(mine["pid"])):
        return f"Stopped {relative_name(Path(mine['run']))}; the checkpoints of finished epochs are kept."
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
    # this browser's id (kept in its local storage): a reloaded page finds the run it started, and can stop it
    browser = gr.Textbox("", visible=False, elem_id="train-browser")
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
    placeholder, info = data_hint()
    data = gr.Textbox("", label="Data (optional, classifiers)", elem_id="train-data", placeholder=placeholder,
                      info=info)
    with gr.Row():
        start = gr.Button("Start training", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    with gr.Row(equal_height=True):
        more = gr.Slider(1, MAX_EPOCHS, value=3, step=1, label="More epochs", elem_id="train-more", scale=3,
                         info="continue the run chosen at the top from its last saved epoch")
        resume = gr.Button("Continue the chosen run", scale=1, elem_id="train-continue")
    status = gr.Markdown(label="Training status", elem_id="train-status")

    def shown_steps(steps):
        for message, figure, new_state, run in steps:
            if run is None:
                yield message, figure, new_state, gr.skip(), gr.skip(), gr.skip()
            else:  # ended: list the run and show it
                _, shown, summary = show_run(run or None)
                yield message, figure, new_state, gr.Dropdown(choices=list_runs(), value=run or None), \
                    _samples(shown), summary

    @user_errors
    def train(trainer, plugin, start_from, faces, epochs, seed, state, data="", browser="", progress=gr.Progress()):
        yield from shown_steps(start_training(registry, trainer, plugin, start_from, faces, epochs, seed, state,
                                              progress, data, browser))

    @user_errors
    def keep_training(run, more, state, browser="", progress=gr.Progress()):
        yield from shown_steps(continue_training(run, more, state, progress, browser))

    @user_errors
    def follow(state, browser="", progress=gr.Progress()):
        yield from shown_steps(follow_training(state, progress, browser))

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
    started = start.click(train, [trainer, plugin, start_from, faces, epochs, seed, state, data, browser],
                          [status, curves, state, runs, samples, summary], api_name="train", concurrency_limit=1,
                          concurrency_id="train", show_progress_on=[status], js=BROWSER_ID_JS)
    clear_on_error(started, [status, *view])
    continued = resume.click(keep_training, [runs, more, state, browser], [status, curves, state, runs, samples, summary],
                             api_name="continue_training", concurrency_limit=1, concurrency_id="train",
                             show_progress_on=[status], js=BROWSER_ID_JS)
    clear_on_error(continued, [status, *view])
    if tab is not None:  # a reloaded page finds the run it started when the tab opens
        followed = tab.select(follow, [state, browser], [status, curves, state, runs, samples, summary],
                              api_name="follow_training", trigger_mode="once", show_progress_on=[status],
                              js=BROWSER_ID_JS)
        clear_on_error(followed, [status, *view])
    # no cancel: the stopped run's own handler ends within a poll and shows the run it stopped
    stop.click(user_errors(stop_training), [state, browser], status, api_name="stop_training", show_progress="hidden",
               js=BROWSER_ID_JS)
