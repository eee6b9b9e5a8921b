"""``fexlab prepare``: photos or any data set turned into class-per-folder face crops."""

from __future__ import annotations

import argparse
from typing import Any

from fexlab.registry import DEFAULT_DETECTOR, default_registry

from .common import check_output_dir, err, skipped


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="turn photos or any data set into class-per-folder face crops")
    p.add_argument("source", metavar="SOURCE",
                   help="class-per-folder photos, a FER2013 .csv, a Hugging Face save_to_disk folder, hf:owner/name "
                        "or synthetic[:n=...]")
    p.add_argument("out", metavar="OUT", help="output folder (gets SPLIT/EMOTION/*.png and report.json)")
    p.add_argument("--detect", action="store_true", help="find the face with --detector (else: the whole image is the face)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"face detector plugin for --detect (default {DEFAULT_DETECTOR})")
    p.add_argument("--align", action="store_true",
                   help="rotate so the eyes are level before cropping (the detector's eye keypoints, else OpenCV's eye cascade)")
    p.add_argument("--size", type=int, default=64, help="side of the square crops in pixels (default 64)")
    p.add_argument("--gray", action="store_true", help="write one-channel gray crops")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,val,test fractions where the source has no splits")
    p.add_argument("--seed", type=int, default=0, help="seed of those splits")
    p.add_argument("--image-column", help="Hugging Face data sets: the image column")
    p.add_argument("--label-column", help="Hugging Face data sets: the label column")
    p.add_argument("--labels", help="order of numeric labels: rafdb, affectnet or fer2013")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.preprocessing.prepare import REPORT_NAME, prepare

    out = check_output_dir(args.out)
    columns = {k: v for k, v in (("image_column", args.image_column), ("label_column", args.label_column),
                                 ("labels", args.labels)) if v}
    detector = default_registry().detector(args.detector) if args.detect else None
    report = prepare(args.source, out, detector=detector, align=args.align, eye_finder=_eye_cascade() if args.align else None,
                     size=args.size, gray=args.gray, split=args.split, seed=args.seed, **columns)
    for failure in report["failed"][:5]:
        err(f"skipped {failure['path']}: {failure['error']}")
    print(f"{report['faces']} faces from {report['images']} images written to {out} "
          f"({len(report['no_face'])} without a face, {len(report['failed'])} failed); see {out / REPORT_NAME}")
    return skipped(len(report["failed"]), report["images"], "image")


def _eye_cascade() -> Any:
    """OpenCV's eye cascade (the ``haar`` plugin's), for faces whose detector gives no eyes."""
    from fexlab.plugins.detectors.haar import HaarCascade

    return HaarCascade.from_config().find_eyes
