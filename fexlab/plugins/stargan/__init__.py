"""stargan: edits the expression of a face, one translator for all seven emotions."""

from .model import PatchDiscriminator, StarGANGenerator
from .plugin import StarGAN, StarGANConfig

__all__ = ["PatchDiscriminator", "StarGAN", "StarGANConfig", "StarGANGenerator"]
