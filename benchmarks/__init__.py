"""fexlab's speed and memory benchmarks: ``make bench`` (``python -m benchmarks``) prints a table
and writes ``benchmarks/results.json`` and ``benchmarks/results.md``; ``make bench-peer`` also
times the fer package on the same images in the same run.

A benchmark is a :class:`~benchmarks.harness.Benchmark` in :func:`all_benchmarks`: a name, a
function returning rows, and the modules it needs, so a capability that has not landed yet is
listed as such instead of failing. Goals are reported in the table, never asserted in tests.
"""

from __future__ import annotations

from functools import partial

from fexlab.registry.classifier import DEFAULT_CLASSIFIER
from fexlab.registry.detector import DEFAULT_DETECTOR

from .harness import Benchmark, Row

__all__ = ["GOALS", "Benchmark", "Row", "all_benchmarks", "goals"]


def all_benchmarks() -> list[Benchmark]:
    """Every benchmark, in the order the table shows them (classifier ones per installed plugin)."""
    from . import analysis, capabilities, detection, face_mesh, pipeline, profile

    benches: list[Benchmark] = []
    for name in pipeline.classifier_names():
        benches.append(Benchmark(f"predict:{name}", partial(pipeline.predict_images, name), ("fexlab.pipeline.predict",),
                                 f"whole-image prediction with {name} and the default detector"))
    for name in pipeline.classifier_names():
        benches.append(Benchmark(f"classify:{name}", partial(pipeline.classify, name), ("fexlab.registry",),
                                 f"{name} on face crops, batch 1 and 64"))
    benches += [
        Benchmark("detect-quality", detection.detection_quality, ("fexlab.registry",),
                  "recall / precision of every detector on real faces pasted at known boxes"),
        Benchmark("detect-speed", detection.detection_speed, ("fexlab.registry",), "each detector alone per frame and photo"),
        Benchmark("false-faces", detection.false_faces, ("fexlab.registry",),
                  "faces each detector reports on title cards, text and drawings with no face"),
        Benchmark("video", pipeline.video, ("fexlab.pipeline.predict",),
                  "every frame of a 640x480 clip, default detector and classifier"),
        Benchmark("profile", profile.profile_rows, ("fexlab.pipeline.predict",),
                  "the prediction path stage by stage: decode, detector passes, tiles, close-ups, NMS, crops, classifier, mesh"),
        Benchmark("face-mesh", face_mesh.mesh_per_face, ("fexlab.plugins.face_mesh",),
                  "the face mesh per face: landmarks, blendshapes, action units, head pose"),
        Benchmark("face-mesh-jitter", face_mesh.mesh_jitter, ("fexlab.plugins.face_mesh", "fexlab.pipeline.predict"),
                  "landmark jitter of the followed mesh on a still clip with and without smoothing, and its lag"),
        Benchmark("video-mesh", face_mesh.mesh_video, ("fexlab.plugins.face_mesh", "fexlab.pipeline.predict"),
                  "every frame of a 640x480 clip with detector, face mesh (tracking) and classifier"),
        Benchmark("analyze", analysis.analyze_engines, ("fexlab.pipeline.analysis",),
                  "fexlab analyze on every frame of a 640x480 clip with the face mesh: local engine and Ray, 1 and 2 workers"),
        Benchmark("app", pipeline.app_cold_start, ("fexlab.app",), "process start to the app's first response"),
        Benchmark("renderer", capabilities.renderer, ("fexlab.preprocessing.synthetic",), "synthetic faces/s"),
        Benchmark("train", capabilities.train_classifier, ("fexlab.trainers.classifier",), "classifier training steps/s"),
        Benchmark("cgan", capabilities.cgan, ("fexlab.plugins.cgan",), "cGAN images/s"),
        Benchmark("stargan", capabilities.stargan, ("fexlab.plugins.stargan", "fexlab.pipeline.editing"),
                  "expression edits/s of one face crop, and whole photos edited and pasted back"),
        Benchmark("editors", capabilities.editors, ("fexlab.plugins.mesh_warp", "fexlab.plugins.stargan", "fexlab.pipeline.editing"),
                  "mesh_warp beside stargan on a one-face 1024 px photo, one emotion per edit"),
        Benchmark("sd_lora", capabilities.sd_lora, ("fexlab.plugins.sd_lora", "diffusers"), "SD LoRA s/image, tiny"),
    ]
    return benches


