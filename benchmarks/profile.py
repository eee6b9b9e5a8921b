"""Where the time of one prediction of the default pipeline goes, stage by stage: decoding, the
detector (YuNet: resized copies, the network call, decoding and NMS; BlazeFace: each pass, tiles,
close-ups), the crops, the classifier's input batch and network, and the face mesh when asked.

The stages are timed by wrapping the functions that do them (only for this run, then restored),
so the prediction path runs exactly as it does in the app and the CLI; a stage the code does not
have (an older or newer version of it) is simply absent from the table. Times are milliseconds
per image or frame, averaged over every call; a nested stage is part of the one above it, and
"other" is the call's time outside the listed top-level stages. The frames of a video batch and
the tiles of a photo run in parallel threads: a stage in them is timed in each thread (as part of
the stage the calling thread is in) and summed, so it can exceed the stage around it.

    python -m benchmarks --only profile          # rows in results.md, like any benchmark
    python -m benchmarks.profile --save now.json # the table, and its figures for a later comparison
    python -m benchmarks.profile --before old.json --after now.json   # before -> after, side by side
    python -m benchmarks.profile --before old.json --after benchmarks/results.json   # after: a `make bench` run
"""

from __future__ import annotations

import argparse
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .harness import Row
from .inputs import five_face_image, large_photo, one_face_images, video_640x480

__all__ = ["StageClock", "profile", "profile_rows", "stage_table"]


