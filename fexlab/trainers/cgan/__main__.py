"""``python -m fexlab.trainers.cgan`` / ``accelerate launch -m fexlab.trainers.cgan``: the flags of ``fexlab train cgan``."""

import sys

from fexlab.trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("fexlab.trainers.cgan", HELP, add_arguments, main))
