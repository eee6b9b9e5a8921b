"""``fexlab train TRAINER``: each trainer's own flags, from its light config module (no torch import)."""

from __future__ import annotations

import argparse

#: Trainer name -> its light config module (HELP, add_arguments(parser), main(args)); no torch import.
TRAINERS = {"classifier": "fexlab.trainers.classifier.config", "cgan": "fexlab.trainers.cgan.config",
            "stargan": "fexlab.trainers.stargan.config", "sd-lora": "fexlab.trainers.sd_lora.config"}


def add(sub: argparse._SubParsersAction) -> None:
    import importlib

    p = sub.add_parser("train", help="train a classifier or generator plugin with Accelerate")
    trainers = p.add_subparsers(dest="trainer", required=True, metavar="TRAINER")
    for name, module_name in TRAINERS.items():
        module = importlib.import_module(module_name)
        t = trainers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(t)
        t.set_defaults(func=run, trainer_module=module_name)


def run(args: argparse.Namespace) -> int:
    import importlib

    return int(importlib.import_module(args.trainer_module).main(args) or 0)
