"""A tiny seeded cGAN whose class-conditional gains differ per class, as after training, so that
its emotions draw visibly different faces."""

from __future__ import annotations

import torch

from fexlab.plugins.cgan import CGAN

__all__ = ["tiny_cgan"]


def tiny_cgan(seed: int = 0) -> CGAN:
    """A 64x64 cGAN with 16-dimensional latents and narrow layers, its weights drawn from ``seed``."""
    torch.manual_seed(seed)
    plugin = CGAN.from_config(g_width=8, z_dim=16)
    with torch.no_grad():
        for name, param in plugin.torch_module().named_parameters():
            if name.endswith((".gain", ".bias")) and param.dim() == 2:
                param.add_(torch.randn_like(param) * 0.5)
    return plugin
