"""The worker processes of ``fexlab analyze``'s local engine: a :class:`ProcessWorkers` pool of
``count`` processes, each holding one :class:`~fexlab.pipeline.analysis.RangeWorker` and its share
of the cores (``FEXLAB_THREADS``), for :func:`~fexlab.pipeline.analysis.analyze_ranges`.

The processes are spawned (not forked: the parent's model threads do not survive a fork), ignore
Ctrl-C (the parent stops them), and are stopped when the pool closes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fexlab.registry import InputError
from fexlab.registry.onnx_runtime import cores

from .analysis import AnalysisSettings, RangeResult, RangeWorker

__all__ = ["ProcessWorkers"]

_worker: RangeWorker | None = None


def _start(settings: AnalysisSettings) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _worker = RangeWorker(settings)


def _run(path: str, start: int, stop: int | None) -> RangeResult:
    assert _worker is not None
    return _worker.run(path, start, stop)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set while the block runs (the processes spawned then inherit them)."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ProcessWorkers:
    """``count`` worker processes for :func:`~fexlab.pipeline.analysis.analyze_ranges`. When one
    dies (killed, out of memory), the ranges then running fail and a new pool takes the rest."""

    def __init__(self, settings: AnalysisSettings, count: int):
        self.settings, self.count = settings, count
        self.futures: set[concurrent.futures.Future] = set()
        self.pool = self._spawn()

    def _spawn(self) -> concurrent.futures.ProcessPoolExecutor:
        """A pool of ``count`` processes with their models loaded."""
        pool = concurrent.futures.ProcessPoolExecutor(
            self.count, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(self.settings,))
        threads = str(max(1, cores() // self.count))
        # the pool spawns a process per submit while none is idle; NumPy's BLAS and OpenMP keep to the share too
        with _environment(FEXLAB_THREADS=threads, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads):
            started = [pool.submit(os.getpid) for _ in range(self.count)]
        try:
            for future in started:  # every worker's models loaded
                future.result()
        except BrokenProcessPool as error:
            pool.shutdown(wait=False, cancel_futures=True)
            raise InputError(f"the worker processes could not start ({error}); a script that runs them needs "
                             "its work under `if __name__ == '__main__':`, or analyse with one worker") from None
        return pool

    def __len__(self) -> int:
        return self.count

    def submit(self, path: str, start: int, stop: int | None) -> Any:
        try:
            future = self.pool.submit(_run, path, start, stop)
        except BrokenProcessPool:  # a worker died: its pool's running ranges fail, a new pool goes on
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._spawn()
            future = self.pool.submit(_run, path, start, stop)
        self.futures.add(future)
        return future

    def wait(self) -> tuple[Any, RangeResult]:
        done, _ = concurrent.futures.wait(self.futures, return_when=concurrent.futures.FIRST_COMPLETED)
        future = next(iter(done))
        self.futures.discard(future)
        try:
            return future, future.result()
        except BrokenProcessPool:
            return future, (None, 0, "a worker process stopped (killed, or out of memory); run again to redo it")

    def cancel(self) -> None:
        for future in self.futures:
            future.cancel()
        self.futures.clear()
        for process in list(getattr(self.pool, "_processes", {}).values()):  # running ranges are not waited for
            process.terminate()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessWorkers:
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            self.cancel()
        self.close()
