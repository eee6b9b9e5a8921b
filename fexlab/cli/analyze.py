"""``fexlab analyze``: folders of photos and videos into one Parquet table of faces, resumable,
in this process or on a Ray cluster (``fexlab.pipeline.analysis``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fexlab.pipeline.analysis import FRAMES_PER_RANGE
from fexlab.registry import DEFAULT_ALIGN, DEFAULT_CLASSIFIER, DEFAULT_DETECTOR
from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER
from fexlab.registry.paths import printable

from .common import check_output_dir, err, make_output_dir, say, skipped

EPILOG = """\
what it writes:
  OUT/faces/         one Parquet dataset, a part per input, one row per face per analysed frame:
                     file, frame, time (seconds), track, box_x, box_y, box_w, box_h, score,
                     emotion (the first classifier's), CLASSIFIER_EMOTION probabilities
                     (efficientnet_happy, ensemble_geometry_happy...), and with --analyzer face_mesh:
                     presence, the action units (AU1...), the 51 blendshapes (mouthSmileLeft...),
                     head_yaw, head_pitch, head_roll (degrees). Read it as one table:
                     pandas.read_parquet("OUT/faces"), or in DuckDB: SELECT * FROM 'OUT/faces/*.parquet'
  OUT/files.parquet  one row per input: file, status (done or error), error (the reason), frames,
                     faces, seconds, and tracks: the seconds each track spends in each emotion

resuming: run the same command again. Finished inputs whose settings match are skipped; the rest
(errors, inputs a Ctrl-C or a killed run left) are analysed again, so every input's rows are there
exactly once. A part is written under a temporary name and renamed when complete.

exit status: 0 every input done, 1 some could not be read (their error is in files.parquet),
2 usage error, 130 interrupted (run again to go on).

the researchers' guide (docs/analysis.md) shows reading the table, plotting emotions over time and
running on a Ray cluster."""


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyse folders of photos and videos into one Parquet table, resumable",
                       description="Find every face in photos and videos (folders are searched recursively), "
                                   "predict its emotion and write one row per face per analysed frame to a "
                                   "Parquet dataset, on this machine or a Ray cluster.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="photos, videos, or folders of them (and their subfolders)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for faces/ and files.parquet (made if missing)")
    p.add_argument("--classifier", action="append", metavar="NAME[:CHECKPOINT]",
                   help=f"classifier plugin, tag or checkpoint (repeat for several; default {DEFAULT_CLASSIFIER}, "
                        f"with --analyzer face_mesh {DEFAULT_MESH_CLASSIFIER}); the first one's answer is the "
                        "emotion column")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help="face detector plugin (full_frame for face crops)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=DEFAULT_ALIGN,
                   help="level the eyes on the detector's keypoints before classifying")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S",
                   help="leave out faces the detector scores below S, 0 to 1 (default 0)")
    p.add_argument("--every", type=int, default=1, metavar="K", help="videos: analyse every K-th frame (default 1)")
    p.add_argument("--analyzer", action="append", default=[], metavar="NAME",
                   help="face analyzer plugin (repeatable): face_mesh adds action units, blendshapes and head "
                        "pose columns, and follows faces from frame to frame")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine, in worker processes (default); ray: the workers of a Ray cluster, "
                        "or of a local Ray started for the run (pip install 'fexlab[ray]')")
    p.add_argument("--address", metavar="ADDRESS",
                   help="ray: the cluster to join (auto, ray://host:10001); default: a local Ray started for the run")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes (local: default one per core) or Ray workers, one CPU each (ray: default every "
                        "CPU of the local Ray or the cluster); they take the photos and video ranges in turn")
    p.add_argument("--frames-per-task", type=int, default=FRAMES_PER_RANGE, metavar="N",
                   help="analysed frames of a video per task of a worker, rounded up to a multiple of 240 "
                        f"(default {FRAMES_PER_RANGE})")
    p.add_argument("--overwrite", action="store_true",
                   help="redo the parts OUT holds that were made with other settings (else that is refused)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.pipeline.analysis import Analysis, AnalysisSettings, analyze_local
    from fexlab.pipeline.predict import media_files

    settings = AnalysisSettings(tuple(args.classifier or ()), args.detector, tuple(args.analyzer), args.every,
                                args.min_score, args.align)
    if args.engine == "local" and args.address:
        err("--address applies to --engine ray; running locally")
    paths = media_files(args.paths, recursive=True)
    check_output_dir(args.out)
    if args.engine == "ray":
        from fexlab.pipeline.analysis_ray import require_ray

        require_ray()  # says how to install Ray before anything is written
    analysis = Analysis(make_output_dir(args.out), settings, overwrite=args.overwrite)
    todo = analysis.pending(paths)
    if len(todo) < len(paths):
        say(f"{len(paths) - len(todo)} of {len(paths)} inputs already analysed with these settings: skipped")
    with _progress(todo, settings.every) as bar:
        def on_file(path: str, error: str | None) -> None:
            bar.set_postfix_str(f"{bar.files + 1}/{len(todo)} inputs", refresh=False)
            bar.files += 1
            if error:
                bar.write(f"fexlab: {printable(error)}", file=sys.stderr)

        bar.files = 0
        try:
            if args.engine == "ray":
                from fexlab.pipeline.analysis_ray import analyze_ray

                outcomes = analyze_ray(analysis, paths, address=args.address, workers=args.workers,
                                       frames_per_range=args.frames_per_task, on_frames=bar.update, on_file=on_file)
            else:
                outcomes = analyze_local(analysis, paths, workers=args.workers, frames_per_range=args.frames_per_task,
                                         on_frames=bar.update, on_file=on_file)
        except KeyboardInterrupt:
            bar.close()
            err(f"interrupted after {bar.files} of {len(todo)} inputs; the finished ones are kept: run the same "
                "command again to go on")
            return 130
    failed = sum(error is not None for error in outcomes.values())
    out = Path(args.out)
    say(f"{len(paths) - failed} of {len(paths)} inputs analysed: {printable(out / 'faces')} "
        f"(one table: pandas.read_parquet), {printable(out / 'files.parquet')}")
    return skipped(failed, len(paths), "input")


def _progress(todo: list[str], every: int):
    """A progress bar over the frames of ``todo`` (a photo counts as one) with the time left, on a
    terminal only."""
    from tqdm import tqdm

    from fexlab.pipeline.predict import is_video, video_frame_count

    total = sum(-(-video_frame_count(path) // every) if is_video(path) else 1 for path in todo)
    return tqdm(total=total or None, unit="frame", desc="analyze", file=sys.stderr, disable=None, smoothing=0.1)
