"""``python -m fexlab.trainers.stargan`` / ``accelerate launch -m fexlab.trainers.stargan``: the flags of ``fexlab train stargan``."""

import sys

from fexlab.trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("fexlab.trainers.stargan", HELP, add_arguments, main))
