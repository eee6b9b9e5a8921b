"""ONNX Runtime, the inference engine of the prediction path.

A classifier's PyTorch module is exported to ONNX once, on first use, into a cache keyed by what
the network computes (its class, its weights and the input it takes), and run by an ONNX Runtime
session tuned for the machine's cores: all graph optimisations, one intra-op thread per core,
threads that sleep rather than spin (:func:`session_options`). PyTorch
stays for training, for the features of :meth:`Classifier.embed`, and as the fallback where
``onnxruntime`` is not installed, where a module cannot be exported, or where
``FEXLAB_ENGINE=torch`` asks for it. ONNX Runtime on the CPU runs EfficientNet-Lite0 at 80 px about
3x faster than PyTorch's eager mode here, with logits equal to 1e-6.

The cache lives in ``FEXLAB_CACHE_DIR`` (default ``$XDG_CACHE_HOME/fexlab`` or
``~/.cache/fexlab``), under ``onnx/``; when it cannot be written the export is kept in memory.
Files are written under a temporary name and renamed, so a killed export leaves no half file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import tempfile
import threading
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["ENGINE_ENV", "OnnxModule", "cache_dir", "cores", "engine", "export_module", "module_fingerprint",
           "onnx_available", "session_options"]

#: ``onnx`` (the default where ONNX Runtime is installed) or ``torch``.
ENGINE_ENV = "FEXLAB_ENGINE"
#: The ONNX opset classifiers are exported with (ONNX Runtime 1.16 and later run it).
OPSET = 17
_LOCK = threading.Lock()


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package (the exporter writes with it) are installed."""
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def engine() -> str:
    """The engine prediction runs on: ``onnx`` or ``torch`` (``FEXLAB_ENGINE``, else ONNX where installed)."""
    asked = os.environ.get(ENGINE_ENV, "").strip().lower()
    if asked not in ("", "onnx", "torch"):
        raise ValueError(f"{ENGINE_ENV} must be 'onnx' or 'torch', got '{asked}'")
    if asked == "torch" or not onnx_available():
        return "torch"
    return "onnx"


def cache_dir() -> Path:
    """Where exported models are kept: ``FEXLAB_CACHE_DIR``/onnx, else the user's cache folder."""
    root = os.environ.get("FEXLAB_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fexlab"
    return Path(root) / "onnx"


def cores() -> int:
    """The cores this process may run on, or ``FEXLAB_THREADS`` when set: how many threads the
    models of one process use (one analysis worker among several on a machine sets it to its share)."""
    if os.environ.get("FEXLAB_THREADS", "").strip():
        try:
            return max(1, int(os.environ["FEXLAB_THREADS"]))
        except ValueError:
            raise InputError("FEXLAB_THREADS must be a whole number of threads, "
                             f"got {os.environ['FEXLAB_THREADS']!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int | None = None) -> Any:
    """Session options for the CPU: every graph optimisation, ``threads`` intra-op threads (default
    one per core), sequential execution, and threads that sleep as soon as they wait instead of
    spinning. A spinning thread of one session takes the core the next session needs: measured
    here, the default pipeline (YuNet, then EfficientNet-Lite0) predicts 55 one-face photos a second
    with sleeping threads and 39 with spinning ones."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = int(threads or cores())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no warnings about unused initialisers on the console
    return options


def module_fingerprint(module: Any, example_shape: tuple[int, ...]) -> str:
    """What ``module`` computes on inputs of ``example_shape`` (batch left out): its class, the
    names, shapes and bytes of its parameters and buffers. Equal fingerprints, equal networks."""
    import torch

    digest = hashlib.sha256()
    digest.update(f"{type(module).__module__}.{type(module).__qualname__}|{tuple(example_shape[1:])}|{OPSET}".encode())
    for name, tensor in module.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(value.shape)}|{value.dtype}".encode())
        digest.update((value.float() if value.dtype == torch.bfloat16 else value).numpy().tobytes())
    return digest.hexdigest()[:24]


def export_module(module: Any, example: Any) -> bytes:
    """``module`` (eval mode, on the CPU) as an ONNX model with a dynamic batch axis, as bytes."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=OPSET)
    return buffer.getvalue()


def _cached_export(module: Any, example: Any, name: str) -> bytes | str:
    """The exported model: the cache file's path when it is (or can be) cached, else the bytes."""
    key = module_fingerprint(module, tuple(example.shape))
    path = cache_dir() / f"{name}-{key}.onnx"
    if path.is_file():
        return str(path)
    data = export_module(module, example)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError:
        return data
    return str(path)


class OnnxModule:
    """A PyTorch module's ONNX Runtime twin: ``module(batch)`` on numpy (N, C, H, W) float32 batches.

    Made with :meth:`for_module`, which exports (or finds in the cache) the module as it is now;
    :meth:`matches` says whether it is still that module with the same weights, by the version
    counters PyTorch bumps on every in-place change of a tensor (a training step, a loaded state
    dict), read from the module's tensors listed once.
    """

    def __init__(self, model: bytes | str, module: Any, threads: int | None = None):
        import onnxruntime as ort

        self.session = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self._module = weakref.ref(module)
        self._tensors = [*module.parameters(), *module.buffers()]
        self._versions = self._state()

    def _state(self) -> tuple[int, ...]:
        return tuple(t._version for t in self._tensors)

    @classmethod
    def for_module(cls, module: Any, example: Any, name: str, threads: int | None = None) -> OnnxModule:
        """Export ``module`` (on inputs shaped as ``example``) or take it from the cache, and open a session."""
        with _LOCK:
            return cls(_cached_export(module, example, name), module, threads)

    def matches(self, module: Any) -> bool:
        """Whether ``module`` is the module exported, with the weights it had then."""
        return self._module() is module and self._state() == self._versions

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
