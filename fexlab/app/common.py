"""What every tab shares: turning errors into messages, plugin choices and status notes, typed
checkpoint paths, the configured folders, and images / figures written for the browser."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from fexlab.registry import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, FexlabError, InputError, Registry
from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER
from fexlab.registry.paths import ROOT_VARIABLES, allowed_roots, resolve_user_path

__all__ = [
    "KEEP_SECONDS",
    "OUTPUT_DIR",
    "app_detail",
    "checkpoint_box",
    "checkpoint_spec",
    "clear_on_error",
    "detector_dropdown",
    "detector_name",
    "figure_file",
    "follow_mesh",
    "folder",
    "image_file",
    "load_plugins",
    "mesh_classifiers",
    "output_folder",
    "plain_names",
    "DEFAULT_COMPARISON",
    "default_comparison",
    "plugin_choices",
    "relative_name",
    "unavailable_accordion",
    "unavailable_note",
    "upload_name",
    "upload_path",
    "user_errors",
]

log = logging.getLogger("fexlab.app")

#: Where :func:`image_file` and :func:`output_folder` write what the app shows and offers.
OUTPUT_DIR = Path(tempfile.gettempdir()) / "fexlab-app"
#: How long those files are kept (Gradio serves its own copies).
KEEP_SECONDS = 3600.0
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Show a :class:`FexlabError` as a one-line message in the app; log anything else and say so
    briefly, so a broken plugin or bad input never shows a traceback nor stops the app."""

    if inspect.isgeneratorfunction(fn):  # a streaming handler: its errors come while it is iterated

        @functools.wraps(fn)
        def streaming(*args: Any, **kwargs: Any) -> Any:
            with _as_messages(fn.__name__):
                yield from fn(*args, **kwargs)

        return streaming  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _as_messages(fn.__name__):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _as_messages(name: str) -> Iterator[None]:
    try:
        yield
    except gr.Error:
        raise
    except FexlabError as err:
        raise gr.Error(public_paths(str(err), typed=getattr(err, "typed", None)), print_exception=False) from None
    except Exception as err:  # an unexpected failure: keep serving, tell the user what broke
        log.exception("unexpected error in %s", name)
        raise gr.Error(public_paths(f"{type(err).__name__}: {err}"), print_exception=False) from None


def number(value: Any, what: str, *, whole: bool = False) -> Any:
    """``value`` (a number, or its text as an API call may send it) as a float, or an int when
    ``whole``; an :class:`InputError` naming ``what`` when it is not one ("the seed must be a whole
    number, got 'abc'"), never Python's own ValueError."""
    try:
        converted = float(value)
    except (TypeError, ValueError):
        converted = math.nan
    if not math.isfinite(converted) or (whole and not converted.is_integer()):
        raise InputError(f"{what} must be a {'whole number' if whole else 'number'}, got '{value}'")
    return int(converted) if whole else converted


def clear_on_error(event: Any, outputs: Sequence[Any]) -> Any:
    """When ``event`` fails (its error shown as a message), empty ``outputs`` in the page, so that
    no earlier result stays on screen beside the error. Runs in the browser only: no server call,
    no API endpoint. A table keeps its headers. Returns ``event`` for chaining."""
    empty = ", ".join(_empty_value(output) for output in outputs)
    event.failure(None, None, list(outputs), js=f"() => [{empty}]", show_progress="hidden")
    return event


def _empty_value(output: Any) -> str:
    """The JavaScript value that empties ``output`` in the page."""
    if isinstance(output, gr.Markdown):
        return '""'
    if isinstance(output, gr.Dataframe):
        return json.dumps({"headers": list(output.headers or []), "data": [], "metadata": None})
    return "null"


def checkpoint_box(label: str = "Your model (optional)", placeholder: str = "runs/my-run") -> gr.Textbox:
    """The box where a checkpoint or training-run folder is typed, to use it beside the installed
    plugins (what :func:`load_plugins` reads as ``checkpoint``)."""
    return gr.Textbox("", label=label, placeholder=placeholder,
                      info="a checkpoint or training-run folder in the runs, results or data folder")


def detector_name(detector: str | None) -> str:
    """The detector chosen in a tab, :data:`registry.DEFAULT_DETECTOR` when none is."""
    return (plain_names(detector, "detector") or [DEFAULT_DETECTOR])[0]


#: The webcam as the camera sees it, in the preview, the snapshot, the stream and the result alike:
#: not mirrored, so face 1 (the leftmost) is on the same side everywhere.
WEBCAM = gr.WebcamOptions(mirror=False)


def min_score_slider() -> gr.Slider:
    """The detector's threshold: faces it scores below the value are left out."""
    return gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Minimum face score",
                     info="the detector's confidence that a box is a face; raise it to drop doubtful faces")


