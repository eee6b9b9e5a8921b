"""FACS renderer: the synthetic face renderer as a generator plugin (no weights, always ready)."""

from .plugin import FacsRenderer, FacsRendererConfig

__all__ = ["FacsRenderer", "FacsRendererConfig"]
