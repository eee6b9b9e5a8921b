"""A tiny seeded expression translator whose attention is wide open and whose emotions draw
different colours, as after training, so that its edits visibly differ per emotion."""

from __future__ import annotations

import torch

from fexlab.plugins.stargan import StarGAN

__all__ = ["tiny_stargan"]


def tiny_stargan(seed: int = 0, resolution: int = 16) -> StarGAN:
    """A ``resolution`` px gray translator with one narrow residual block, weights drawn from ``seed``."""
    torch.manual_seed(seed)
    plugin = StarGAN.from_config(resolution=resolution, width=4, blocks=1, d_width=8)
    generator = plugin.torch_module().generator
    with torch.no_grad():
        generator.attention.bias.fill_(2.0)  # mostly the colour head: edits show
        first = generator.body[0].weight  # the label channels push the colour apart per emotion
        first[:, 1:] += torch.randn_like(first[:, 1:]) * 2.0
    return plugin
