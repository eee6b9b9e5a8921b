"""Google's LiteRT interpreter (``ai-edge-litert``), shared by the plugins that run ``.tflite`` models.

BlazeFace and the face mesh run MediaPipe's original model files in the official interpreter;
opening one (quietly, with a clear error when the package or the file is missing) lives here once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import CheckpointError, InputError
from .onnx_runtime import cores

__all__ = ["INTERPRETER_INSTALL", "WORKERS", "interpreter_installed", "open_interpreter", "parallel_pool", "quiet_stderr",
           "share_cores", "shares_cores"]

INTERPRETER_INSTALL = "pip install ai-edge-litert"
_quiet_lock = threading.Lock()
_this_thread = threading.local()
#: Threads of a :func:`parallel_pool`: the process's cores (``onnx_runtime.cores``), at most 4.
WORKERS = min(4, cores())
_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def share_cores() -> None:
    """Mark the calling thread as one of a pool that runs models side by side (video frames
    detected in parallel): work it is given runs in it, not in another pool."""
    _this_thread.shares_cores = True


def shares_cores() -> bool:
    """Whether the calling thread is one of a pool that already keeps the cores busy (:func:`share_cores`)."""
    return getattr(_this_thread, "shares_cores", False)


def parallel_pool(name: str) -> ThreadPoolExecutor:
    """The process's pool of :data:`WORKERS` threads named ``name`` (made on first use), each marked
    by :func:`share_cores`: models run side by side in it (video frames, the tiles of a photo),
    each thread with one-thread interpreters of its own; LiteRT and OpenCV release the GIL while
    they work. Measured on 2 cores shared with other work, one-thread interpreters side by side
    beat one interpreter with two threads (7.7 against 10.2 ms to detect in a 512 px photo)."""
    with _pools_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"fexlab-{name}", initializer=share_cores)
        return _pools[name]


def interpreter_installed() -> bool:
    """Whether the LiteRT interpreter can be imported (without importing it)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """LiteRT's C++ runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate" on the process's
    stderr for every interpreter, and no setting turns it off: hide it while one is made."""
    with _quiet_lock:
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def open_interpreter(model: str | os.PathLike | bytes, *, num_threads: int = 1, who: str = "this plugin",
                     hint: str = "") -> Any:
    """A LiteRT ``Interpreter`` of ``model`` (a ``.tflite`` file's path, or its bytes) with its
    tensors allocated.

    ``who`` names the plugin in the error raised when the interpreter is not installed; ``hint``
    says how to restore a missing file.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise InputError(f"{who} needs the LiteRT interpreter: run `{INTERPRETER_INSTALL}`") from None
    if isinstance(model, bytes):
        source = {"model_content": model}
    else:
        if not Path(model).is_file():
            raise CheckpointError(f"{model} is missing" + (f"; {hint}" if hint else ""))
        source = {"model_path": str(model)}
    with quiet_stderr():
        interpreter = Interpreter(**source, num_threads=num_threads)
        interpreter.allocate_tensors()
    return interpreter
