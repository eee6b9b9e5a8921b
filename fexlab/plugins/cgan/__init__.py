"""cgan: a class-conditional GAN drawing faces, one identity per seed across the emotions."""

from .model import CGANGenerator, ProjectionDiscriminator
from .plugin import CGAN, CGANConfig

__all__ = ["CGAN", "CGANConfig", "CGANGenerator", "ProjectionDiscriminator"]
