"""The benchmark machinery: timing loops, rows, one child process per benchmark, the table out.

Each benchmark is a function returning :class:`Row` s. ``python -m benchmarks`` runs every
benchmark in a fresh interpreter (``--child NAME``) so that its peak resident memory is its own
and start-up costs are not hidden by an earlier benchmark's imports; the child prints its rows as
one JSON line and the parent collects them into ``results.json`` and ``results.md``.
Timings are wall-clock on whatever else the machine is doing: they are reported, never asserted.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Benchmark", "Row", "Timing", "load_plugin", "machine", "markdown_table", "peak_rss_mb", "run_child",
           "time_calls"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One line of the table: ``value`` ``unit`` (higher is better unless the unit is seconds)."""

    benchmark: str
    case: str
    value: float | None
    unit: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    #: Process CPU time per call (all threads): on a busy machine wall time grows, this does not.
    cpu_ms: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark; ``requires`` are modules that must exist in the tree for it to run."""

    name: str
    run: Callable[[], list[Row]]
    requires: tuple[str, ...] = ()
    description: str = ""

    def missing(self) -> list[str]:
        """Required modules not importable here (the capability has not landed yet)."""
        import importlib.util

        absent = []
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                absent.append(module)
        return absent


@dataclass
class Timing:
    """Wall-clock latencies in seconds of repeated calls, and the process CPU time they used."""

    seconds: list[float]
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.seconds) / sum(self.seconds)

    @property
    def cpu_ms(self) -> float:
        """Process CPU milliseconds per call."""
        return self.cpu_seconds / len(self.seconds) * 1000

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.seconds)
        if len(ordered) == 1:
            return ordered[0] * 1000
        return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1] * 1000


def time_calls(fn: Callable[[], Any], *, min_calls: int = 10, min_seconds: float = 2.0, max_calls: int = 500,
               warmup: int = 2) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then until both ``min_calls`` and ``min_seconds`` are
    reached (at most ``max_calls``), timing each call."""
    for _ in range(warmup):
        fn()
    seconds: list[float] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    while len(seconds) < max_calls and (len(seconds) < min_calls or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return Timing(seconds, time.process_time() - cpu_start)


def load_plugin(kind: str, name: str) -> tuple[Any, str]:
    """(plugin, note): the ready plugin, or one built from its default config with random weights
    when it has none on this machine (speed does not depend on the weights; predictions would)."""
    from fexlab.registry import CheckpointError, NeedsWeightsError, default_registry

    registry = default_registry()
    try:
        return registry.load(kind, name), ""
    except (NeedsWeightsError, CheckpointError):
        return registry.plugin_class(kind, name).from_config(), "no weights here: random weights, speed only"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "load_average_at_start": load,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def run_child(name: str, timeout: float = 900.0, extra_args: tuple[str, ...] = ()) -> list[Row]:
    """Run benchmark ``name`` in a fresh interpreter and return its rows (an error row on failure)."""
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "MPLBACKEND": "Agg",
           "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "benchmarks", "--child", name, *extra_args]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [Row(name, "-", None, "", note=f"timed out after {timeout:.0f} s")]
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{\"rows\""):
            return [Row(**row) for row in json.loads(line)["rows"]]
    reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return [Row(name, "-", None, "", note=f"failed: {reason[:200]}")]


def child_main(benchmark: Benchmark) -> None:
    """Body of ``--child``: run one benchmark, stamp its peak memory on each row, print JSON."""
    rows = benchmark.run()
    rss = round(peak_rss_mb(), 1)
    for row in rows:
        if row.peak_rss_mb is None:
            row.peak_rss_mb = rss
    print(json.dumps({"rows": [asdict(row) for row in rows]}), flush=True)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if abs(value) >= 1 else f"{value:.3g}"


def markdown_table(rows: list[Row]) -> str:
    """The rows as a Markdown table (also readable as plain text in a terminal)."""
    lines = ["| benchmark | case | result | p50 ms | p95 ms | CPU ms | peak RSS MB | note |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        result = "-" if row.value is None else f"{_fmt(row.value)} {row.unit}"
        lines.append(f"| {row.benchmark} | {row.case} | {result} | {_fmt(row.p50_ms)} | {_fmt(row.p95_ms)} | "
                     f"{_fmt(row.cpu_ms)} | {_fmt(row.peak_rss_mb, 0)} | {row.note} |")
    return "\n".join(lines)
