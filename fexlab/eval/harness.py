"""The evaluation harness: every chosen classifier and generator scored on one split of one data set.

Classifiers see every face of the split, in chunks decoded once and shared by all classifiers;
generators draw ``n_per_emotion`` faces per emotion from seeds derived from ``seed`` (one seed
gives one face per emotion, so identity consistency can be measured), and a judge classifier
scores them against the same number of real faces per emotion from the split. Editors (generators
that need a face) edit up to ``n_per_emotion`` real faces of each emotion into every emotion, face
crops as they are or, with a detector, whole photos through the photo editor it is given
(:mod:`fexlab.eval.editing`); their realism is measured in the feature space it is given (the CLI and
the app give ImageNet features, :mod:`fexlab.plugins.efficientnet.features`), loaded once for every
editor. Beside each
generator's figures the result holds the same judge's own figures on every real face of the
split (``judge_on_real``), so a reader sees whether the generated expressions are as
recognisable as real ones; a judge also evaluated as a classifier is run once. Everything is
seeded, so the same call gives the same numbers. Each model gets one JSON result in
``out/results``; the leaderboard (``out/leaderboard.md`` / ``.csv``) is rebuilt from every result
in that folder, earlier runs included; plots go to ``out/plots``.
"""

from __future__ import annotations

import hashlib
import statistics
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError
from fexlab.registry.registry import Registry, default_registry, parse_spec

from .classification import classification_metrics, mcnemar, reliability_curve
from .generation import generator_metrics
from .photos import crops, largest_faces
from .results import slugify, write_leaderboard, write_result

__all__ = ["DEFAULT_JUDGE", "MIN_CLASS_FACES", "MIN_GENERATED_PER_EMOTION", "MIN_SPLIT_FACES", "POSED_LIKE_AGREEMENT",
           "EvaluationReport",
           "ProgressCallback", "data_fingerprint", "evaluate", "generator_warnings", "split_warnings"]

#: Called as ``progress(fraction_done, message)``; ``gr.Progress`` objects fit.
ProgressCallback = Callable[[float, str], Any]
#: The judge used when generators are evaluated and neither a judge nor a classifier is named.
DEFAULT_JUDGE = "mini_xception"
#: Below these sizes a figure means little, and the result says so in its ``warnings``: faces in
#: the split (accuracy and its interval), faces of one emotion (its recall, precision and F1),
#: generated faces per emotion (Frechet and kernel distances, diversity).
MIN_SPLIT_FACES = 50
#: Faces whose annotators agree this much (a share of their votes, FER+: 8 of 10) are the split's
#: posed-like faces, scored apart as well (``metrics["posed_like"]``) where the data has votes.
POSED_LIKE_AGREEMENT = 0.8
MIN_CLASS_FACES = 10
MIN_GENERATED_PER_EMOTION = 50
_CHUNK = 256
#: Progress units of one face edited into every emotion (the edits, the judge and ImageNet features
#: on eight faces): about as long as the judge takes to classify this many faces on a CPU.
_EDIT_UNITS = 500
_GRID_SEEDS = 8
_LATENCY_REPEATS = 3


@dataclass
class EvaluationReport:
    """What :func:`evaluate` wrote: the results of this call, their files, plots and the leaderboard
    (a pandas DataFrame over every result in the folder)."""

    results: list[dict[str, Any]]
    result_files: list[Path]
    plots: dict[str, Path] = field(default_factory=dict)
    leaderboard: Any = None
    markdown: Path | None = None
    csv: Path | None = None


class _Progress:
    def __init__(self, callback: ProgressCallback | None, total: float):
        self.callback, self.total, self.done = callback, max(total, 1.0), 0.0

    def advance(self, units: float, message: str) -> None:
        self.done = min(self.total, self.done + units)
        if self.callback is not None:
            self.callback(self.done / self.total, message)


