"""The geometry classifier: emotions from the Face Landmarker's blendshapes, head pose and mesh."""

from .plugin import Geometry, GeometryConfig

__all__ = ["Geometry", "GeometryConfig"]
