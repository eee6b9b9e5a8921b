"""Time the fer package's ``FER().detect_emotions`` on image files: run by the peer venv's Python.

    benchmarks/.peer-venv/bin/python benchmarks/peer_fer.py --min-calls 20 --min-seconds 4 A.jpg B.jpg

This file imports nothing from fexlab (the peer venv has only fer, TensorFlow and OpenCV). Each
call reads the file with ``cv2.imread`` and runs ``detect_emotions`` with fer's defaults (Haar
cascade, the FER2013 mini-Xception), the same work as ``Predictor.predict_image`` on a path. It
prints one JSON line: per-image latencies, faces found and the peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--min-calls", type=int, default=20)
    parser.add_argument("--min-seconds", type=float, default=4.0)
    args = parser.parse_args()

    import cv2
    import fer
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.ERROR)
    detector = FER()

    def run(path: str) -> int:
        return len(detector.detect_emotions(cv2.imread(path)))

    faces = [run(path) for path in args.images]  # warm-up, and what it finds
    run(args.images[0])
    seconds: list[float] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    while len(seconds) < args.min_calls or time.perf_counter() - start < args.min_seconds:
        t0 = time.perf_counter()
        run(args.images[len(seconds) % len(args.images)])
        seconds.append(time.perf_counter() - t0)
    cpu_ms = (time.process_time() - cpu_start) / len(seconds) * 1000
    print(json.dumps({"fer_version": fer.__version__, "faces_found": faces, "seconds": seconds, "cpu_ms": cpu_ms,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
