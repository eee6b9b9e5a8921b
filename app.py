"""The Hugging Face Space's entry: serves the fexlab web app (``fexlab serve`` does the same)."""

import argparse
import os

from fexlab.app import ensure_space_weights, launch

if __name__ == "__main__":
    ensure_space_weights()
    parser = argparse.ArgumentParser(description="Serve the fexlab web app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true")
    cli_args = parser.parse_args()
    launch(cli_args.host, cli_args.port, cli_args.share)