def detector_dropdown(registry: Registry, **kwargs: Any) -> gr.Dropdown:
    """The face detector chooser: the ready detectors, the default one chosen."""
    detectors = plugin_choices(registry, "detector")
    value = DEFAULT_DETECTOR if DEFAULT_DETECTOR in detectors else (detectors[:1] or [None])[0]
    return gr.Dropdown(detectors, value=value, label="Face detector", **kwargs)


#: The classifiers Predict compares by default, where they are ready: fexlab's real-face models, the
#: default first (Live, Video and Evaluate start on it).
DEFAULT_COMPARISON = (DEFAULT_CLASSIFIER, "mini_xception.ferplus", "convnext")


def plugin_choices(registry: Registry, kind: str) -> list[str]:
    """Names of the plugins of ``kind`` that are ready to use, each followed by ``name.tag`` for
    its further pretrained tags whose weights ship on this machine (``mini_xception.ferplus``)."""
    choices = []
    for name in registry.ready_names(kind):
        choices.append(name)
        tags = getattr(registry.plugin_class(kind, name), "pretrained", {})
        choices += [f"{name}.{tag}" for tag, source in list(tags.items())[1:] if Path(source).is_dir()]
    return choices


def default_comparison(choices: Sequence[str]) -> list[str]:
    """The classifiers shown side by side before the user picks: :data:`DEFAULT_COMPARISON` where
    ready, else the first choice."""
    return [name for name in DEFAULT_COMPARISON if name in choices] or list(choices[:1])


#: How the plugins' hints tell a CLI user to load a checkpoint ("load it as `convnext:runs/convnext`
#: (or `--checkpoint runs/convnext`)"); the app says where to type the folder instead.
_CLI_LOAD = re.compile(r"load it as `[\w.]+:(?P<folder>[^`]+)`(?: \(or `--checkpoint [^`]+`\))?")
_BOXES = {"classifier": "**Your model**", "generator": "**Your generator**"}


def app_detail(kind: str, detail: str) -> str:
    """A plugin's status detail in the app's terms: where to type a checkpoint folder rather than
    the CLI's ``NAME:FOLDER``; a classifier can also be trained in the Train tab."""
    box = _BOXES.get(kind, "the checkpoint box")
    text, found = _CLI_LOAD.subn(lambda match: f"type its folder (`{match['folder']}`) into {box}", public_paths(detail))
    if found and kind == "classifier":
        text += " (or train one on synthetic faces in the **Train** tab)"
    return text


def unavailable_note(registry: Registry, kind: str) -> str:
    """Markdown listing the plugins of ``kind`` that cannot be used now, and why, in the app's terms."""
    rows = [info for info in registry.infos(kind) if info.status != "ready"]
    if not rows:
        return ""
    lines = [f"- **{info.name}** ({info.status}): {app_detail(info.kind, info.detail)}" for info in rows]
    return f"Unavailable {kind}s:\n" + "\n".join(lines)


def unavailable_accordion(registry: Registry, kind: str) -> None:
    """A closed accordion naming the plugins of ``kind`` that need weights or are broken, with
    their reasons inside, so they show as disabled without crowding the tab."""
    note = unavailable_note(registry, kind)
    if note:
        names = [info.name for info in registry.infos(kind) if info.status != "ready"]
        with gr.Accordion(f"Not available here: {', '.join(names)} (why?)", open=False):
            gr.Markdown(note.split("\n", 1)[1], elem_classes=["fexlab-note"])


# -- folders and typed paths ------------------------------------------------------------------------
def folder(variable: str) -> Path:
    """The folder configured by ``variable`` (FEXLAB_DATA_DIR, FEXLAB_RESULTS_DIR or FEXLAB_RUNS_DIR),
    read at call time so a changed environment takes effect without a restart."""
    if variable not in ROOT_VARIABLES:
        raise KeyError(f"{variable} is not one of {sorted(ROOT_VARIABLES)}")
    return dict(zip(ROOT_VARIABLES, allowed_roots()))[variable]


def data_set_paths() -> list[Path]:
    """The data sets in the data folder (``$FEXLAB_DATA_DIR``): every CSV file and folder directly
    inside it, and the CSV files one level down (``fer2013/ferplus_votes.csv``), in sorted order."""
    root = folder("FEXLAB_DATA_DIR")
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not (path.is_dir() or path.suffix.lower() == ".csv"):
            continue
        found.append(path)
        if path.is_dir():
            found += [p for p in sorted(path.glob("*.csv")) if not p.name.startswith(".")]
    return found