def data_fingerprint(part: Any, probes: int = 16) -> str:
    """A short hash of a split's labels, source ids and a few evenly spaced images: results with
    the same data name but another fingerprint were made on different faces (a changed renderer,
    an edited folder) and are not comparable."""
    digest = hashlib.sha256(np.asarray(part.labels(), dtype=np.int64).tobytes())
    source_ids = getattr(part, "source_ids", None)
    if source_ids is not None:
        digest.update("\n".join(map(str, source_ids())).encode())
    for image in part.images(np.unique(np.linspace(0, len(part) - 1, num=min(probes, len(part))).astype(int))):
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()[:12]


def split_warnings(part: Any, split: str) -> list[str]:
    """What a classifier's figures on ``part`` cannot tell, because the split or an emotion in it
    has too few faces (see :data:`MIN_SPLIT_FACES`, :data:`MIN_CLASS_FACES`)."""
    warnings = []
    if len(part) < MIN_SPLIT_FACES:
        warnings.append(f"only {len(part)} faces in the {split} split: accuracy and the other figures can move a "
                        f"lot with one face, and the 95% intervals are wide; use {MIN_SPLIT_FACES} or more faces")
    counts = part.class_counts()
    few = {emotion: counts.get(emotion, 0) for emotion in EMOTIONS if counts.get(emotion, 0) < MIN_CLASS_FACES}
    if few:
        warnings.append(f"only {_counted(few)}: the recall, precision and F1 of each such emotion rest on these "
                        f"faces alone; use {MIN_CLASS_FACES} or more per emotion")
    return warnings


def generator_warnings(n_per_emotion: int, real: dict[str, list[Any]]) -> list[str]:
    """What a generator's figures cannot tell with ``n_per_emotion`` generated faces per emotion
    compared with the ``real`` faces of the split (see :data:`MIN_GENERATED_PER_EMOTION`)."""
    warnings = []
    if n_per_emotion < MIN_GENERATED_PER_EMOTION:
        warnings.append(f"Frechet and kernel distances and diversity from {n_per_emotion} faces per emotion are noisy "
                        f"and biased; use {MIN_GENERATED_PER_EMOTION} or more faces per emotion")
    short = {emotion: len(faces) for emotion, faces in real.items() if len(faces) < n_per_emotion}
    if short:
        warnings.append(f"the split has only {_counted(short, 'real faces')} to compare with {n_per_emotion} generated "
                        "ones")
    return warnings


def _editor_warnings(n_per_emotion: int, real: dict[str, Any]) -> list[str]:
    """What an editor's figures cannot tell: emotions with fewer real faces to edit than asked,
    and a realism FID from few faces (see :data:`MIN_GENERATED_PER_EMOTION`)."""
    short = {emotion: len(faces) for emotion, faces in real.items() if len(faces) < n_per_emotion}
    warnings = []
    if short:
        warnings.append(f"the split has only {_counted(short, 'real faces')} to edit, fewer than {n_per_emotion}")
    if n_per_emotion < MIN_GENERATED_PER_EMOTION:
        warnings.append(f"the realism FID from {n_per_emotion} real faces per emotion (in 1280 ImageNet features) is "
                        f"noisy and biased; use {MIN_GENERATED_PER_EMOTION} or more faces per emotion")
    return warnings


def _counted(counts: dict[str, int], what: str = "faces") -> str:
    """``{"angry": 6, "fear": 2}`` -> "6 faces of angry, 2 of fear"; "6 faces of each emotion" when
    every emotion has the same count."""
    if len(counts) == len(EMOTIONS) and len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} {what} of each emotion"
    (first, n), *rest = counts.items()
    return ", ".join([f"{n} {what} of {first}", *(f"{k} of {emotion}" for emotion, k in rest)])


def _parameters(plugin: Any) -> int | None:
    module = plugin.torch_module()
    return int(sum(p.numel() for p in module.parameters())) if module is not None else None


def _model_record(kind: str, spec: str, plugin: Any) -> dict[str, Any]:
    name, tag, checkpoint = parse_spec(spec)
    return {
        "kind": kind, "model": spec, "plugin": type(plugin).name or name, "plugin_version": type(plugin).version,
        "tag": tag, "checkpoint": checkpoint or plugin.metadata.get("source"),
        "training_data": plugin.metadata.get("training_data"), "parameters": _parameters(plugin),
        **({"test_time_flip": True} if getattr(plugin, "test_time_flip", False) else {}),
    }


