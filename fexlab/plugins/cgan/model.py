"""The class-conditional GAN's networks: a generator with class-conditional batch norm and a
projection discriminator with spectral normalisation (Miyato & Koyama 2018), and an optional
auxiliary expression classifier (AC-GAN style, Odena et al. 2017) that makes the class signal
stronger early in training.

Both are deliberately small (DCGAN-sized) so that a model trains on a CPU in minutes. The class
enters the generator through an embedding concatenated to ``z`` and through the gains and biases
of its batch norms; ``z`` alone is drawn from the seed, so it carries what the classes share (the
identity) and the class carries the expression. A class may be
given as indices or as soft class weights (rows summing to 1), which is how the plugin
interpolates between two emotions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["ConditionalBatchNorm2d", "CGANGenerator", "ExpressionClassifier", "ProjectionDiscriminator", "class_weights"]


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N,) class indices -> (N, K) one-hot floats; (N, K) soft weights pass through."""
    if labels.dim() == 1:
        return F.one_hot(labels.long(), num_classes).float()
    return labels.float()


def _doublings(resolution: int) -> int:
    """How many times ``resolution`` halves down to its 3x3 or 4x4 stem (48 -> 3x3 in 4, 64 -> 4x4 in 4)."""
    doublings, side = 0, resolution
    while side % 2 == 0 and side // 2 >= 3:
        side //= 2
        doublings += 1
    if resolution < 8 or side not in (3, 4):
        raise ValueError(f"resolution must be 3 or 4 times a power of two, at least 8 (32, 48, 64, 96, 128), "
                         f"got {resolution}")
    return doublings


def _widths(base: int, resolution: int) -> list[int]:
    """Channel widths at the stem (3x3 or 4x4), then each doubling up to ``resolution``: ``8 * base``
    halving per doubling, at least ``base // 2`` (64x64 with base 32: 256, 128, 64, 32, 16)."""
    return [max(base * 8 >> j, base // 2, 8) for j in range(_doublings(resolution) + 1)]


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose per-channel gain and bias are looked up from the class weights."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Parameter(torch.ones(num_classes, channels))
        self.bias = nn.Parameter(torch.zeros(num_classes, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        gain = (weights @ self.gain)[:, :, None, None]
        bias = (weights @ self.bias)[:, :, None, None]
        return self.bn(x) * gain + bias


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.norm = ConditionalBatchNorm2d(cin, num_classes)
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(x, weights))
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class CGANGenerator(nn.Module):
    """``(z, class) -> image`` in [-1, 1], ``channels`` x ``resolution`` x ``resolution``."""

    def __init__(self, z_dim: int = 128, num_classes: int = 7, channels: int = 3, resolution: int = 64,
                 width: int = 32):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        widths = _widths(width, resolution)
        self.stem_side = resolution >> (len(widths) - 1)
        #: Class embedding concatenated to z: a direct path for the class from the first layer.
        self.class_embed = nn.Linear(num_classes, z_dim, bias=False)
        self.stem = nn.Linear(2 * z_dim, widths[0] * self.stem_side ** 2)
        self.blocks = nn.ModuleList(
            _UpBlock(cin, cout, num_classes) for cin, cout in zip(widths[:-1], widths[1:])
        )
        self.out_norm = ConditionalBatchNorm2d(widths[-1], num_classes)
        self.out = nn.Conv2d(widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weights = class_weights(labels, self.num_classes)
        x = self.stem(torch.cat([z, self.class_embed(weights)], dim=1)).view(z.shape[0], -1, self.stem_side, self.stem_side)
        for block in self.blocks:
            x = block(x, weights)
        return torch.tanh(self.out(F.relu(self.out_norm(x, weights))))


class ProjectionDiscriminator(nn.Module):
    """Spectrally normalised conv net with a class projection: ``psi(h) + <embed(y), h>``."""

    def __init__(self, num_classes: int = 7, channels: int = 3, resolution: int = 64, width: int = 32):
        super().__init__()
        self.num_classes = num_classes
        widths = [width * 2 ** i for i in range(_doublings(resolution))]  # down to the 3x3 or 4x4 stem
        layers: list[nn.Module] = []
        cin = channels
        for i, cout in enumerate(widths):
            if i >= len(widths) - 2:  # extra capacity where it is cheap: the two coarsest scales
                layers += [spectral_norm(nn.Conv2d(cin, cin, 3, padding=1)), nn.LeakyReLU(0.1)]
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.linear = spectral_norm(nn.Linear(cin, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, cin))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(x).sum(dim=(2, 3))
        projection = (class_weights(labels, self.num_classes) @ self.embed.weight * h).sum(dim=1)
        return self.linear(h).squeeze(1) + projection


class ExpressionClassifier(nn.Module):
    """A small batch-norm CNN that learns the emotions of the real training faces during GAN
    training (AC-GAN style, as a separate network): its cross-entropy on generated faces tells
    the generator early and clearly whether a face shows its emotion, which the Lipschitz-bounded
    discriminator learns only slowly. It is never saved with the generator."""

    def __init__(self, num_classes: int = 7, channels: int = 3, resolution: int = 64, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        blocks = max(1, min(5, _doublings(resolution)))  # halve down to the stem side or, from 128, 4x4
        for cout in (width, 2 * width, 4 * width, 8 * width, 8 * width)[:blocks]:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            cin = cout
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
