"""``python -m fexlab.trainers.sd_lora`` / ``accelerate launch -m fexlab.trainers.sd_lora``: the flags of ``fexlab train sd-lora``."""

import sys

from fexlab.trainers.command import run_module

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    sys.exit(run_module("fexlab.trainers.sd_lora", HELP, add_arguments, main))
