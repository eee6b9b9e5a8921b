"""Face analysis benchmarks: the face mesh per face, and 640x480 video with detector + mesh + classifier.

Per face: ``FaceMesh.analyze`` on each example photo's face (region, 256 px crop, landmarks,
blendshapes, action units, head pose), with ``refine`` (two landmark passes, the default for a
detection) and as tracking runs it (``follow``: one pass in the previous mesh's region). Video:
``Predictor.predict_video`` over every frame of the 640x480 clip with the default detector, the
face mesh (following faces, the detector only when one is lost) and the default classifier.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from fexlab.registry.classifier import DEFAULT_CLASSIFIER

from .harness import Row, load_plugin, time_calls
from .inputs import one_face_images, video_640x480

__all__ = ["mesh_jitter", "mesh_per_face", "mesh_video"]


def mesh_per_face() -> list[Row]:
    """Milliseconds per face of the face mesh, detection region (refined) and tracking region."""
    from fexlab.plugins.face_mesh.region import region_from_face, region_from_mesh
    from fexlab.preprocessing.images import load_image
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    registry = default_registry()
    analyzer, detector = registry.analyzer("face_mesh"), registry.detector(DEFAULT_DETECTOR)
    cases = []
    for path in one_face_images():
        image = load_image(path)
        face = detector.detect(image)[0]
        cases.append((image, face, region_from_mesh(analyzer.analyze(image, [face])[0]["mesh"])))
    rows = []
    for case, call in (
        ("detected face: region, landmarks x2 (refine), blendshapes, AUs, pose",
         lambda: [analyzer.analyze_region(image, region_from_face(face), refine=True) for image, face, _ in cases]),
        ("followed face: region from last mesh, landmarks, blendshapes, AUs, pose",
         lambda: [analyzer.analyze_region(image, region) for image, _, region in cases]),
    ):
        timing = time_calls(call, min_calls=20, min_seconds=2.0)
        per_face = [s / len(cases) for s in timing.seconds]
        rows.append(Row("face mesh per face", case, sum(per_face) / len(per_face) * 1000, "ms",
                        sorted(per_face)[len(per_face) // 2] * 1000, None, timing.cpu_ms / len(cases),
                        note=f"{len(cases)} example photos, one LiteRT thread"))
    return rows


def mesh_video(name: str = DEFAULT_CLASSIFIER, frames: int = 150) -> list[Row]:
    """Frames per second of detector + face mesh (tracking) + classifier over a 640x480 clip."""
    from fexlab.pipeline.predict import Predictor
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    registry = default_registry()
    classifier, note = load_plugin("classifier", name)
    detector = registry.detector(DEFAULT_DETECTOR)
    calls = {"n": 0}
    detect = detector.detect

    def counted(image):
        calls["n"] += 1
        return detect(image)

    detector.detect = counted
    try:
        predictor = Predictor({name: classifier}, detector, analyzers=[registry.analyzer("face_mesh")], redetect=0)
        clip = video_640x480(frames)
        list(predictor.predict_video(clip, max_frames=16))
        best, cpu, faces, detections = float("inf"), 0.0, 0, 0
        for _ in range(2):
            calls["n"] = 0
            start, cpu_start = time.perf_counter(), time.process_time()
            results = list(predictor.predict_video(clip))
            if time.perf_counter() - start < best:
                best, cpu = time.perf_counter() - start, time.process_time() - cpu_start
                faces, detections = sum(len(frame.faces) for frame in results), calls["n"]
    finally:
        del detector.detect
    return [Row(f"video 640x480 + face mesh ({name})", f"{frames} frames, every frame", frames / best, "frames/s",
                cpu_ms=cpu / frames * 1000,
                note="; ".join(filter(None, [note, f"{faces} faces in {frames} frames", f"detector ran on {detections}",
                                             "best of 2 passes"])),
                extra={"seconds": best, "cores": os.cpu_count()})]


def _followed(predictor: Any, frames: list[np.ndarray], smoothing: float) -> list[dict[str, Any]]:
    """The first face's analysis in each frame, the face followed from the first frame on."""
    from fexlab.pipeline.predict import FaceFollower

    follower = FaceFollower.of(predictor, smoothing=smoothing)
    return [follower.step(frame)[0][1] for frame in frames]


def mesh_jitter(frames: int = 60, noise: float = 2.0, speed: int = 2) -> list[Row]:
    """Landmark jitter of the followed face mesh on a still clip, with and without smoothing.

    The still clip: each example photo repeated ``frames`` times with seeded camera noise
    (Gaussian, ``noise`` grey levels), as a webcam sees a still face. Jitter: each landmark's
    spread over time (RMS distance to its mean position), averaged over the 478 landmarks, in
    percent of the face's width; and the blendshapes' mean standard deviation. The price of
    smoothing is lag: on the same photo moving ``speed`` pixels a frame, how far the mesh's
    centre stays behind the face (pixels, after the first 10 frames). Lower is better throughout.
    """
    import cv2

    from fexlab.pipeline.predict import Predictor
    from fexlab.preprocessing.images import load_image
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    registry = default_registry()
    predictor = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector(DEFAULT_DETECTOR),
                          analyzers=[registry.analyzer("face_mesh")], redetect=0)
    rng = np.random.default_rng(0)
    photos = [load_image(path) for path in one_face_images()]
    stills = [[np.clip(photo + rng.normal(0, noise, photo.shape), 0, 255).astype(np.uint8) for _ in range(frames)]
              for photo in photos]
    moving = [[cv2.warpAffine(photo, np.float32([[1, 0, speed * t], [0, 1, 0]]), photo.shape[1::-1],
                              borderMode=cv2.BORDER_REPLICATE) for t in range(frames)] for photo in photos]
    rows = []
    for smoothing in (0.0, 0.5, 0.8):
        spread, shapes, lag = [], [], []
        for clip, motion in zip(stills, moving):
            analyses = _followed(predictor, clip, smoothing)
            meshes = np.stack([np.asarray(a["mesh"])[:, :2] for a in analyses])
            width = float(np.ptp(meshes[0][:, 0]))
            spread.append(np.sqrt(((meshes - meshes.mean(axis=0)) ** 2).sum(axis=2).mean(axis=0)).mean() / width * 100)
            scores = np.array([[a["blendshapes"][name] for name in sorted(a["blendshapes"])] for a in analyses])
            shapes.append(scores.std(axis=0).mean())
            centres = np.array([np.asarray(a["mesh"])[:, 0].mean() for a in _followed(predictor, motion, smoothing)])
            lag.append(np.abs(centres - (centres[0] + speed * np.arange(frames)))[10:].mean())
        rows.append(Row("face mesh jitter", f"still face, smoothing {smoothing}", float(np.mean(spread)),
                        "% face width", note=f"blendshape std {np.mean(shapes):.4f}; lag {np.mean(lag):.1f} px on a "
                        f"face moving {speed} px/frame; {len(photos)} photos x {frames} frames, camera noise "
                        f"{noise} grey levels; lower is better",
                        extra={"blendshape_std": float(np.mean(shapes)), "lag_px": float(np.mean(lag))}))
    return rows
