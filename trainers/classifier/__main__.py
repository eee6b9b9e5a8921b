"""``python -m trainers.classifier`` / ``accelerate launch -m trainers.classifier``: the same flags
as ``fexlab train classifier``."""

import argparse
import sys

from registry import FexlabError

from .config import HELP, add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m trainers.classifier", description=HELP)
    add_arguments(parser)
    try:
        sys.exit(main(parser.parse_args()))
    except FexlabError as err:
        print(f"fexlab: {err}", file=sys.stderr)
        sys.exit(2)