def _title(text: str) -> str:
    return textwrap.fill(text, 100)


def evaluate(
    classifiers: Sequence[str] = (), generators: Sequence[str] = (), *, data: Any, out: str | Path,
    judge: str | None = None, split: str = "test", n_per_emotion: int = 100, seed: int = 0,
    registry: Registry | None = None, progress: ProgressCallback | None = None, n_resamples: int = 1000,
    kid_subsets: int = 100, plots: bool = True, detector: str | None = None, align: bool = False,
    features: Callable[[], Any] | None = None, edit_photo: Callable[..., Any] | None = None,
    edit_strength: float = 1.0,
) -> EvaluationReport:
    """Score ``classifiers`` and ``generators`` (``name[.tag][:checkpoint]`` specs, checkpoint
    folders and training-run folders included) on ``split`` of ``data`` and write the results.

    ``data`` is a source string for :func:`fexlab.preprocessing.readers.open_dataset` or a FaceDataset.
    Generators are judged by ``judge`` (default: the first classifier, else mini_xception).
    With ``detector`` the images are whole photos, scored end to end (:mod:`fexlab.eval.photos`): the
    detector's largest face of each, cropped with each classifier's own margin (eyes levelled
    with ``align``); photos where it finds no face are counted in the data record and left out.
    Editors then edit the whole photos (:func:`fexlab.eval.editing.photo_editing_metrics`); generators
    that draw faces of their own have no photos to score and are refused with a detector.

    The pieces of higher layers come in as arguments: ``features()`` loads the editors' realism
    space (an object with ``embed(faces)``; none: no realism figure) and ``edit_photo`` is the
    pipeline's :func:`fexlab.pipeline.editing.edit_photo`, needed to score editors on whole photos.

    Editors edit at ``edit_strength`` (1: the full target emotion), or at their own ``max_strength``
    when that is lower (mesh_warp goes on to 2, its emotions' most intense real faces); a result at
    a strength other than 1 is named ``"SPEC @ strength S"`` so it sits beside the same editor at 1.
    """
    from fexlab.preprocessing.readers import open_dataset

    if not classifiers and not generators:
        raise InputError("nothing to evaluate: name at least one --classifier or --generator")
    if not 0.0 < edit_strength <= 2.0:
        raise InputError(f"the editors' strength must be above 0 and at most 2, got {edit_strength}")
    if n_per_emotion < 2 and generators:
        raise InputError(f"n_per_emotion must be at least 2 to compare generated with real faces, got {n_per_emotion}")
    registry = registry or default_registry()
    out = Path(out)
    try:
        (out / "results").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot write to the output folder {out}: {err.strerror or err}") from None

    dataset = open_dataset(data) if isinstance(data, (str, Path)) else data
    part = dataset.split(split)
    if len(part) == 0:
        raise InputError(f"the {split} split of {dataset.name} is empty; choose another --split")
    data_record = {"source": str(data) if isinstance(data, (str, Path)) else None, "name": dataset.name,
                   "synthetic": bool(dataset.synthetic), "split": split, "n": len(part),
                   "fingerprint": data_fingerprint(part)}

    loaded_generators = {spec: registry.generator(spec) for spec in generators}
    faces, detector_plugin = None, None
    if detector:
        drawing = [spec for spec, generator in loaded_generators.items() if not generator.needs_image]
        if drawing:
            raise InputError(f"a detector scores classifiers and face editors on whole photos; {', '.join(drawing)} "
                             "draw faces of their own: evaluate generators without --detector")
        if edit_photo is None and any(g.needs_image for g in loaded_generators.values()):
            raise InputError("scoring an editor on whole photos needs the photo editor: pass "
                             "edit_photo=fexlab.pipeline.editing.edit_photo")
        detector_plugin = registry.detector(detector)
        faces, part = largest_faces(detector_plugin, part, progress)
        if len(part) == 0:
            raise InputError(f"{detector} found no face in the {data_record['n']} images of the {split} split")
        data_record.update({"name": f"{dataset.name}, whole photos through {detector}"
                                    + (" (eyes levelled)" if align else ""),
                            "detector": detector + ("+align" if align else ""), "photos": data_record["n"],
                            "n": len(part), "fingerprint": data_fingerprint(part)})
    loaded_classifiers = {spec: registry.classifier(spec) for spec in classifiers}
    judge_spec = judge or (classifiers[0] if classifiers else DEFAULT_JUDGE)
    judge_plugin = registry.classifier(judge_spec) if generators else None

    judge_pass = bool(generators) and judge_spec not in loaded_classifiers  # the judge on the real faces
    editors = sum(g.needs_image for g in loaded_generators.values())
    ticker = _Progress(progress, (len(classifiers) + judge_pass) * len(part) + len(generators) * (n_per_emotion + 2)
                       + editors * _EDIT_UNITS * len(EMOTIONS) * n_per_emotion)
    report = EvaluationReport([], [])
    plot_dir = out / "plots"
    if plots:
        report.plots.update(_data_plot(part, plot_dir))
    probabilities: dict[str, np.ndarray] = {}
    if loaded_classifiers:
        results, probabilities = _evaluate_classifiers(loaded_classifiers, part, seed, n_resamples, ticker,
                                                       faces, align)
        for result in results:
            report.results.append({**result, "data": data_record, "seed": seed,
                                   "warnings": split_warnings(part, split)})
    if judge_pass:
        probabilities.update(_predict_split({judge_spec: judge_plugin}, part, ticker, faces, align)[0])
    judge_on_real = classification_metrics(part.labels(), probabilities[judge_spec], seed=seed,
                                           n_resamples=n_resamples).as_dict() if generators else None
    realism = features() if editors and features is not None else None
    for spec, generator in loaded_generators.items():
        if generator.needs_image:
            photos = None if detector_plugin is None else _Photos(detector_plugin, faces, align, edit_photo)
            result = _evaluate_editor(spec, generator, judge_plugin, part, n_per_emotion, seed, n_resamples, ticker,
                                      realism, photos, generator.own_strength(edit_strength))
        else:
            result = _evaluate_generator(spec, generator, judge_plugin, part, n_per_emotion, seed, n_resamples,
                                         kid_subsets, ticker)
        result["metrics"]["judge_on_real"] = judge_on_real
        report.results.append({**result, "data": data_record, "seed": seed, "judge": judge_spec,
                               "judge_training_data": judge_plugin.metadata.get("training_data")})
    for result in report.results:
        arrays = result.pop("_arrays", {})
        report.result_files.append(write_result(result, out / "results"))
        if plots:
            report.plots.update(_model_plots(result, arrays, plot_dir))
    if plots and len(loaded_classifiers) > 0:
        report.plots.update(_comparison_plots([r for r in report.results if r["kind"] == "classifier"], plot_dir))
    report.leaderboard, report.markdown, report.csv = write_leaderboard(out / "results", out)
    ticker.advance(ticker.total, "done")  # all of it, whatever rounding the steps left
    return report