class StageClock:
    """Inclusive time and calls per stage path ("detect > tiles > interpreter (full)")."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attribute: str, label: str | Callable[..., str]) -> None:
        """Time every call of ``owner.attribute`` (a module's function, a class's method or an
        object's bound method) as the stage ``label`` (or ``label(*args)``); absent: nothing."""
        original = getattr(owner, attribute, None)
        if original is None:
            return
        clock = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = clock._stack()
            stack.append(label(*args, **kwargs) if callable(label) else label)
            key = " > ".join(clock._local.base + stack)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                stack.pop()
                with clock._lock:
                    clock.seconds[key] = clock.seconds.get(key, 0.0) + elapsed
                    clock.calls[key] = clock.calls.get(key, 0) + 1

        self._undo.append((owner, attribute, owner.__dict__.get(attribute) if hasattr(owner, "__dict__") else original))
        setattr(owner, attribute, timed)

    def _stack(self) -> list[str]:
        """This thread's open stages; a worker thread's outermost call is placed inside the stage
        the main thread is in (the tiles it was handed)."""
        local = self._local
        if not hasattr(local, "stack"):
            local.stack, local.base = [], []
            if threading.current_thread() is threading.main_thread():
                self._main = local.stack
        if not local.stack and threading.current_thread() is not threading.main_thread():
            local.base = list(getattr(self, "_main", []))
        return local.stack

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            if original is None:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        self._undo.clear()


def _model_label(what: str) -> Callable[..., str]:
    """A label naming the BlazeFace model a method runs ("interpreter (short)")."""

    def label(self: Any, *args: Any, model: str | None = None, **kwargs: Any) -> str:
        model = model or next((a for a in args if isinstance(a, str)), None) or self.config.model
        return f"{what} ({model})"

    return label


@contextmanager
def instrumented(predictor: Any) -> Iterator[StageClock]:
    """``predictor``'s prediction path with every stage timed, for the duration of the block."""
    from fexlab.pipeline import predict
    from fexlab.plugins.detectors.blazeface import plugin as blazeface
    from fexlab.plugins.detectors.yunet import plugin as yunet
    from fexlab.registry.classifier import Classifier

    clock = StageClock()
    clock.wrap(predict, "load_image_scaled", "decode: file to RGB (EXIF, scaling)")
    clock.wrap(predictor.detector, "detect", "detect")
    detector_class = blazeface.BlazeFace
    for attribute, label in (("_pass", _model_label("pass")), ("_tile_pass", "tiles"),
                             ("_close_ups", "close-up pass"), ("raw_outputs", _model_label("interpreter call"))):
        clock.wrap(detector_class, attribute, label)
    for attribute, label in (("letterbox", "letterbox (pad, resize, to float)"), ("decode", "decode outputs"),
                             ("weighted_nms", "weighted NMS"), ("_drop_nested", "drop nested faces")):
        clock.wrap(blazeface, attribute, label)
    clock.wrap(yunet.YuNet, "raw_outputs", "YuNet network call (pad, to float, ONNX Runtime)")
    for attribute, label in (("_resized", "resized copy of the image"), ("_bgr", "to BGR"),
                             ("decode", "decode outputs and NMS")):
        clock.wrap(yunet, attribute, label)
    clock.wrap(Classifier, "to_array", "input batch (resize, gray, normalise)")
    pyramid = getattr(blazeface, "Pyramid", None)  # one resized copy per size, shared by the passes
    if pyramid is not None:
        clock.wrap(pyramid, "scaled", "resized copy of the image")
        clock.wrap(pyramid, "square", "whole image letterboxed (uint8)")
    for name, analyzer in predictor.analyzers.items():
        clock.wrap(analyzer, "analyze", f"analyzer {name}")
        clock.wrap(analyzer, "follow", f"analyzer {name} (following)")
    clock.wrap(predict, "classifier_crop", "crops")
    for name, classifier in predictor.classifiers.items():
        clock.wrap(classifier, "predict", f"classifier {name}")
    try:
        yield clock
    finally:
        clock.restore()


def _cases() -> list[tuple[str, str, list[Any], bool]]:
    """(case, kind, inputs, with the face mesh)."""
    photos = one_face_images()
    return [
        ("example photos", "image", photos, False),
        ("5 faces, 1024x768", "image", [five_face_image()], False),
        ("photo 4032x3024, 2 faces", "image", [large_photo()], False),
        ("video 640x480, per frame", "video", [video_640x480(150)], False),
        ("example photos + face mesh", "image", photos, True),
        ("video 640x480 + face mesh, per frame", "video", [video_640x480(150)], True),
    ]


def profile(min_seconds: float = 3.0) -> dict[str, dict[str, list[float]]]:
    """case -> stage path -> [ms per image or frame, calls per image or frame], "total" included."""
    from fexlab.pipeline.predict import Predictor
    from fexlab.registry import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, default_registry

    registry = default_registry()
    classifier = registry.classifier(DEFAULT_CLASSIFIER)
    detector = registry.detector(DEFAULT_DETECTOR)
    out: dict[str, dict[str, list[float]]] = {}
    for case, kind, inputs, mesh in _cases():
        analyzers = [registry.analyzer("face_mesh")] if mesh else []
        predictor = Predictor({DEFAULT_CLASSIFIER: classifier}, detector, analyzers=analyzers)
        if kind == "image":
            def call(k: int, predictor: Any = predictor, inputs: list = inputs) -> int:
                predictor.predict_image(inputs[k % len(inputs)])
                return 1
        else:
            def call(k: int, predictor: Any = predictor, inputs: list = inputs) -> int:
                return len(list(predictor.predict_video(inputs[0])))
        for k in range(2):  # warm-up: interpreters, first model calls
            call(k)
        with instrumented(predictor) as clock:
            done, calls, start = 0, 0, time.perf_counter()
            while calls < (10 if kind == "image" else 2) or time.perf_counter() - start < min_seconds:
                done += call(calls)
                calls += 1
            total = time.perf_counter() - start
        stages = {"total": [total / done * 1000, 1.0]}
        stages.update({key: [seconds / done * 1000, clock.calls[key] / done] for key, seconds in clock.seconds.items()})
        top = sum(ms for key, (ms, _) in stages.items() if key != "total" and " > " not in key)
        stages["other"] = [max(0.0, stages["total"][0] - top), 0.0]
        out[case] = stages
    return out


def _order(figures: list[dict[str, dict[str, list[float]]]]) -> list[str]:
    """Stage paths in a readable order: total first, each stage followed by the stages inside it."""
    keys: list[str] = []
    for by_case in figures:
        for stages in by_case.values():
            keys += [key for key in stages if key not in keys]
    tops = [k for k in keys if " > " not in k and k not in ("total", "other")]
    ordered = ["total"]

    def visit(path: str) -> None:
        ordered.append(path)
        for key in keys:
            if key.startswith(path + " > ") and key.count(" > ") == path.count(" > ") + 1:
                visit(key)

    for key in tops:
        visit(key)
    return ordered + ["other"]


def _cell(entry: list[float] | None) -> str:
    if entry is None:
        return "-"
    ms, calls = entry
    text = f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"
    return text + (f" ({calls:.3g} calls)" if calls and abs(calls - 1) > 1e-6 else "")


def stage_table(after: dict[str, dict[str, list[float]]], before: dict[str, dict[str, list[float]]] | None = None) -> str:
    """A Markdown table: one row per stage, one column per case, ms per image or frame (with
    calls per image or frame where not one); with ``before``, each cell reads "before -> after"."""
    cases = list(after) + [c for c in (before or {}) if c not in after]
    lines = ["| stage | " + " | ".join(cases) + " |", "|---|" + "---|" * len(cases)]
    for key in _order([after] + ([before] if before else [])):
        name = ("&nbsp;&nbsp;" * key.count(" > ")) + key.split(" > ")[-1]
        cells = []
        for case in cases:
            now = _cell(after.get(case, {}).get(key))
            cells.append(f"{_cell((before.get(case) or {}).get(key))} → {now}" if before is not None else now)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def profile_rows() -> list[Row]:
    """The profile as benchmark rows: one per case and stage, ms per image or frame."""
    rows = []
    for case, stages in profile().items():
        for key in _order([{case: stages}]):
            ms, calls = stages[key]
            rows.append(Row(f"profile: {case}", key, ms, "ms", note=f"{calls:.3g} calls per image" if calls else ""))
    return rows


def _figures(saved: dict) -> dict[str, dict[str, list[float]]]:
    """The profile in a file this module saved (``--save``), or in a benchmark run's
    ``results.json`` (its "profile: CASE" rows), as {case: {stage: [ms, calls]}}."""
    if "profile" in saved:
        return saved["profile"]
    figures: dict[str, dict[str, list[float]]] = {}
    for row in saved.get("rows", []):
        if row["benchmark"].startswith("profile: ") and row["value"] is not None:
            note = row.get("note") or ""
            calls = float(note.split(" calls")[0]) if " calls per image" in note else 0.0
            figures.setdefault(row["benchmark"][len("profile: "):], {})[row["case"]] = [row["value"], calls]
    return figures


def _best(files: list[Path]) -> dict[str, dict[str, list[float]]]:
    """The least time of each cell over several saved runs (alternating runs: the least disturbed)."""
    runs = [_figures(json.loads(Path(f).read_text())) for f in files]
    best: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for case, stages in run.items():
            for key, (ms, calls) in stages.items():
                cell = best.setdefault(case, {}).get(key)
                if cell is None or ms < cell[0]:
                    best[case][key] = [ms, calls]
    return best


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="also write the figures (JSON) here")
    parser.add_argument("--before", type=Path, nargs="+", help="saved figures of the old code (the least of several)")
    parser.add_argument("--after", type=Path, nargs="+",
                        help="saved figures, or a benchmark run's results.json, to compare with (default: measure now)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time each case at least this long")
    args = parser.parse_args(argv)
    figures = _best(args.after) if args.after else profile(args.seconds)
    if args.save:
        args.save.write_text(json.dumps({"load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                         "profile": figures}, indent=1) + "\n")
    print(stage_table(figures, _best(args.before) if args.before else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
