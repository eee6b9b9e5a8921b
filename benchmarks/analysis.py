"""``fexlab analyze`` on a 640x480 clip: the local engine beside the Ray engine, in one run.

Every frame of a 3-minute clip of one face, the default detector and, with the face mesh, the
default classifier (``ensemble.geometry``), from the MP4 on disk to the Parquet part written, with
each engine's default ranges. The whole run is timed: worker processes or actors started and their
models loaded included (for Ray, starting the local Ray itself is reported apart). From the frames
per second comes the cost of an hour of 30 frames/s video.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from .harness import Row
from .inputs import video_640x480

__all__ = ["analyze_engines"]

HOUR = 3600 * 30  # frames in an hour of 30 frames/s video


def analyze_engines(frames: int = 5400) -> list[Row]:
    from fexlab.pipeline.analysis import Analysis, AnalysisSettings, analyze_local
    from fexlab.registry.onnx_runtime import cores

    clip = str(video_640x480(frames))
    settings = AnalysisSettings(analyzers=("face_mesh",))
    out = Path(tempfile.mkdtemp(prefix="fexlab-bench-analyze-"))

    def timed(run) -> float:
        start = time.perf_counter()
        outcome = run(Analysis(out / str(len(list(out.iterdir()))), settings), [clip])
        assert outcome == {clip: None}, outcome
        return time.perf_counter() - start

    rows = []
    try:
        for workers in (1, cores()):
            seconds = timed(lambda analysis, paths: analyze_local(analysis, paths, workers=workers))
            how = "in the driver process" if workers == 1 else f"{workers} worker processes"
            rows.append(_row(f"local, {workers} worker{'s' if workers > 1 else ''}", frames, seconds, how,
                             settings.classifiers[0]))
        rows += _ray_rows(timed, frames, settings.classifiers[0])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return rows


def _ray_rows(timed, frames: int, classifier: str) -> list[Row]:
    try:
        import ray
    except ImportError:
        return [Row("analyze 640x480 + face mesh (ray)", "not installed", None, "frames/s",
                    note="pip install 'fexlab[ray]'")]
    from fexlab.pipeline.analysis_ray import analyze_ray

    rows = []
    for workers in (1, 2):
        begin = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        started = time.perf_counter() - begin
        try:
            seconds = timed(lambda analysis, paths: analyze_ray(analysis, paths, workers=workers))
        finally:
            ray.shutdown()
        rows.append(_row(f"ray, {workers} worker{'s' if workers > 1 else ''}", frames, seconds,
                         f"starting the local Ray took {started:.1f} s more", classifier))
    return rows


def _row(engine: str, frames: int, seconds: float, how: str, classifier: str) -> Row:
    rate = frames / seconds
    return Row(f"analyze 640x480 + face mesh ({engine})", f"{frames} frames, every frame", rate, "frames/s",
               note=f"an hour of 30 frames/s video in {HOUR / rate / 60:.1f} min; {classifier}; {how}; workers and "
                    "models started in the run",
               extra={"seconds": seconds, "classifier": classifier})
