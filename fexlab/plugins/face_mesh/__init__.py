"""MediaPipe's Face Landmarker as the ``face_mesh`` analyzer: mesh, blendshapes, action units, head pose."""

from .plugin import FaceMesh, FaceMeshConfig

__all__ = ["FaceMesh", "FaceMeshConfig"]
