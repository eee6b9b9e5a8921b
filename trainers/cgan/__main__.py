"""``python -m trainers.cgan`` / ``accelerate launch -m trainers.cgan``: the flags of ``fexlab train cgan``."""

import sys

from trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("trainers.cgan", HELP, add_arguments, main))