#: (what, benchmark, case, unit, target): a row's value must reach ``target``. The fer goal is a
#: ratio of fexlab's images/s to the fer package's on the same images.
GOALS = [
    (f"default pipeline ({DEFAULT_DETECTOR} + {DEFAULT_CLASSIFIER}) >= 5x the fer package's images/s (1 face)",
     f"predict image ({DEFAULT_CLASSIFIER})", "1 face", "x fer", 5.0),
    (f"default pipeline ({DEFAULT_DETECTOR} + {DEFAULT_CLASSIFIER}) >= 4x the fer package's images/s (5 faces)",
     f"predict image ({DEFAULT_CLASSIFIER})", "5 faces", "x fer", 4.0),
    ("mini_xception pipeline >= 5x the fer package's images/s (1 face)", "predict image (mini_xception)", "1 face",
     "x fer", 5.0),
    ("mini_xception pipeline >= 4x the fer package's images/s (5 faces)", "predict image (mini_xception)", "5 faces",
     "x fer", 4.0),
    ("default pipeline video >= 300 frames/s at 640x480, every frame", f"video 640x480 ({DEFAULT_CLASSIFIER})", None,
     "frames/s", 300.0),
    ("default pipeline video with the face mesh >= 100 frames/s at 640x480, one face",
     f"video 640x480 + face mesh ({DEFAULT_CLASSIFIER})", None, "frames/s", 100.0),
    ("fexlab analyze: an hour of 640x480 video with the face mesh in <= 15 min (120 frames/s)",
     "analyze 640x480 + face mesh (local, 2 workers)", None, "frames/s", 120.0),
    ("default detector < 5 ms per 640x480 frame", f"detect ({DEFAULT_DETECTOR})", "640x480 frame, 1 face", "ms", 5.0),
    ("default detector: 0 faces on no-face media", f"false faces ({DEFAULT_DETECTOR})", None, "faces", 0.0),
    ("mini-Xception >= 1000 faces/s at batch 64", "classify (mini_xception)", "batch 64", "faces/s", 1000.0),
    # 50 ms per edited face: 7 emotions per call in under 350 ms, i.e. at least 20 edits/s
    ("stargan edit < 50 ms per face on the CPU", "stargan edit", None, "edits/s", 20.0),
    # 100 ms per edit of a 1024 px photo's face, detection and the face's mesh included: 10 faces/s
    ("mesh_warp < 100 ms per face edit at a 1024 px photo", "edit photo (mesh_warp)", None, "faces/s", 10.0),
    ("app cold start <= 3 s", "app cold start", None, "s", 3.0),
]


def goals(rows: list[Row]) -> list[dict]:
    """Each goal with the measured figure and met / missed / not measured."""

    def find(benchmark: str, case: str | None) -> Row | None:
        return next((r for r in rows if r.benchmark == benchmark and (case is None or r.case == case)
                     and r.value is not None), None)

    out = []
    for what, benchmark, case, unit, target in GOALS:
        row = find(benchmark, case)
        value = row.value if row else None
        if unit == "x fer" and value is not None:
            peer = find("fer package FER().detect_emotions", case)
            value = value / peer.value if peer else None
        lower_is_better = unit in ("ms", "s", "faces")
        status = "not measured" if value is None else (
            "met" if (value <= target if lower_is_better else value >= target) else "missed")
        out.append({"goal": what, "measured": None if value is None else round(value, 2), "unit": unit,
                    "target": target, "status": status})
    return out
