"""``fexlab evaluate``: classifiers and generators scored on one data split, and a leaderboard."""

from __future__ import annotations

import argparse
import sys

from fexlab.registry import DEFAULT_DETECTOR, InputError

from .common import check_output_dir, err


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score classifiers and generators on one data split; write a leaderboard")
    p.add_argument("--classifier", action="append", default=[], metavar="NAME[:CHECKPOINT]",
                   help="classifier to score (repeat; a checkpoint or training-run folder after ':' or alone; "
                        "+flip after it averages each face with its mirror image)")
    p.add_argument("--generator", action="append", default=[], metavar="NAME[:CHECKPOINT]",
                   help="generator to score with the judge (repeat)")
    p.add_argument("--judge", metavar="NAME[:CHECKPOINT]",
                   help="classifier that judges generated faces (default: the first --classifier, else mini_xception)")
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="synthetic[:n=...], a FER2013 .csv, FER+ votes (majority labels), an image-list table, "
                        "a class-per-folder tree, a save_to_disk folder or hf:owner/name; A+B for both")
    p.add_argument("--split", default="test", help="split to score on (default test)")
    p.add_argument("--n-per-emotion", type=int, default=100, metavar="N",
                   help="generated (and real reference) faces per emotion for each generator; for an editor, the real "
                        "faces (or photos) of each emotion it edits (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for generation, sampling and bootstrap (default 0)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/results/*.json, DIR/plots/*.png, DIR/leaderboard.md and .csv")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--detector", metavar="NAME",
                   help=f"score classifiers and face editors end to end on whole photos: this detector's largest face "
                        f"of each image, cropped with each classifier's (and the judge's) margin; editors edit the whole "
                        f"photo (e.g. {DEFAULT_DETECTOR}; photos with no face are counted and left out; generators that "
                        "draw faces are refused)")
    p.add_argument("--align", action="store_true", help="with --detector: level the eyes before cropping")
    p.add_argument("--edit-strength", type=float, default=1.0, metavar="S",
                   help="face editors edit at this strength (default 1, the full target emotion; up to 2 for an "
                        "editor that goes further, mesh_warp: its emotions' most intense real faces)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = check_output_dir(args.out)
    if not args.classifier and not args.generator:
        raise InputError("nothing to evaluate: give at least one --classifier or --generator")
    from tqdm import tqdm

    from fexlab.eval.results import leaderboard_markdown, warnings_by_text
    from fexlab.pipeline.evaluation import evaluate

    with tqdm(total=1000, desc="loading models", file=sys.stderr, leave=False,
              bar_format="evaluate {percentage:3.0f}%|{bar}| {desc}") as bar:
        def progress(fraction: float, message: str) -> None:
            bar.n = round(1000 * fraction)
            bar.set_description_str(message, refresh=True)

        report = evaluate(args.classifier, args.generator, data=args.data, out=out, judge=args.judge,
                          split=args.split, n_per_emotion=args.n_per_emotion, seed=args.seed,
                          progress=progress, plots=not args.no_plots, detector=args.detector, align=args.align,
                          edit_strength=args.edit_strength)
    print(leaderboard_markdown(report.leaderboard))
    print(f"wrote {report.markdown}, {report.csv}, {len(report.result_files)} result(s) in {out / 'results'}"
          + (f" and {len(report.plots)} plot(s) in {out / 'plots'}" if report.plots else ""))
    for warning, models in warnings_by_text(report.results).items():
        err(f"warning ({', '.join(models)}): {warning}")
    return 0
