"""``python -m fexlab.trainers.classifier`` / ``accelerate launch -m fexlab.trainers.classifier``: the flags of
``fexlab train classifier``."""

import sys

from fexlab.trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("fexlab.trainers.classifier", HELP, add_arguments, main))
