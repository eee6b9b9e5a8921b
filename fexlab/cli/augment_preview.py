"""``fexlab augment-preview``: one face under N training augmentations, as a PNG grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from fexlab.registry import DEFAULT_DETECTOR, InputError, default_registry

from .common import check_output_dir


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment-preview", help="one face under N training augmentations, as a PNG grid")
    p.add_argument("image", metavar="IMAGE", help="a photo (its largest face is used) or a face crop")
    p.add_argument("out", metavar="OUT.png")
    p.add_argument("--n", type=int, default=15, help="number of augmentations (default 15)")
    p.add_argument("--size", type=int, default=128, help="face side in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="augmentation option, e.g. --set rotation=25 --set erase_p=0 (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.preprocessing.augment import Augmenter, save_preview

    options = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            raise InputError(f"--set takes KEY=NUMBER, got '{item}'") from None
    check_output_dir(Path(args.out).parent)
    path = save_preview(args.image, args.out, Augmenter(options, seed=args.seed), count=args.n, size=args.size,
                        detector=default_registry().detector(DEFAULT_DETECTOR))
    print(f"wrote {path}")
    return 0