def relative_name(path: Path) -> str:
    """``path`` as a user can type it back: relative to the working directory when it lies inside
    it (``runs/my-run`` with the default folders), else absolute."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


#: A path in a message: absolute, or starting with ./ or ../ (up to a quote, space, bracket or comma).
_PATH = re.compile(r"(?<![\w/.:])(?:\.{1,2}/|/)[^\s'\"`()\[\],;]+")
#: The package's own folder: shipped weights are shown relative to it (``plugins/cgan/weights/fer2013``).
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def public_paths(text: str, typed: str | None = None) -> str:
    """``text`` with the server's paths as a user of the app can read them: inside the data,
    results or runs folders as typed there (``runs/my-run``), inside fexlab's own folder relative
    to it (``plugins/cgan/weights/fer2013``), a short one as it is (what a user typed: ``/etc``,
    ``../outside``), anything longer by its data set folder and file name
    (``fer2013/ferplus_votes.csv``); a training source repeated as "; source '...'" is left out.
    ``typed``, the text a user typed, is quoted as it is wherever the message quotes it."""
    if typed:
        return f"'{typed}'".join(public_paths(part) for part in text.split(f"'{typed}'"))
    text = re.sub(r"; source '[^']*'", "", text)

    def public(match: re.Match) -> str:
        path = Path(match.group(0).rstrip(".:"))
        tail = match.group(0)[len(str(match.group(0).rstrip(".:"))):]
        absolute = (Path.cwd() / path).resolve() if not path.is_absolute() else path
        for root in allowed_roots():
            if absolute == root or root in absolute.parents:
                return f"{root.name}/{absolute.relative_to(root)}".rstrip("/.") + tail
        if absolute == PACKAGE_DIR or PACKAGE_DIR in absolute.parents:
            return str(absolute.relative_to(PACKAGE_DIR)) + tail
        if len(path.parts) <= 3:  # short, as a user types it ("/etc/passwd", "../outside"): kept as it is
            return match.group(0)
        return "/".join(absolute.parts[-2:]) + tail

    return _PATH.sub(public, text)


def checkpoint_spec(typed: str, kind: str) -> tuple[str, str]:
    """(label, registry spec) of a typed checkpoint or training-run folder of a ``kind`` plugin.

    The path must lie inside the configured folders (:func:`fexlab.registry.paths.resolve_user_path`);
    the plugin is read from the checkpoint's ``config.json``, so the user need not name it.
    """
    from fexlab.registry.checkpoint import read_checkpoint_config, resolve_source

    path = resolve_user_path(typed, must_exist=True)
    directory = resolve_source(path)  # a run folder -> its best/
    payload = read_checkpoint_config(directory, kind=kind, name=typed.strip())
    plugin = payload.get("plugin")
    if not plugin:
        raise InputError(f"'{typed.strip()}' does not say which plugin it belongs to (no 'plugin' in config.json)")
    return f"{plugin}: {typed.strip()}", f"{plugin}:{directory}"


def plain_names(names: list[str] | str | None, kind: str) -> list[str]:
    """The plugin names chosen in a tab, refused when one carries a checkpoint path (``name:path``):
    a path reaches the server only through the typed box, where it is checked."""
    if isinstance(names, str):
        names = [names]
    names = [str(name).strip() for name in names or [] if str(name).strip()]
    for name in names:
        if ":" in name:
            raise InputError(f"'{name}': choose {kind}s by name; type a checkpoint folder into the box "
                             "for your own model")
    return names


def load_plugins(registry: Registry, kind: str, names: list[str] | str | None,
                 checkpoint: str | None = None) -> dict[str, Any]:
    """Label -> loaded plugin for the chosen ``names`` and an optional typed checkpoint."""
    specs = {name: name for name in plain_names(names, kind)}
    if checkpoint and str(checkpoint).strip():
        label, spec = checkpoint_spec(str(checkpoint), kind)
        specs[label] = spec
    if not specs:
        raise InputError(f"choose at least one {kind}, or give a checkpoint folder")
    return {label: registry.load(kind, spec) for label, spec in specs.items()}


def output_folder(prefix: str) -> Path:
    """A new folder under :data:`OUTPUT_DIR` for one request's files (video, zip, CSV).

    Files older than :data:`KEEP_SECONDS` are removed first: Gradio has copied them into its own
    cache (which it cleans itself) long before, so a long-running server does not fill its disk.
    """
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    _sweep(OUTPUT_DIR, KEEP_SECONDS)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=OUTPUT_DIR))


def _sweep(folder: Path, max_age: float) -> None:
    import shutil
    import time

    cutoff = time.time() - max_age
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:  # another request removed it first
            continue


def upload_path(value: Any) -> str | None:
    """The file path of an upload as an event with ``preprocess=False`` receives it.

    Events that take files skip Gradio's own preprocessing so that fexlab's loader, not PIL's
    first guess, decides whether a file is usable and says why not.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, dict):
        return value.get("path") or None
    return getattr(value, "path", None)


