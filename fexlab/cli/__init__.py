"""The ``fexlab`` command: one module per sub-command, each with ``add(subparsers)`` and ``run(args)``;
the work itself lives in the packages below. A :class:`fexlab.registry.FexlabError` becomes one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from fexlab.registry import FexlabError

from . import analyze, augment_preview, avatar, evaluate, generate, plugins, predict, prepare, serve, synth, train
from .common import err
from .train import TRAINERS

__all__ = ["COMMANDS", "TRAINERS", "build_parser", "main"]


#: Command name -> its module, in the order ``fexlab --help`` lists them.
COMMANDS = {"predict": predict, "analyze": analyze, "avatar": avatar, "plugins": plugins, "serve": serve,
            "train": train, "evaluate": evaluate, "generate": generate, "prepare": prepare, "synth": synth,
            "augment-preview": augment_preview}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fexlab", description="Facial expression lab: predict emotions in faces, generate expressive faces."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (README, "Exit status"): 0 done, 1 done but some inputs
    were skipped, 2 a usage error (nothing done), 130 interrupted, 141 output pipe closed."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said with the command's own usage (`fexlab avatar a.jpg b.jpg`), not the top-level one
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except FexlabError as error:
        err(str(error))
        return 2
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:  # `fexlab predict clip.mp4 | head -1`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