# -- classifiers -------------------------------------------------------------------------------------
def _predict_split(classifiers: dict[str, Any], part: Any, ticker: _Progress, detected: Sequence[Any] | None = None,
                   align: bool = False) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """Every classifier's (N, 7) probabilities on the split's faces (decoded once, in chunks shared
    by all), the seconds each spent predicting, and the split's first face. With ``detected`` (one
    detector face per image) each classifier sees its own crop of that face."""
    probs: dict[str, list[np.ndarray]] = {spec: [] for spec in classifiers}
    seconds = dict.fromkeys(classifiers, 0.0)
    first_face = None
    for start in range(0, len(part), _CHUNK):
        images = part.images(range(start, min(start + _CHUNK, len(part))))
        for spec, classifier in classifiers.items():
            faces = images if detected is None else crops(classifier, images, detected[start:start + _CHUNK], align)
            first_face = first_face if first_face is not None else faces[0]
            began = time.perf_counter()
            probs[spec].append(classifier.predict(faces))
            seconds[spec] += time.perf_counter() - began
            ticker.advance(len(faces), f"{spec}: {min(start + _CHUNK, len(part))}/{len(part)} faces")
    return {spec: np.concatenate(chunks) for spec, chunks in probs.items()}, seconds, first_face


def _evaluate_classifiers(classifiers: dict[str, Any], part: Any, seed: int, n_resamples: int, ticker: _Progress,
                          detected: Sequence[Any] | None = None,
                          align: bool = False) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The result of every classifier on the split, and their probabilities (for the judge)."""
    labels = part.labels()
    agreement = part.label_agreement() if hasattr(part, "label_agreement") else None
    posed = None if agreement is None else agreement >= POSED_LIKE_AGREEMENT
    probs, seconds, first_face = _predict_split(classifiers, part, ticker, detected, align)
    results, predictions = [], {}
    for spec, classifier in classifiers.items():
        p = probs[spec]
        predictions[spec] = p.argmax(axis=1)
        metrics = classification_metrics(labels, p, seed=seed, n_resamples=n_resamples)
        curve = reliability_curve(labels, p)
        latency = _latency(lambda c=classifier: c.predict([first_face]))
        extra = {}
        if posed is not None and posed.any():
            on_posed = classification_metrics(labels[posed], p[posed], seed=seed, n_resamples=n_resamples)
            extra["posed_like"] = {"min_agreement": POSED_LIKE_AGREEMENT, "n": int(posed.sum()),
                                   **{key: getattr(on_posed, key) for key in (
                                       "accuracy", "accuracy_ci", "balanced_accuracy", "macro_f1", "macro_f1_ci")}}
        results.append({
            **_model_record("classifier", spec, classifier),
            "metrics": {**metrics.as_dict(), **extra, "reliability": {
                "confidence": curve.confidence, "accuracy": curve.accuracy, "count": curve.count, "ece": curve.ece}},
            "speed": {"latency_ms": 1000 * latency, "throughput_per_s": len(part) / max(seconds[spec], 1e-9),
                      "batch_size": int(getattr(classifier, "batch_size", 0)) or None, "device": "cpu"},
        })
    for result in results:  # McNemar against every other classifier of this run, on the same faces
        result["metrics"]["mcnemar"] = {
            other: vars(mcnemar(labels, predictions[result["model"]], predictions[other]))
            for other in predictions if other != result["model"]
        }
    return results, probs


def _latency(call: Callable[[], Any]) -> float:
    """Median seconds of one call after a warm-up call."""
    call()
    times = []
    for _ in range(_LATENCY_REPEATS):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


# -- generators --------------------------------------------------------------------------------------
def _drawn(part: Any, n_per_emotion: int, seed: int) -> dict[str, np.ndarray]:
    """The indices of up to ``n_per_emotion`` faces of each emotion of the split, drawn with ``seed``."""
    rng = np.random.default_rng([seed, 1])
    labels = part.labels()
    return {emotion: np.sort(rng.permutation(np.flatnonzero(labels == index))[:n_per_emotion])
            for index, emotion in enumerate(EMOTIONS)}


def _real_faces(part: Any, n_per_emotion: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Up to ``n_per_emotion`` faces of each emotion from the split, drawn with ``seed``."""
    return {emotion: part.images(chosen) if len(chosen) else []
            for emotion, chosen in _drawn(part, n_per_emotion, seed).items()}


