"""``python -m benchmarks``: run every benchmark, print the table, write results.json / results.md.

    python -m benchmarks                      # everything (the fer peer too if its venv exists)
    python -m benchmarks --only predict video # benchmarks whose name contains a word
    python -m benchmarks --peer none          # skip the fer package
    python -m benchmarks --rounds 3           # fexlab's default pipeline, mini_xception and fer, 3 times alternating
    python -m benchmarks --list
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fexlab.registry.classifier import DEFAULT_CLASSIFIER

from . import all_benchmarks, goals
from .harness import ROOT, Row, child_main, machine, markdown_table, run_child
from .inputs import five_face_image, one_face_images

PEER_PYTHON = Path(__file__).resolve().parent / ".peer-venv" / "bin" / "python"
PEER_NAME = "fer package FER().detect_emotions"
#: The classifiers whose whole-image prediction is timed alternately with the fer package: the
#: default pipeline's, and mini-Xception (the network fer itself runs).
PEER_COMPARED = (DEFAULT_CLASSIFIER, "mini_xception")


def peer_rows(python: Path) -> list[Row]:
    """Time the fer package on the same images as ``predict image`` rows, in its own venv."""
    script = Path(__file__).resolve().parent / "peer_fer.py"
    rows = []
    for case, paths in (("1 face", one_face_images()), ("5 faces", [five_face_image()])):
        done = subprocess.run([str(python), str(script), *map(str, paths)], cwd=ROOT, capture_output=True,
                              text=True, timeout=900, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        line = next((l for l in reversed(done.stdout.splitlines()) if l.startswith("{")), None)
        if line is None:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append(Row(PEER_NAME, case, None, "images/s", note=f"failed: {reason[:200]}"))
            continue
        data = json.loads(line)
        seconds = sorted(data["seconds"])
        rows.append(Row(PEER_NAME, case, len(seconds) / sum(seconds), "images/s",
                        seconds[len(seconds) // 2] * 1000, seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))] * 1000,
                        data["cpu_ms"], round(data["peak_rss_mb"], 1), note=f"fer {data['fer_version']}, faces found {data['faces_found']}",
                        extra={"seconds": data["seconds"]}))
    return rows


def _best(runs: list[list[Row]]) -> list[Row]:
    """Of rows measured several times, each case's fastest (the one least disturbed by other work)."""
    best: dict[tuple[str, str], Row] = {}
    for row in (row for rows in runs for row in rows):
        key = (row.benchmark, row.case)
        if key not in best or (row.value or 0) > (best[key].value or 0):
            best[key] = row
    return list(best.values())


def alternated(names: list[str], peer: Path, rounds: int) -> list[Row]:
    """Benchmark each of ``names`` and the fer peer, one after the other ``rounds`` times, each
    one's best round: all share the machine's state of the moment, whatever else runs on it."""
    ours, theirs = [], []
    for _ in range(rounds):
        for name in names:
            ours.append(run_child(name))
        theirs.append(peer_rows(peer))
    return _best(ours) + _best(theirs)


def _ratio_notes(rows: list[Row]) -> None:
    """Write "fexlab is N.Nx as fast" on each fer row, for the default pipeline and mini-Xception."""
    for peer in (r for r in rows if r.benchmark == PEER_NAME and r.value):
        ratios = [f"{name} {ours.value / peer.value:.1f}x" for name in PEER_COMPARED
                  for ours in rows if ours.benchmark == f"predict image ({name})" and ours.case == peer.case and ours.value]
        if ratios:
            peer.note = f"fexlab is as fast as this times: {', '.join(ratios)}; {peer.note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="WORD", help="run the benchmarks whose name contains a word")
    parser.add_argument("--peer", default="auto", metavar="auto|none|PYTHON",
                        help="the fer peer: auto (its venv if built by make bench-peer), none, or a Python path")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where results go")
    parser.add_argument("--rounds", type=int, default=3, metavar="N",
                        help="with the fer peer: time the default pipeline, mini_xception and fer N times, alternating, "
                             "keeping each one's best")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    benches = {b.name: b for b in all_benchmarks()}
    if args.child:
        child_main(benches[args.child])
        return 0
    if args.list:
        for bench in benches.values():
            missing = bench.missing()
            print(f"{bench.name:<24} {bench.description}" + (f"  [not yet: {', '.join(missing)}]" if missing else ""))
        return 0

    selected = [b for b in benches.values() if not args.only or any(w in b.name for w in args.only)]
    peer = None if args.peer == "none" else (PEER_PYTHON if args.peer == "auto" else Path(args.peer))
    peer_wanted = args.only is None or any("predict" in w or "peer" in w for w in args.only)
    compared = [f"predict:{name}" for name in PEER_COMPARED if f"predict:{name}" in benches]
    alternate = peer is not None and peer.exists() and peer_wanted and bool(compared)
    info = machine()
    print(f"fexlab benchmarks on {info['cpu_count']} cores, load average {info['load_average_at_start']}; "
          "timings are wall-clock and share the machine with whatever else runs", flush=True)
    rows: list[Row] = []
    not_landed: list[str] = []
    for bench in selected:
        missing = bench.missing()
        if missing:
            not_landed.append(f"{bench.name} (needs {', '.join(missing)})")
            continue
        start = time.perf_counter()
        if alternate and bench.name in compared:
            if bench.name == compared[0]:  # all of them at once, alternating with fer
                rows += alternated(compared, peer, args.rounds)
        else:
            rows += run_child(bench.name)
        print(f"  {bench.name:<24} {time.perf_counter() - start:6.1f} s", flush=True)

    if peer_wanted and not any(r.benchmark == PEER_NAME for r in rows):
        if peer is not None and peer.exists():
            rows += peer_rows(peer)
            print(f"  {'fer peer':<24} done", flush=True)
        else:
            why = "--peer none" if args.peer == "none" else "`make bench-peer` builds its venv"
            rows.append(Row(PEER_NAME, "-", None, "images/s", note=f"not run: {why}"))
    _ratio_notes(rows)

    results = {"machine": info, "rows": [asdict(r) for r in rows], "goals": goals(rows), "not_yet_in_tree": not_landed}
    table = markdown_table(rows)
    goal_lines = ["| goal | measured | status |", "|---|---|---|"] + [
        f"| {g['goal']} | {'-' if g['measured'] is None else g['measured']} {g['unit']} | {g['status']} |"
        for g in results["goals"]]
    pending = "\n".join(f"- {name}" for name in not_landed)
    markdown = (f"# fexlab benchmarks\n\nMeasured {info['date']} on {info['platform']}, {info['cpu_count']} CPU cores, "
                f"torch {info['torch']} ({info['torch_threads']} threads), load average at start "
                f"{info['load_average_at_start']}. Wall-clock timings on a shared machine.\n\n{table}\n\n## Goals\n\n"
                + "\n".join(goal_lines) + "\n" + (f"\nNot yet in the tree:\n{pending}\n" if pending else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(markdown, encoding="utf-8")
    print("\n" + table + "\n\n" + "\n".join(goal_lines))
    if pending:
        print("\nnot yet in the tree:\n" + pending)
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
