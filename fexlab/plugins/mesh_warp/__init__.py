"""The ``mesh_warp`` editor plugin: expressions edited along the face mesh at the photo's resolution."""

from .plugin import MAIN_UNITS, MeshWarp, MeshWarpConfig

__all__ = ["MAIN_UNITS", "MeshWarp", "MeshWarpConfig"]
