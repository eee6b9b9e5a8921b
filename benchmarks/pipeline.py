"""Benchmarks of the prediction path: whole-image prediction, classification alone, video, and
the app's cold start.

Every classifier the registry lists is timed. One without weights on this machine (a hub model
offline) is timed with its default architecture and random weights, and the row says so: speed
does not depend on the weights, the predictions would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from fexlab.registry.classifier import DEFAULT_CLASSIFIER

from .harness import ROOT, Row, load_plugin, time_calls
from .inputs import face_crops, five_face_image, one_face_images, video_640x480

__all__ = ["app_cold_start", "classify", "classifier_names", "predict_images", "video"]


def classifier_names() -> list[str]:
    """Every installed classifier plugin, as the registry lists it."""
    from fexlab.registry import default_registry

    return default_registry().names("classifier")


def predict_images(name: str) -> list[Row]:
    """``Predictor.predict_image`` from the file (decode, default detector, crop, classify) per image, with the
    one-face photos and the five-face picture."""
    from fexlab.pipeline.predict import Predictor
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    classifier, note = load_plugin("classifier", name)
    predictor = Predictor({name: classifier}, default_registry().detector(DEFAULT_DETECTOR))
    rows = []
    for case, paths, expected in (("1 face", one_face_images(), 1), ("5 faces", [five_face_image()], 5)):
        found = [len(predictor.predict_image(path).faces) for path in paths]
        calls = iter(range(10**9))
        timing = time_calls(lambda: predictor.predict_image(paths[next(calls) % len(paths)]), min_calls=20,
                            min_seconds=4.0)
        found_note = "" if all(n == expected for n in found) else f"faces found {found}, expected {expected}"
        rows.append(Row(f"predict image ({name})", case, timing.per_second, "images/s", timing.percentile_ms(50),
                        timing.percentile_ms(95), timing.cpu_ms, note="; ".join(filter(None, [note, found_note])),
                        extra={"images": [p.name for p in paths], "faces_found": found,
                               "seconds": timing.seconds}))
    return rows


def classify(name: str) -> list[Row]:
    """``Classifier.predict`` alone on real face crops, one at a time and 64 at a time."""
    classifier, note = load_plugin("classifier", name)
    crops = face_crops(64)
    rows = []
    for batch in (1, 64):
        chunks = [crops[i : i + batch] for i in range(0, len(crops), batch)]
        calls = iter(range(10**9))
        timing = time_calls(lambda: classifier.predict(chunks[next(calls) % len(chunks)]), min_calls=10,
                            min_seconds=3.0, warmup=3)
        rows.append(Row(f"classify ({name})", f"batch {batch}", timing.per_second * batch, "faces/s",
                        timing.percentile_ms(50), timing.percentile_ms(95), timing.cpu_ms, note=note,
                        extra={"batch": batch, "seconds": timing.seconds}))
    return rows


def video(name: str = DEFAULT_CLASSIFIER, frames: int = 150) -> list[Row]:
    """``Predictor.predict_video`` over every frame of a 640x480 clip (decoding included)."""
    from fexlab.pipeline.predict import Predictor
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    classifier, note = load_plugin("classifier", name)
    predictor = Predictor({name: classifier}, default_registry().detector(DEFAULT_DETECTOR))
    clip = video_640x480(frames)
    list(predictor.predict_video(clip, max_frames=16))  # warm-up: first decoder and model calls
    best, cpu, faces = float("inf"), 0.0, 0
    for _ in range(2):
        start, cpu_start = time.perf_counter(), time.process_time()
        results = list(predictor.predict_video(clip))
        if time.perf_counter() - start < best:
            best, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        faces = sum(len(frame.faces) for frame in results)
    return [Row(f"video 640x480 ({name})", f"{frames} frames, every frame", frames / best, "frames/s",
                cpu_ms=cpu / frames * 1000, note="; ".join(filter(None, [note, f"{faces} faces in {frames} frames", "best of 2 passes"])),
                extra={"seconds": best, "cores": os.cpu_count()})]


_COLD_START = """
import time, urllib.request, psutil
t0 = psutil.Process().create_time()
from fexlab import app
t_import = time.time()
demo = app.build_demo()
t_build = time.time()
_, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
urllib.request.urlopen(url, timeout=60).read()
t_ready = time.time()
import resource, sys, json
print(json.dumps({"import": t_import - t0, "build": t_build - t_import, "ready": t_ready - t0,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "diffusers_imported": "diffusers" in sys.modules}))
demo.close()
"""


def app_cold_start(repeats: int = 2) -> list[Row]:
    """Seconds from starting a Python process to the app answering its first HTTP request."""
    import json

    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", _COLD_START], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
        line = next((l for l in reversed(done.stdout.splitlines()) if l.startswith("{")), None)
        if line is None:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return [Row("app cold start", "-", None, "s", note=f"failed: {reason[:200]}")]
        runs.append(json.loads(line))
    best = min(runs, key=lambda r: r["ready"])
    note = (f"import {best['import']:.1f} s + build {best['build']:.1f} s + serve; best of {repeats}; "
            f"diffusers imported: {'yes' if best['diffusers_imported'] else 'no'}")
    return [Row("app cold start", "process start to first HTTP response", best["ready"], "s",
                peak_rss_mb=round(max(r["rss"] for r in runs), 1), note=note, extra={"runs": runs})]
