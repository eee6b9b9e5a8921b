"""``fexlab analyze`` on a 640x480 clip: the local engine beside the Ray engine, in one run.

Every frame, default detector and classifier with the face mesh (tracking), from the MP4 on disk
to the Parquet part written. The Ray rows start a local Ray first (its start is its own row) and
then time the run itself: workers started, models loaded, every range analysed and the part
written. From the frames per second comes the cost of an hour of 30 frames/s video.
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


def _hour(frames_per_second: float) -> str:
    return f"an hour of 30 frames/s video in {HOUR / frames_per_second / 60:.1f} min"


def analyze_engines(frames: int = 1800) -> list[Row]:
    from fexlab.pipeline.analysis import Analysis, AnalysisSettings, analyze_local
    from fexlab.registry.onnx_runtime import cores

    clip = str(video_640x480(frames))
    settings = AnalysisSettings(analyzers=("face_mesh",))
    rows, out = [], Path(tempfile.mkdtemp(prefix="fexlab-bench-analyze-"))
    try:
        def timed(run) -> float:
            folder = out / str(len(list(out.iterdir())))
            start = time.perf_counter()
            outcome = run(Analysis(folder, settings), [clip])
            assert outcome == {clip: None}, outcome
            return time.perf_counter() - start

        for workers in (1, cores()):
            seconds = timed(lambda analysis, paths: analyze_local(analysis, paths, workers=workers,
                                                                  frames_per_range=240))
            start = _pool_start(settings, workers)
            how = "in the driver process" if workers == 1 else f"{workers} worker processes, ranges of 240 frames"
            rows.append(_row(f"local, {workers} worker{'s' if workers > 1 else ''}", frames, seconds, start, how))
        rows += _ray_rows(timed, frames)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return rows


def _ray_rows(timed, frames: int) -> list[Row]:
    try:
        import ray
    except ImportError:
        return [Row("analyze 640x480 + face mesh (ray)", "not installed", None, "frames/s",
                    note="pip install 'fexlab[ray]'")]
    from fexlab.pipeline.analysis import AnalysisSettings
    from fexlab.pipeline.analysis_ray import RayWorkers, analyze_ray

    rows = []
    for workers in (1, 2):
        begin = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        started = time.perf_counter() - begin
        try:
            seconds = timed(lambda analysis, paths: analyze_ray(analysis, paths, workers=workers,
                                                                frames_per_range=240))
            begin = time.perf_counter()
            actors = RayWorkers(ray, AnalysisSettings(analyzers=("face_mesh",)), workers).actors
            ray.get([actor.__ray_ready__.remote() for actor in actors])
            start = time.perf_counter() - begin
        finally:
            ray.shutdown()
        rows.append(_row(f"ray, {workers} worker{'s' if workers > 1 else ''}", frames, seconds, start,
                         f"ranges of 240 frames; starting the local Ray took {started:.1f} s more"))
    return rows


def _pool_start(settings, workers: int) -> float:
    """Seconds to start ``workers`` worker processes with their models (0 for the driver alone)."""
    if workers == 1:
        return 0.0
    from fexlab.pipeline.analysis_pool import ProcessWorkers

    begin = time.perf_counter()
    with ProcessWorkers(settings, workers):
        return time.perf_counter() - begin


def _row(engine: str, frames: int, seconds: float, start: float, how: str) -> Row:
    """A row of the whole run's frames/s, with the rate once the workers are up and what an hour costs at it."""
    steady = frames / max(seconds - start, 1e-9)
    return Row(f"analyze 640x480 + face mesh ({engine})", f"{frames} frames, every frame", frames / seconds,
               "frames/s", note=f"{steady:.1f} frames/s once the workers are up ({start:.1f} s to start them and "
                                f"load their models): {_hour(steady)}; {how}",
               extra={"seconds": seconds, "start_seconds": start, "steady_frames_per_second": steady})
