"""Benchmarks of the generating and training side: the synthetic face renderer, the cGAN, the
expression translator (stargan), the editors of whole photos side by side (mesh_warp and stargan
at 1024 px), the Stable Diffusion LoRA generator on the tiny test pipeline, and classifier training steps.

Models without weights on this machine are timed with random weights (speed does not depend on
them). The SD LoRA figure is for the tiny 32x32 pipeline the tests build, which measures the
plugin's overhead and scheduler loop, not what a real Stable Diffusion 1.5 costs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .harness import Row, load_plugin, time_calls
from .inputs import MEDIA

__all__ = ["cgan", "editors", "renderer", "sd_lora", "stargan", "train_classifier"]


def renderer(size: int = 64, n: int = 1000) -> list[Row]:
    """Synthetic FACS-style faces rendered per second (RGB, batches of 256)."""
    from .synthetic_faces import render_speed

    rate = render_speed(size=size, n=n)
    return [Row("synthetic renderer", f"{size}x{size} RGB, {n} faces", rate, "faces/s",
                note="synthetic faces, not photographs")]


def cgan() -> list[Row]:
    """cGAN images per second: the seven emotions of one identity per call, and 64 per call."""
    from fexlab.registry import EMOTIONS

    generator, note = load_plugin("generator", "cgan")
    resolution = generator.config.resolution
    rows = []
    for count in (len(EMOTIONS), 64):
        emotions = [EMOTIONS[i % len(EMOTIONS)] for i in range(count)]
        seeds = iter(range(10**9))
        timing = time_calls(lambda: generator.generate(emotions, seed=next(seeds)), min_calls=5, min_seconds=3.0)
        rows.append(Row("cGAN generate", f"{count} images per call, {resolution}x{resolution}",
                        timing.per_second * count, "images/s", timing.percentile_ms(50), timing.percentile_ms(95),
                        timing.cpu_ms, note=note))
    return rows


def stargan() -> list[Row]:
    """The expression translator: one face crop into the seven emotions per call (the editing
    itself), and a whole photo (detection, alignment, crop, edit, paste-back) beside it."""
    from fexlab.pipeline.editing import edit_photo
    from fexlab.registry import DEFAULT_DETECTOR, EMOTIONS, default_registry

    from .inputs import one_face_images

    editor, note = load_plugin("generator", "stargan")
    size = editor.config.resolution
    face = np.full((size, size, 3), 128, np.uint8)
    emotions = list(EMOTIONS)
    timing = time_calls(lambda: editor.generate(emotions, image=face), min_calls=10, min_seconds=3.0)
    rows = [Row("stargan edit", f"1 face crop x 7 emotions, {size}x{size}", timing.per_second * len(emotions),
                "edits/s", timing.percentile_ms(50), timing.percentile_ms(95), timing.cpu_ms,
                note=f"{timing.percentile_ms(50) / len(emotions):.1f} ms per edited face; {note}")]
    detector = default_registry().detector(DEFAULT_DETECTOR)
    photo = one_face_images()[0]
    timing = time_calls(lambda: edit_photo(photo, editor, detector, emotions), min_calls=3, min_seconds=3.0)
    rows.append(Row("stargan edit photo", f"{Path(photo).name}, 7 emotions, pasted back", timing.per_second,
                    "photos/s", timing.percentile_ms(50), timing.percentile_ms(95), timing.cpu_ms,
                    note=f"{DEFAULT_DETECTOR} detection included; {note}"))
    return rows


def editors(long_side: int = 1024) -> list[Row]:
    """Both shipped editors side by side on one photo of one face (Grace Hopper's) scaled to
    ``long_side`` pixels, one emotion per call: the whole edit (detection, the editor's own
    analysis, the edit, the paste-back), and for mesh_warp the edit alone once the face's mesh is
    known (the warp, the shading, the mouth)."""
    import cv2

    from fexlab.pipeline.editing import edit_photo
    from fexlab.preprocessing.images import load_image
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    from .inputs import EXAMPLES

    photo = load_image(EXAMPLES / "grace_hopper.jpg")
    scale = long_side / max(photo.shape[:2])
    photo = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                       interpolation=cv2.INTER_CUBIC)
    detector = default_registry().detector(DEFAULT_DETECTOR)
    faces = detector.detect(photo)
    size = f"{photo.shape[1]}x{photo.shape[0]} photo, {len(faces)} face(s), 1 emotion"
    rows = []
    for name in ("mesh_warp", "stargan"):
        editor, note = load_plugin("generator", name)
        timing = time_calls(lambda: edit_photo(photo, editor, detector, ["surprise"]), min_calls=5, min_seconds=3.0)
        rows.append(Row(f"edit photo ({name})", size, timing.per_second * len(faces), "faces/s",
                        timing.percentile_ms(50), timing.percentile_ms(95), timing.cpu_ms,
                        note=f"{DEFAULT_DETECTOR} detection included; {note}"))
        if name == "mesh_warp":
            analyses = editor.analyse(photo, faces)
            targets = editor.targets(analyses, "surprise", {})
            timing = time_calls(lambda: editor.edit_analysed(photo, analyses, targets, 1.0), min_calls=10,
                                min_seconds=3.0)
            rows.append(Row("edit face (mesh_warp)", size + ", mesh known", timing.per_second * len(faces), "faces/s",
                            timing.percentile_ms(50), timing.percentile_ms(95), timing.cpu_ms,
                            note="the warp, the shading, the glasses and the bank mouth"))
    return rows


def sd_lora(steps: int = 30) -> list[Row]:
    """Seconds per image of the SD LoRA generator on the tiny pipeline, ``steps`` denoising steps."""
    from fexlab.plugins.sd_lora import SDLoRA
    from tests.sd_tiny import RESOLUTION, write_tiny_base_model

    base = MEDIA / "tiny-sd"
    if not (base / "model_index.json").is_file():
        write_tiny_base_model(base)
    generator = SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION)
    start = time.perf_counter()
    generator.add_lora()
    generator.generate(["happy"], seed=0, steps=2)
    load = time.perf_counter() - start
    seeds = iter(range(1, 10**9))
    timing = time_calls(lambda: generator.generate(["happy"], seed=next(seeds), steps=steps), min_calls=3,
                        min_seconds=3.0, warmup=1)
    return [Row("SD LoRA generate", f"tiny pipeline {RESOLUTION}x{RESOLUTION}, {steps} steps",
                sum(timing.seconds) / len(timing.seconds), "s/image", timing.percentile_ms(50),
                timing.percentile_ms(95), timing.cpu_ms, note=f"tiny test pipeline, not SD 1.5; pipeline load {load:.1f} s")]


def train_classifier(plugins: tuple[str, ...] = ("mini_xception", "convnext"), n: int = 1400) -> list[Row]:
    """Optimizer steps per second of the classifier trainer (batch 64, augmentation on) on
    synthetic faces: the median time between consecutive logged steps, so evaluation and
    checkpoint writing between epochs are not counted."""
    import statistics
    import tempfile

    from fexlab.trainers.classifier import ClassifierTrainConfig, train_classifier

    rows = []
    for plugin in plugins:
        with tempfile.TemporaryDirectory() as folder:
            config = ClassifierTrainConfig(plugin=plugin, data=f"synthetic:n={n},size=64,seed=0", out=folder,
                                           epochs=2, batch_size=64, log_every=1, patience=0)
            train_classifier(config)
            records = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]
        steps = [r for r in records if r.get("split") == "train_step"]
        gaps = [b["time"] - a["time"] for a, b in zip(steps, steps[1:]) if b["step"] == a["step"] + 1]
        rate = 1.0 / statistics.median(gaps) if gaps else None
        rows.append(Row(f"train classifier ({plugin})", f"batch 64, {n} synthetic faces", rate, "steps/s",
                        statistics.median(gaps) * 1000 if gaps else None, note="synthetic faces, augmentation on",
                        extra={"steps_timed": len(gaps)}))
    return rows
