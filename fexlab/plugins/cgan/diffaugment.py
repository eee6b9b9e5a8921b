"""Differentiable augmentation (Zhao et al. 2020, "DiffAugment") for training GANs on small data.

The same random transform family is applied to real and generated images before the
discriminator sees them, and every operation is differentiable, so the generator's gradients
pass through it. The discriminator then cannot memorise the few real images, while the
generator still learns un-augmented images (the transforms never leak into its output).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["POLICIES", "diff_augment", "parse_policy"]


def _color(x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]
    rand = lambda: torch.rand(n, 1, 1, 1, device=x.device, generator=g)  # noqa: E731
    x = x + (rand() - 0.5) * 0.5  # brightness
    if x.shape[1] > 1:  # saturation only means something in colour
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand() * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rand() + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side, filling with zeros, via grid sampling."""
    n = x.shape[0]
    shift = (torch.rand(n, 2, device=x.device, generator=g) * 2 - 1) * ratio * 2  # grid units
    shift = torch.round(shift * x.shape[-1] / 2) / (x.shape[-1] / 2)  # whole pixels
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _cutout(x: torch.Tensor, g: torch.Generator | None, ratio: float = 0.25) -> torch.Tensor:
    """Zero one square of side ``ratio`` of the image at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - ch + 1, (n, 1, 1), device=x.device, generator=g)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), device=x.device, generator=g)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def parse_policy(policy: str) -> list[str]:
    """``"color,translation"`` -> ["color", "translation"]; an empty string means no augmentation."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the comma-separated ``policy`` (e.g. ``"color,translation,cutout"``) to a batch."""
    for name in parse_policy(policy):
        x = POLICIES[name](x, generator)
    return x
