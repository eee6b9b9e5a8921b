"""``fexlab synth``: the SYNTHETIC FACS-style face set as class-per-folder PNGs."""

from __future__ import annotations

import argparse

from .common import check_output_dir


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write the SYNTHETIC FACS-style face set as class-per-folder PNGs")
    p.add_argument("out", metavar="OUT", help="output folder")
    p.add_argument("--n", type=int, default=7000, help="number of faces (default 7000)")
    p.add_argument("--size", type=int, default=64, help="side in pixels, 48 to 256 (default 64)")
    p.add_argument("--gray", action="store_true", help="one-channel gray faces")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.eval.plots import save_figure
    from fexlab.preprocessing.prepare import prepare
    from fexlab.preprocessing.synthetic import SyntheticSpec, preview_grid

    out = check_output_dir(args.out)
    spec = SyntheticSpec(n=args.n, size=args.size, seed=args.seed, gray=args.gray)
    source = f"synthetic:n={args.n},size={args.size},seed={args.seed},gray={int(args.gray)}"
    report = prepare(source, out, size=args.size, gray=args.gray, desc="synth")
    save_figure(preview_grid(spec), out / "grid.png")
    print(f"{report['faces']} SYNTHETIC faces written to {out} (identity-disjoint train / val / test); "
          f"a preview is in {out / 'grid.png'}")
    return 0