def _evaluate_generator(spec: str, generator: Any, judge: Any, part: Any, n_per_emotion: int, seed: int,
                        n_resamples: int, kid_subsets: int, ticker: _Progress) -> dict[str, Any]:
    seeds = np.random.default_rng([seed, 2]).choice(2**31 - 1, size=n_per_emotion, replace=False).tolist()
    generated: dict[str, list[np.ndarray]] = {e: [] for e in EMOTIONS}
    call_seconds = []
    for k, face_seed in enumerate(seeds):
        began = time.perf_counter()
        images = generator.generate(list(EMOTIONS), seed=int(face_seed))
        call_seconds.append(time.perf_counter() - began)
        for emotion, image in zip(EMOTIONS, images):
            generated[emotion].append(np.asarray(image.convert("RGB") if hasattr(image, "convert") else image))
        ticker.advance(1, f"{spec}: generated {k + 1}/{n_per_emotion} faces per emotion")
    real = _real_faces(part, n_per_emotion, seed)
    ticker.advance(1, f"{spec}: judging {len(EMOTIONS) * n_per_emotion} faces")
    metrics = generator_metrics(generated, real, judge, seed=seed, kid_subsets=kid_subsets, n_resamples=n_resamples)
    ticker.advance(1, f"{spec}: scored")
    per_image = [s / len(EMOTIONS) for s in call_seconds]
    return {
        **_model_record("generator", spec, generator),
        "metrics": metrics,
        "seeds": seeds,
        "warnings": generator_warnings(n_per_emotion, real),
        "speed": {"latency_ms": 1000 * statistics.median(per_image),
                  "throughput_per_s": len(EMOTIONS) * len(seeds) / max(sum(call_seconds), 1e-9), "device": "cpu"},
        "_arrays": {"grid": {e: generated[e][:_GRID_SEEDS] for e in EMOTIONS}, "seeds": seeds[:_GRID_SEEDS]},
    }


