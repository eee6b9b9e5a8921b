"""``python -m trainers.stargan`` / ``accelerate launch -m trainers.stargan``: the flags of ``fexlab train stargan``."""

import sys

from trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("trainers.stargan", HELP, add_arguments, main))
