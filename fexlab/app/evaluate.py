"""Evaluate tab: score classifiers and generators on one data set with :func:`fexlab.eval.harness.evaluate`,
and compare them on the leaderboard built from every result in the results folder.

The images of a data set are face crops, or whole photos where a detector finds the largest face
(classifiers and face editors; generators that draw faces need crops). Results are JSON files in
``$FEXLAB_RESULTS_DIR`` (default ``results``): this tab writes them to
``results/results/`` as ``fexlab evaluate --out results`` does, and also lists the ones the CLI
wrote to ``results/*/results/``. The leaderboard shows one data set (and split) at a time, since
scores on different faces are not comparable, with the row-normalised confusion matrices of its
models side by side.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr

from fexlab.registry import EMOTIONS, InputError, Registry
from fexlab.registry.paths import resolve_user_path

from .common import (
    checkpoint_box,
    checkpoint_spec,
    clear_on_error,
    data_set_paths,
    default_comparison,
    folder,
    number,
    output_folder,
    plain_names,
    plugin_choices,
    public_paths,
    relative_name,
    unavailable_accordion,
    user_errors,
)

__all__ = [
    "FACE_CROPS",
    "MAX_PER_EMOTION",
    "MAX_SYNTHETIC_FACES",
    "YOUR_CLASSIFIER",
    "build",
    "data_choices",
    "data_sets",
    "face_choices",
    "judge_note",
    "leaderboard_view",
    "load_all_results",
    "resolve_data",
    "run_evaluation",
]

#: The quick synthetic set offered first, and the bounds on what one request may ask for.
QUICK_SYNTHETIC = "synthetic:n=700,size=64"
MAX_SYNTHETIC_FACES = 20_000
MAX_PER_EMOTION = 100
SYNTHETIC_NOTE = ("These are SYNTHETIC cartoon faces from the FACS renderer: the scores say how the models do on "
                  "them, not on real photographs.")
#: The judge choice that means "the classifier typed into *Your classifier*".
YOUR_CLASSIFIER = "your classifier (the folder typed above)"

_CLASSIFIER_COLUMNS = {
    "model": "model", "accuracy": "accuracy", "accuracy_ci": "95% CI", "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1", "ece": "ECE", "latency_ms": "ms / face", "parameters": "learned parameters",
}
#: The column of a classifier's accuracy on the split's posed-like faces, shown where the data has FER+ votes.
_POSED_LIKE = "posed-like accuracy (8+ of 10 votes agree)"
_GENERATOR_COLUMNS = {
    "model": "model", "judge": "judge", "expression_accuracy": "expression accuracy",
    "judge_real_balanced_accuracy": "judge on real faces, balanced", "judge_real_accuracy": "judge on real faces",
    "expression_macro_f1": "expression macro F1", "expression_min_recall": "lowest recall", "fid": "FID (judge)",
    "kid": "KID", "diversity": "diversity", "identity_consistency": "identity", "latency_ms": "ms / face",
}

_EDITOR_COLUMNS = {
    "model": "model", "judge": "judge", "target_accuracy": "target accuracy",
    "judge_real_balanced_accuracy": "judge on real faces, balanced", "target_min_recall": "lowest recall",
    "ssim": "SSIM to the input", "judge_feature_distance": "judge-feature distance",
    "realism_fid": "realism FID (ImageNet)", "realism_toward_real": "realism: way to real (1 = real)",
    "probe_auc_edited": "probe AUC: edits", "probe_auc_unedited": "probe AUC: unedited",
    "reconstruction_l1": "reconstruction error", "latency_ms": "ms / edit",
}
#: Beside them, per target emotion: the edits' recall / the judge's on real faces of that emotion.
_RECALL_HEADERS = {emotion: f"{emotion}: edits / real" for emotion in EMOTIONS}
#: The faces choice that means "the images are face crops" (no detector).
FACE_CROPS = ""


def data_choices() -> list[tuple[str, str]]:
    """(label, value) of the data sets offered: the synthetic sets, then the data folder's
    (``$FEXLAB_DATA_DIR``, :func:`~fexlab.app.common.data_set_paths`)."""
    choices = [("synthetic faces, 700 (quick)", QUICK_SYNTHETIC),
               ("synthetic faces, 7000", "synthetic:n=7000,size=64")]
    return choices + [(relative_name(path), str(path)) for path in data_set_paths()]


def data_sets():
    """Handler: the data set chooser with the data folder's current contents (on page load, when
    the tab is opened and with its button), the choice kept."""
    return gr.Dropdown(choices=data_choices())


def resolve_data(text: str | None) -> str:
    """The source string :func:`fexlab.preprocessing.readers.open_dataset` gets for the chosen or typed
    data: a synthetic spec (size-checked) or a path inside the allowed folders."""
    text = (text or "").strip()
    if not text:
        raise InputError("choose a data set")
    if text == "synthetic" or text.startswith("synthetic:"):
        match = re.search(r"\bn=(\d+)", text)
        if match and int(match.group(1)) > MAX_SYNTHETIC_FACES:
            raise InputError(f"at most {MAX_SYNTHETIC_FACES} synthetic faces here, got {match.group(1)}; "
                             "use `fexlab evaluate` for more")
        return text
    return str(resolve_user_path(text, must_exist=True))


# -- results ---------------------------------------------------------------------------------------
def load_all_results(root: Path | None = None) -> list[dict[str, Any]]:
    """Every result in the results folder: its own JSON files, ``results/`` and ``*/results/``."""
    from fexlab.eval.results import load_results

    root = root or folder("FEXLAB_RESULTS_DIR")
    folders = [root, root / "results", *sorted(root.glob("*/results"))] if root.is_dir() else []
    results = []
    for place in folders:
        for result in load_results(place):
            result["_key"] = _data_key(result)
            results.append(result)
    return results


def _data_key(result: dict[str, Any]) -> str:
    data = result["data"]
    return f"{data.get('source') or data['name']}|{data['split']}|{data.get('fingerprint') or '-'}"


def _data_label(result: dict[str, Any]) -> str:
    data = result["data"]
    source = data.get("source") or data["name"]
    if source.startswith("/"):
        source = relative_name(Path(source))
    synthetic = " · synthetic" if data.get("synthetic") else ""
    return f"{source} · {data['split']} split · {data.get('n')} faces{synthetic}"


def _display_model(spec: str) -> str:
    name, sep, path = str(spec).partition(":")
    return f"{name}:{relative_name(Path(path))}" if sep and path.startswith("/") else str(spec)


def _table(results: list[dict[str, Any]], kind: str, columns: dict[str, str]):
    """The leaderboard rows of ``kind``, ``columns`` renamed; an editor's table ends with each
    target emotion's recall beside the judge's on real faces (:func:`fexlab.eval.results.recall_beside_real`)."""
    from fexlab.eval.results import leaderboard, recall_beside_real

    rows = [r for r in results if r["kind"] == kind]
    frame = leaderboard(rows)
    headers = _RECALL_HEADERS if kind == "editor" else {}
    if frame.empty:
        import pandas as pd

        return pd.DataFrame(columns=[*columns.values(), *headers.values()])
    if kind == "classifier" and frame["posed_like_accuracy"].notna().any():  # data with FER+ votes
        columns = dict(item for key, name in columns.items()
                       for item in ((key, name), *([("posed_like_accuracy", _POSED_LIKE)] if key == "macro_f1" else [])))
    table = frame[list(columns)].copy()
    table["model"] = table["model"].map(_display_model)
    if "parameters" in table:
        table["parameters"] = table["parameters"].map(lambda v: f"{int(v):,}" if v == v and v is not None else "")
    for column in table.columns:
        if table[column].dtype.kind == "f":
            table[column] = table[column].map(lambda v: float(f"{v:.3g}") if v == v else None)
    if headers:
        table = table.join(recall_beside_real(frame))
    return table.rename(columns={**columns, **headers})


def _confusions(results: list[dict[str, Any]]):
    from fexlab.eval.plots import confusion_panels

    matrices = {}
    for result in results:
        metrics = result.get("metrics", {})
        if result["kind"] == "classifier" and "confusion_normalized" in metrics:
            matrices[_display_model(result["model"])] = metrics["confusion_normalized"]
        elif result["kind"] == "generator" and "confusion_normalized" in (metrics.get("expression") or {}):
            matrices[f"{_display_model(result['model'])} (judged by {result.get('judge')})"] = (
                metrics["expression"]["confusion_normalized"])
        elif result["kind"] == "editor" and "confusion_normalized" in (metrics.get("target") or {}):
            matrices[f"{_display_model(result['model'])} edits (judged by {result.get('judge')})"] = (
                metrics["target"]["confusion_normalized"])
    if not matrices:
        return None
    axes = {frozenset({"classifier"}): ("true emotion", "predicted emotion"),
            frozenset({"generator"}): ("intended emotion", "recognised emotion"),
            frozenset({"editor"}): ("target emotion", "recognised emotion")}
    true_label, predicted = axes.get(frozenset(r["kind"] for r in results),
                                     ("true / intended emotion", "predicted / recognised"))
    return confusion_panels(matrices, true_label=true_label, predicted_label=predicted,
                            title="Confusion matrices in % of each row: the diagonal is each emotion's recall")


def judge_note(shown: list[dict[str, Any]]) -> str:
    """Beside the generator table: which judge scored the generators, what it was trained on and
    how it does on these faces itself, and, on synthetic faces, that the score reads the judge as
    much as the generator ("" when no generator is shown)."""
    generators = [r for r in shown if r["kind"] in ("generator", "editor")]
    if not generators:
        return ""
    notes = []
    for judge in dict.fromkeys(_display_model(r.get("judge")) for r in generators):
        mine = [r for r in generators if _display_model(r.get("judge")) == judge]
        trained = next((r["judge_training_data"] for r in mine if r.get("judge_training_data")), None)
        note = (f"Generators and editors are scored by the judge **{judge}**, trained on "
                f"{public_paths(trained) if trained else 'data it does not record'}")
        real = next((r["metrics"]["judge_on_real"] for r in mine if r["metrics"].get("judge_on_real")), None)
        own = next((r for r in shown if r["kind"] == "classifier" and _display_model(r["model"]) == judge), None)
        if real is not None or own is not None:  # results written before judge_on_real: its classifier row
            accuracy = real["accuracy"] if real is not None else own["metrics"]["accuracy"]
            note += f"; on the faces of this split it is itself right {accuracy:.0%} of the time"
        if real is not None:
            note += (f", {real['balanced_accuracy']:.0%} averaged over the emotions: generated faces are as many "
                     "per emotion, so read their expression accuracy against this one")
        notes.append(note + ".")
    if shown[0]["data"].get("synthetic"):
        notes.append("These faces are SYNTHETIC cartoons: a judge trained on photographs recognises them poorly, so "
                     "a low expression accuracy reads the judge as much as the generator. For a judge that knows "
                     "them, train a classifier on synthetic faces (Train tab), type its run folder into *Your "
                     f"classifier* and choose *{YOUR_CLASSIFIER}* as the judge.")
    return " ".join(notes)


def leaderboard_view(selection: str | None = None, results: list[dict[str, Any]] | None = None):
    """Handler: returns (data-set chooser, classifier table, generator table, confusion figure,
    message, CSV of the tables, note on the generators' judge, editor table) for the data set ``selection``
    (default: the latest evaluated). The message warns of figures that mean little."""
    from fexlab.eval.results import warnings_by_text

    results = load_all_results() if results is None else results
    root = relative_name(folder("FEXLAB_RESULTS_DIR"))
    if not results:
        empty = ("No results yet in the results folder "
                 f"(`{root}`). Choose models and a data set and press **Run evaluation**, or run `fexlab evaluate`.")
        return (gr.Dropdown(choices=[], value=None), _table([], "classifier", _CLASSIFIER_COLUMNS),
                _table([], "generator", _GENERATOR_COLUMNS), None, empty, None, "", _table([], "editor", _EDITOR_COLUMNS))
    labels: dict[str, str] = {}
    for result in sorted(results, key=lambda r: str(r.get("created")), reverse=True):
        labels.setdefault(result["_key"], _data_label(result))
    if selection not in labels:
        selection = next(iter(labels))
    shown = [r for r in results if r["_key"] == selection]
    classifiers = _table(shown, "classifier", _CLASSIFIER_COLUMNS)
    generators = _table(shown, "generator", _GENERATOR_COLUMNS)
    editors = _table(shown, "editor", _EDITOR_COLUMNS)
    message = (f"**{len(shown)} result(s)** on {labels[selection]} (data fingerprint {selection.rsplit('|', 1)[-1]}), "
               f"from {len(results)} in `{root}`.")
    if shown[0]["data"].get("synthetic"):
        message += " " + SYNTHETIC_NOTE
    cautions = [f"- {', '.join(map(_display_model, models))}: {warning}."
                for warning, models in warnings_by_text(shown).items()]
    if cautions:
        message += "\n\n**Take care**, some figures here mean little:\n" + "\n".join(cautions)
    csv = output_folder("leaderboard") / "leaderboard.csv"
    with csv.open("w", encoding="utf-8") as handle:
        for title, table in (("classifiers", classifiers), ("generators", generators), ("face editors", editors)):
            if len(table):
                handle.write(f"# {title}: {labels[selection]}\n" + table.to_csv(index=False))
    chooser = gr.Dropdown(choices=[(label, key) for key, label in labels.items()], value=selection)
    return chooser, classifiers, generators, _confusions(shown), message, str(csv), judge_note(shown), editors


def face_choices(registry: Registry) -> list[tuple[str, str]]:
    """(label, value) of how the data set's images are read: as face crops, or as whole photos
    where a ready detector finds the largest face."""
    return [("face crops, as they are", FACE_CROPS),
            *((f"whole photos: the largest face {name} finds", name) for name in plugin_choices(registry, "detector"))]


def run_evaluation(registry: Registry, classifiers: list[str] | None, checkpoint: str | None,
                   generators: list[str] | None, judge: str | None, data: str | None, split: str,
                   n_per_emotion: int, seed: int, detector: str | None = FACE_CROPS, progress: Any = None,
                   edit_strength: float = 1.0):
    """Handler: evaluate the chosen models on ``data`` into the results folder, then return
    :func:`leaderboard_view` of that data set. With ``detector`` the images are whole photos:
    classifiers read, and editors edit, the largest face the detector finds in each. Editors edit at
    ``edit_strength`` (each up to its own limit)."""
    from fexlab.pipeline.evaluation import evaluate

    source = resolve_data(data)
    n_per_emotion = int(n_per_emotion or 0)
    if generators and not 2 <= n_per_emotion <= MAX_PER_EMOTION:
        raise InputError(f"faces per emotion must be between 2 and {MAX_PER_EMOTION}, got {n_per_emotion}")
    specs, generators = plain_names(classifiers, "classifier"), plain_names(generators, "generator")
    detector = (plain_names(detector, "detector") or [None])[0]
    typed = checkpoint_spec(checkpoint, "classifier")[1] if checkpoint and checkpoint.strip() else None
    if judge == YOUR_CLASSIFIER:
        if typed is None:
            raise InputError("type your classifier's folder into *Your classifier* to use it as the judge")
        judge = typed
    else:
        judge = (plain_names(judge, "classifier") or [None])[0]
    if typed is not None:
        specs.append(typed)
    if not specs and not generators:
        raise InputError("choose at least one classifier or generator to evaluate")
    report = evaluate(specs, generators, data=source, out=folder("FEXLAB_RESULTS_DIR"), judge=judge,
                      split=split or "test", n_per_emotion=max(n_per_emotion, 2),
                      seed=int(seed or 0), registry=registry, plots=False, detector=detector,
                      edit_strength=number(edit_strength, "the editors' strength"),
                      progress=(lambda fraction, text: progress(fraction, desc=text)) if progress else None)
    results = load_all_results()
    key = _data_key({"data": report.results[0]["data"]})
    return leaderboard_view(key, results)


def build(registry: Registry, tab: Any = None, demo: Any = None) -> None:
    """Lay out the Evaluate tab; ``tab`` (its ``gr.Tab``) reloads the leaderboard and the data
    sets when opened, ``demo`` (the ``gr.Blocks``) the data sets when the page loads."""
    classifiers = plugin_choices(registry, "classifier")
    generators = plugin_choices(registry, "generator")
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            chosen = gr.Dropdown(classifiers, value=default_comparison(classifiers)[:1], multiselect=True,
                                 label="Classifiers")
            checkpoint = checkpoint_box("Your classifier (optional)")
            chosen_generators = gr.Dropdown(generators, value=[], multiselect=True, label="Generators",
                                            info="scored by the judge: does it recognise the intended emotion? "
                                                 "Editors (stargan) edit real faces of the split into each emotion",
                                            elem_id="evaluate-generators")
            judge = gr.Dropdown([*classifiers, YOUR_CLASSIFIER],
                                value="mini_xception" if "mini_xception" in classifiers else None,
                                label="Judge for generators",
                                info="best trained on faces like the data set's; see the note by the generator table")
            data = gr.Dropdown(data_choices(), value=QUICK_SYNTHETIC, allow_custom_value=True, label="Data set",
                               elem_id="evaluate-data",
                               info="or type a FER2013 .csv, class-per-folder tree or save_to_disk folder "
                                    "inside the data folder")
            refresh_data = gr.Button("Look again in the data folder", size="sm", elem_id="evaluate-refresh-data")
            split = gr.Radio(["test", "val", "train"], value="test", label="Split")
            faces = gr.Dropdown(face_choices(registry), value=FACE_CROPS, label="Faces", elem_id="evaluate-faces",
                                info="whole photos: classifiers read, and editors edit, the largest face in each "
                                     "photo (generators that draw faces need face crops)")
            seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            per_emotion = gr.Slider(2, MAX_PER_EMOTION, value=10, step=1, label="Generated faces per emotion",
                                    info="for an editor: real faces (or photos) of each emotion to edit")
            strength = gr.Slider(0.05, 2.0, value=1.0, step=0.05, label="Editors' strength",
                                 info="1: a typical real face of the target emotion; up to 2 (mesh_warp): toward its "
                                      "most intense real faces; a result at another strength is its own row",
                                 elem_id="evaluate-strength")
            run = gr.Button("Run evaluation", variant="primary")
            unavailable_accordion(registry, "classifier")
        with gr.Column(scale=4):
            with gr.Row():
                shown = gr.Dropdown([], label="Leaderboard of", scale=4, allow_custom_value=True,
                                    info="one data set and split at a time: scores on other faces are not comparable")
                refresh = gr.Button("Reload results", scale=1)
            message = gr.Markdown("Open this tab or press **Reload results** to see earlier results.",
                                  label="Summary", elem_id="evaluate-message")
    # the leaderboard across the whole page, so that every column shows
    classifier_table = gr.Dataframe(label="Classifiers", interactive=False, wrap=True, max_height=320,
                                    elem_id="leaderboard-classifiers", elem_classes=["fexlab-table"])
    note = gr.Markdown("", elem_id="evaluate-judge-note", elem_classes=["fexlab-note"])
    generator_table = gr.Dataframe(label="Generators (scored by the judge classifier)", interactive=False,
                                   wrap=True, max_height=320, elem_id="leaderboard-generators",
                                   elem_classes=["fexlab-table"])
    editor_table = gr.Dataframe(label="Face editors (real faces edited to each other emotion, scored by the "
                                      "judge; realism FID to real faces in ImageNet features; per emotion, the "
                                      "edits' recall / the judge's on real faces of it)", interactive=False,
                                wrap=True, max_height=320, elem_id="leaderboard-editors", elem_classes=["fexlab-table"])
    confusion = gr.Plot(label="Confusion matrices", show_label=False, elem_id="evaluate-confusion")
    download = gr.File(label="Leaderboard (CSV)")

    outputs = [shown, classifier_table, generator_table, confusion, message, download, note, editor_table]
    results = outputs[1:]  # the chooser is also an input: it is kept on an error

    @user_errors
    def evaluate_models(classifiers, checkpoint, generators, judge, data, split, n, seed, detector=FACE_CROPS,
                        strength=1.0, progress=gr.Progress()):
        return run_evaluation(registry, classifiers, checkpoint, generators, judge, data, split, n, seed, detector,
                              progress, strength)

    triggers = [refresh.click, shown.input] + ([tab.select] if tab is not None else [])
    clear_on_error(gr.on(triggers, user_errors(leaderboard_view), [shown], outputs, api_name="leaderboard",
                         show_progress_on=[message]), results)
    clear_on_error(run.click(evaluate_models, [chosen, checkpoint, chosen_generators, judge, data, split, per_emotion,
                                               seed, faces, strength], outputs, api_name="evaluate", concurrency_limit=1,
                             show_progress_on=[message]), results)
    data_triggers = [refresh_data.click] + ([tab.select] if tab is not None else []) + ([demo.load] if demo else [])
    gr.on(data_triggers, user_errors(data_sets), None, data, api_name="data_sets", show_progress="hidden")