@dataclass
class _Photos:
    """Whole photos: the detector, its largest face in each photo of the split, eyes levelled or not,
    and the pipeline's photo editor."""

    detector: Any
    faces: list[Any]
    align: bool
    edit_photo: Callable[..., Any]


def _images(part: Any, indices: np.ndarray) -> Iterator[np.ndarray]:
    """The split's images at ``indices``, decoded a chunk at a time."""
    for start in range(0, len(indices), _CHUNK):
        yield from part.images(indices[start:start + _CHUNK])


def _evaluate_editor(spec: str, editor: Any, judge: Any, part: Any, n_per_emotion: int, seed: int,
                     n_resamples: int, ticker: _Progress, features: Any,
                     photos: _Photos | None = None, strength: float = 1.0) -> dict[str, Any]:
    """An editor (a generator that needs a face): up to ``n_per_emotion`` real faces of each
    emotion from the split, each edited to every emotion: the face crops as they are
    (:func:`fexlab.eval.editing.editing_metrics`) or, with ``photos``, the whole photos through the
    detector (:func:`fexlab.eval.editing.photo_editing_metrics`). ``features`` is the realism FID's space;
    every edit is made at ``strength``."""
    from .editing import editing_metrics, photo_editing_metrics

    drawn = _drawn(part, n_per_emotion, seed)
    chosen = np.concatenate(list(drawn.values()))  # grouped by emotion, in EMOTIONS order
    labels = [k for k, emotion in enumerate(EMOTIONS) for _ in drawn[emotion]]
    if not len(chosen):
        raise InputError(f"the {part.name} split has no faces to edit")
    what = "faces" if photos is None else "photos"
    ticker.advance(1, f"{spec}: editing {len(chosen)} {what} into {len(EMOTIONS)} emotions")

    def progress(done: int, total: int) -> None:
        ticker.advance((n_per_emotion + _EDIT_UNITS * len(EMOTIONS) * n_per_emotion) / total,
                       f"{spec}: edited {done}/{total} {what}")

    if strength != 1.0 and "strength" not in editor.options:
        raise InputError(f"{spec} has no strength to set; evaluate it at the editors' strength 1")
    common = {"features": features, "n_resamples": n_resamples, "seed": seed, "progress": progress,
              **({"strength": strength} if "strength" in editor.options else {})}
    if photos is None:
        metrics = editing_metrics(editor, judge, part.images(chosen), labels, **common)
    else:
        metrics = photo_editing_metrics(photos.edit_photo, editor, photos.detector, judge, _images(part, chosen),
                                        [photos.faces[i] for i in chosen], labels, align=photos.align, **common)
    examples, seconds = metrics.pop("examples"), metrics.pop("edit_seconds")
    ticker.advance(1, f"{spec}: scored")
    warnings = _editor_warnings(n_per_emotion, drawn)
    if metrics["n_skipped"]:
        warnings.append(f"{metrics['n_skipped']} of {len(chosen)} {what} were left out, the editor could not edit "
                        f"them: {'; '.join(metrics['skipped'])}")
    edits = metrics["n_faces"] * len(EMOTIONS)
    record = _model_record("editor", spec, editor)
    if strength != 1.0:
        record["model"] = f"{spec} @ strength {strength:g}"
    return {
        **record,
        "edit_strength": strength,
        "metrics": metrics,
        "warnings": warnings,
        "speed": {"latency_ms": 1000 * seconds / max(edits, 1), "throughput_per_s": edits / max(seconds, 1e-9),
                  "device": "cpu", "note": "per edited face, the editor's own time" if photos is None else
                  "per face edited in a photo, finding the face and pasting the edit back included"},
        "_arrays": {"rows": examples},
    }


