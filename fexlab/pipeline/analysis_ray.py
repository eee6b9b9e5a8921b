"""The Ray engine of ``fexlab analyze``: the same analysis spread over the workers of a Ray cluster.

Each worker is a Ray actor that loads the models once (:class:`AnalysisWorker`) and analyses one
photo or one range of a video's frames at a time (``analysis.frame_ranges``); the driver keeps
every worker busy, and when the last range of an input comes back it writes the input's part from
the ranges in frame order, so tracks run across ranges and the rows are those of the local engine.
A worker that dies (a killed process, a lost machine) is restarted by Ray and its range is tried
again; a range that keeps killing its worker makes its input an ``error`` row, and a rerun redoes it.

Ray is an optional extra: ``pip install 'fexlab[ray]'``. Without ``address`` a local Ray is started
for the run with ``workers`` CPUs (default: this machine's cores) and stopped after it; with one
(``auto``, ``ray://host:10001``) the run joins that cluster, whose machines each need fexlab
installed, at the same version, and the inputs at the same paths.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Sequence
from typing import Any

from fexlab.registry import InputError
from fexlab.registry.onnx_runtime import cores

from .analysis import Analysis, AnalysisSettings, FaceTable, FileDone, FramesDone, analyze_file, frame_ranges, one_line

__all__ = ["RAY_INSTALL", "AnalysisWorker", "analyze_ray", "require_ray"]

RAY_INSTALL = "pip install 'fexlab[ray]'"
#: How many times Ray tries a range again after its worker died.
RETRIES = 2


class AnalysisWorker:
    """A worker's models, loaded once; :meth:`run` analyses one photo or video range."""

    def __init__(self, settings: AnalysisSettings):
        self.settings = settings
        self.predictor = settings.predictor()
        self.table = FaceTable.of(self.predictor)

    def run(self, path: str, start: int, stop: int | None) -> tuple[Any, int, str | None]:
        """(rows, frames analysed, None), or (None, 0, the one-line error)."""
        import pyarrow as pa

        try:
            chunks = list(analyze_file(self.predictor, self.table, path, every=self.settings.every,
                                       start=start, stop=stop))
        except Exception as error:  # noqa: BLE001 - the input becomes an error row; the run goes on
            return None, 0, one_line(error)
        rows = pa.concat_tables([rows for rows, _ in chunks]) if chunks else self.table.rows(path, [])
        return rows, sum(frames for _, frames in chunks), None


def require_ray() -> Any:
    """The ray module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


def analyze_ray(analysis: Analysis, paths: Sequence[str], *, address: str | None = None, workers: int | None = None,
                frames_per_range: int = 1920, on_frames: FramesDone | None = None,
                on_file: FileDone | None = None) -> dict[str, str | None]:
    """Analyse the inputs of ``paths`` not finished yet on Ray workers (one CPU each); path -> None
    when done, else its error. ``files.parquet`` is written at the end, also when interrupted."""
    ray = require_ray()
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    todo = analysis.pending(paths)
    outcomes: dict[str, str | None] = {path: None for path in paths if path not in todo}
    if not todo:
        analysis.write_files_table(paths, outcomes)
        return outcomes
    started = not ray.is_initialized()
    if started:
        _start(ray, address, workers)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=RETRIES,
                           runtime_env={"env_vars": {"FEXLAB_THREADS": "1"}})(AnalysisWorker)
        pool = [actor.remote(analysis.settings) for _ in range(count)]
        _run(ray, analysis, todo, pool, frames_per_range, outcomes, on_frames, on_file)
    finally:
        analysis.write_files_table(paths, outcomes)
        if started:
            ray.shutdown()
    return {path: outcomes[path] for path in paths if path in outcomes}


def _start(ray: Any, address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``, or start a local Ray with ``workers`` CPUs for this run."""
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    if address:
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except ConnectionError as error:
            raise InputError(f"no Ray cluster answers at {address} ({error}); "
                             "start one with `ray start --head`") from None
        return
    ray.init(num_cpus=workers or cores(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")


def _run(ray: Any, analysis: Analysis, todo: Sequence[str], pool: list[Any], frames_per_range: int,
         outcomes: dict[str, str | None], on_frames: FramesDone | None, on_file: FileDone | None) -> None:
    """Keep two ranges in flight per worker; write each input's part when its last range is in."""
    from ray.exceptions import RayError

    queue = collections.deque()
    for path in todo:
        try:
            ranges = frame_ranges(path, analysis.settings.every, frames_per_range)
        except Exception as error:  # noqa: BLE001 - an input that cannot be opened is an error row
            outcomes[path] = one_line(error)
            if on_file:
                on_file(path, outcomes[path])
            continue
        queue.extend((path, number, len(ranges), start, stop) for number, (start, stop) in enumerate(ranges))
    results: dict[str, dict[int, tuple[Any, int, str | None]]] = collections.defaultdict(dict)
    flight: dict[Any, tuple[Any, tuple]] = {}

    def submit(worker: Any) -> None:
        if queue:
            job = queue.popleft()
            flight[worker.run.remote(job[0], job[3], job[4])] = (worker, job)

    for worker in pool * 2:
        submit(worker)
    try:
        while flight:
            [ref], _ = ray.wait(list(flight), num_returns=1)
            worker, (path, number, total, _, _) = flight.pop(ref)
            try:
                result = ray.get(ref)
            except RayError as error:
                result = (None, 0, f"the worker analysing it stopped {RETRIES + 1} times ({type(error).__name__}); "
                                   "run again to redo it")
            results[path][number] = result
            if on_frames and result[1]:
                on_frames(result[1])
            if len(results[path]) == total:
                outcomes[path] = _write(analysis, path, [results[path][n] for n in range(total)])
                del results[path]
                if on_file:
                    on_file(path, outcomes[path])
            submit(worker)
    finally:
        for ref in flight:
            ray.cancel(ref, force=True)


def _write(analysis: Analysis, path: str, ranges: list[tuple[Any, int, str | None]]) -> str | None:
    """Write ``path``'s part from its ranges in frame order; its first error instead when one failed."""
    errors = [error for _, _, error in ranges if error]
    if errors:
        return errors[0]
    try:
        with analysis.part(path, ranges[0][0].schema) as part:
            for rows, frames, _ in ranges:
                part.add(rows, frames)
            part.commit()
    except Exception as error:  # noqa: BLE001 - e.g. the input changed or vanished meanwhile
        return one_line(error)
    return None
