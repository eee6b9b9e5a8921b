"""The Ray engine of ``fexlab analyze``: the same analysis spread over the workers of a Ray cluster.

Each worker is a Ray actor that loads the models once (``analysis.RangeWorker``) and analyses one
photo or one range of a video's frames at a time (``analysis.frame_ranges``); the driver
(``analysis.analyze_ranges``, as for the local engine's processes) keeps every worker busy, and
when the last range of an input comes back it writes the input's part from the ranges in frame
order, so tracks run across ranges and the rows are those of the local engine.
A worker that dies (a killed process, a lost machine) is restarted by Ray and its range is tried
again; a range that keeps killing its worker makes its input an ``error`` row, and a rerun redoes it.

Ray is an optional extra: ``pip install 'fexlab[ray]'``. Without ``address`` a local Ray is started
for the run with ``workers`` CPUs (default: this machine's cores) and stopped after it; with one
(``auto``, ``ray://host:10001``) the run joins that cluster, whose machines each need fexlab
installed, at the same version, and the inputs at the same paths.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

from fexlab.registry import InputError
from fexlab.registry.onnx_runtime import cores

from .analysis import (
    FRAMES_PER_RANGE,
    Analysis,
    AnalysisSettings,
    FileDone,
    FramesDone,
    RangeResult,
    RangeWorker,
    analyze_ranges,
)

__all__ = ["RAY_INSTALL", "RayWorkers", "analyze_ray", "require_ray"]

RAY_INSTALL = "pip install 'fexlab[ray]'"
#: How many times Ray tries a range again after its worker died.
RETRIES = 2


def require_ray() -> Any:
    """The ray module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


def analyze_ray(analysis: Analysis, paths: Sequence[str], *, address: str | None = None, workers: int | None = None,
                frames_per_range: int = FRAMES_PER_RANGE, on_frames: FramesDone | None = None,
                on_file: FileDone | None = None) -> dict[str, str | None]:
    """Analyse the inputs of ``paths`` not finished yet on Ray workers (one CPU each); path -> None
    when done, else its error. ``files.parquet`` is written at the end, also when interrupted."""
    ray = require_ray()
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    with analysis.run(paths) as (todo, outcomes):
        started = bool(todo) and not ray.is_initialized()
        try:
            if todo:
                if started:
                    _start(ray, address, workers)
                count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
                analyze_ranges(analysis, todo, RayWorkers(ray, analysis.settings, count), frames_per_range,
                               outcomes, on_frames, on_file)
        finally:
            if started:
                ray.shutdown()
    return {path: outcomes[path] for path in paths if path in outcomes}


def _start(ray: Any, address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``, or start a local Ray with ``workers`` CPUs for this run."""
    if address:
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except ConnectionError as error:
            raise InputError(f"no Ray cluster answers at {address} ({error}); "
                             "start one with `ray start --head`") from None
        return
    ray.init(num_cpus=workers or cores(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")


class RayWorkers:
    """``count`` Ray actors, each a :class:`~fexlab.pipeline.analysis.RangeWorker` on one CPU, for
    :func:`~fexlab.pipeline.analysis.analyze_ranges`. Ray restarts an actor whose process died and
    runs its ranges again, up to :data:`RETRIES` times."""

    def __init__(self, ray: Any, settings: AnalysisSettings, count: int):
        self.ray = ray
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=RETRIES,
                           runtime_env={"env_vars": {"FEXLAB_THREADS": "1"}})(RangeWorker)
        self.actors = [actor.remote(settings) for _ in range(count)]
        self.flight: dict[Any, Any] = {}  # object ref -> its actor

    def __len__(self) -> int:
        return len(self.actors)

    def submit(self, path: str, start: int, stop: int | None) -> Any:
        busy = collections.Counter(self.flight.values())
        actor = min(self.actors, key=lambda a: busy[a])
        ref = actor.run.remote(path, start, stop)
        self.flight[ref] = actor
        return ref

    def wait(self) -> tuple[Any, RangeResult]:
        from ray.exceptions import RayError

        [ref], _ = self.ray.wait(list(self.flight), num_returns=1)
        del self.flight[ref]
        try:
            return ref, self.ray.get(ref)
        except RayError as error:
            return ref, (None, 0, f"the worker analysing it stopped {RETRIES + 1} times ({type(error).__name__}); "
                                  "run again to redo it")

    def cancel(self) -> None:
        for ref in self.flight:
            self.ray.cancel(ref, force=True)
        self.flight.clear()