# -- plots -------------------------------------------------------------------------------------------
def _data_plot(part: Any, folder: Path) -> dict[str, Path]:
    from .plots import class_balance, save_figure

    figure = class_balance(part.class_counts(), title=_title(f"Faces per emotion: {part.name}"))
    return {"data balance": save_figure(figure, folder / "data-balance.png")}


def _model_plots(result: dict[str, Any], arrays: dict[str, Any], folder: Path) -> dict[str, Path]:
    from .plots import confusion_heatmaps, per_class_bars, sample_grid, save_figure

    stem, metrics = slugify(result["model"]), result["metrics"]
    where = f"{result['data']['name']} [{result['data']['split']}]"
    written = {}
    if result["kind"] == "classifier":
        figure = confusion_heatmaps(metrics["confusion"], metrics["confusion_normalized"],
                                    title=_title(f"{result['model']} on {where}"))
        written[f"{result['model']} confusion"] = save_figure(figure, folder / f"{stem}-confusion.png")
    elif result["kind"] == "editor":
        target = metrics["target"]
        figure = confusion_heatmaps(target["confusion"], target["confusion_normalized"],
                                    title=_title(f"{result['model']}'s edits of {where}, judged by {result['judge']}"),
                                    true_label="target emotion", predicted_label="recognised emotion")
        written[f"{result['model']} judge confusion"] = save_figure(figure, folder / f"{stem}-judge-confusion.png")
        recall = metrics["target_recall_vs_real"]
        bars = per_class_bars({"edits to the emotion": {e: {"recall": row["edits"]} for e, row in recall.items()},
                               "real faces of the emotion": {e: {"recall": row["real"]} for e, row in recall.items()}},
                              "recall", title=_title(f"{result['model']} on {where}: the judge's recall per target "
                                                     f"emotion ({result['judge']})"))
        written[f"{result['model']} recall"] = save_figure(bars, folder / f"{stem}-recall.png")
        grid = sample_grid(arrays["rows"], ["input", *EMOTIONS],
                           title=f"{result['model']}: faces of {where} (rows) edited into each emotion")
        written[f"{result['model']} edits"] = save_figure(grid, folder / f"{stem}-edits.png")
    else:
        expression = metrics["expression"]
        figure = confusion_heatmaps(expression["confusion"], expression["confusion_normalized"],
                                    title=_title(f"{result['model']} judged by {result['judge']}"),
                                    true_label="intended emotion", predicted_label="recognised emotion")
        written[f"{result['model']} judge confusion"] = save_figure(figure, folder / f"{stem}-judge-confusion.png")
        grid = sample_grid(arrays["grid"], [f"seed {s}" for s in arrays["seeds"]],
                           title=f"{result['model']}: one seed per column")
        written[f"{result['model']} samples"] = save_figure(grid, folder / f"{stem}-samples.png")
    return written


def _comparison_plots(results: list[dict[str, Any]], folder: Path) -> dict[str, Path]:
    from .plots import per_class_f1, reliability_diagram, save_figure

    where = f"{results[0]['data']['name']} [{results[0]['data']['split']}]"
    f1 = per_class_f1({r["model"]: r["metrics"]["per_class"] for r in results}, title=_title(f"F1 per emotion: {where}"))
    reliability = reliability_diagram({r["model"]: r["metrics"]["reliability"] for r in results})
    return {
        "classifiers F1": save_figure(f1, folder / "classifiers-f1.png"),
        "classifiers reliability": save_figure(reliability, folder / "classifiers-reliability.png"),
    }
