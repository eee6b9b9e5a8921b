"""``python -m trainers.classifier`` / ``accelerate launch -m trainers.classifier``: the flags of
``fexlab train classifier``."""

import sys

from trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("trainers.classifier", HELP, add_arguments, main))