def upload_name(value: Any) -> str:
    """The name the user gave an uploaded file, for messages (not Gradio's temporary path)."""
    name = value.get("orig_name") if isinstance(value, dict) else getattr(value, "orig_name", None)
    path = upload_path(value)
    return str(name or (os.path.basename(path) if path else "the upload"))


def image_file(image: Any) -> str:
    """A PNG file holding the RGB array (or PIL image) ``image``, for a Gallery or Image output.

    Gradio caches an array under a name made from its content and rewrites that file in place on
    every request, so when two users get the same image at once (both clicked the same example)
    one browser can fetch a half-written file. A path is copied into Gradio's cache atomically
    instead; this file too is written under its content's hash through a rename. The PNG is
    compressed fast (level 1: a sixth of the time of the default for a sixth more bytes).
    """
    from PIL import Image

    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, "PNG", compress_level=1)
    return _png_file(buffer.getvalue())


def figure_file(figure: Any, dpi: int = 110) -> str:
    """A PNG file of the matplotlib ``figure`` (for a Gallery or a download), written like
    :func:`image_file`."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return _png_file(buffer.getvalue())


def _png_file(data: bytes) -> str:
    path = OUTPUT_DIR / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if path.is_file():
        with contextlib.suppress(OSError):
            os.utime(path)  # in use again: not for the sweep
    else:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=OUTPUT_DIR, prefix=".staging-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(staging, path)
    return str(path)


# -- the face mesh: Predict, Live and Video ----------------------------------------------------------
#: The analyzer behind the "Face mesh" option.
FACE_MESH = "face_mesh"
#: Said wherever the app shows action units.
AU_NOTE = ("Action units are estimates derived from the face mesh's blendshapes, not the output of a model "
           "trained on FACS-coded faces.")


def mesh_checkbox(elem_id: str) -> gr.Checkbox:
    """The "Face mesh" option: MediaPipe's 478-point mesh, blendshapes, action units and head pose."""
    return gr.Checkbox(False, label="Face mesh", elem_id=elem_id,
                       info="478 points, blendshapes, action units (estimated from blendshapes), head pose, avatar")


def mesh_classifiers(selection: str | Sequence[str] | None, mesh: bool, choices: Sequence[str]) -> Any:
    """The classifier choice after the Face mesh option changes: ticked, the default classifier gives
    way to :data:`DEFAULT_MESH_CLASSIFIER` (which reads the mesh beside the pixels: better on every
    validation split measured, and no slower once the mesh runs); unticked, back again. Any other
    choice stays, and nothing changes where the mesh classifier is not ready here."""
    old, new = (DEFAULT_CLASSIFIER, DEFAULT_MESH_CLASSIFIER) if mesh else (DEFAULT_MESH_CLASSIFIER, DEFAULT_CLASSIFIER)
    if new not in choices:
        return selection
    if selection is None or isinstance(selection, str):
        return new if selection == old else selection
    swapped = [new if name == old else name for name in selection]
    return list(dict.fromkeys(swapped))


def follow_mesh(mesh: gr.Checkbox, chosen: gr.Dropdown, choices: Sequence[str], api_name: str) -> None:
    """Ticking or unticking ``mesh`` updates the classifier dropdown ``chosen`` (:func:`mesh_classifiers`)."""
    mesh.change(lambda ticked, selection: mesh_classifiers(selection, ticked, choices), [mesh, chosen], chosen,
                api_name=api_name, show_progress="hidden", queue=False)


def face_analyzers(registry: Registry, mesh: bool) -> dict[str, Any]:
    """The analyzers a tab runs: ``{"face_mesh": analyzer}`` when ``mesh`` is ticked, else none."""
    if not mesh:
        return {}
    info = next((i for i in registry.infos("analyzer") if i.name == FACE_MESH), None)
    if info is None or info.status != "ready":
        why = f": {app_detail('analyzer', info.detail)}" if info is not None else " here"
        raise InputError(f"the face mesh is not available{why}")
    return {FACE_MESH: registry.analyzer(FACE_MESH)}


def mesh_triangles(analyzers: dict[str, Any]) -> Any:
    """The triangles of the first analyzer whose mesh has a surface (to draw and export), or None."""
    from fexlab.pipeline.exports import mesh_topology

    topology = mesh_topology(analyzers.values())
    return topology[0] if topology else None


def mesh_panel() -> gr.Column:
    """The column of a tab's face-mesh outputs, hidden until the face mesh runs: kept in the page
    while hidden (``visible="hidden"``), so that a 3D view inside it draws once it is shown."""
    return gr.Column(visible="hidden")


def show_mesh_panel(mesh: bool) -> gr.Column:
    """The update that shows :func:`mesh_panel` when the face mesh ran, and hides it again when not."""
    return gr.Column(visible=True if mesh else "hidden")
