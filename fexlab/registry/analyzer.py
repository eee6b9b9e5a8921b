"""The ``FaceAnalyzer`` plugin kind: per detected face, named outputs beyond the seven emotions.

An analyzer runs after the face detector, on each face it found, and returns one dict per face
with the outputs it gives, in the image's pixels and plain units:

- ``mesh``: (N, 3) float points (x, y in pixels; z on the scale of x, smaller nearer the camera);
- ``presence``: the probability that the face's region holds a face (false detections score low);
- ``blendshapes``: ARKit name -> score in [0, 1] (``eyeBlinkLeft``: the subject's left eye);
- ``action_units``: ``"AU12"`` -> intensity in [0, 1];
- ``head_pose``: ``{"yaw", "pitch", "roll"}`` in degrees.

An analyzer gives the outputs it can (``outputs`` lists them). MediaPipe's Face Landmarker
(``face_mesh``) is the first; an action-unit model from another package plugs in the same way,
through the ``fexlab.analyzers`` entry-point group.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .detector import Face
from .plugin import Plugin

__all__ = ["ANALYSIS_KEYS", "FaceAnalyzer"]

#: The outputs an analyzer may give, by their names in each face's analysis dict.
ANALYSIS_KEYS = ("mesh", "presence", "blendshapes", "action_units", "head_pose")


class FaceAnalyzer(Plugin):
    """Base of face analyzers. ``analyze`` takes an HxWx3 RGB uint8 image and its detected faces."""

    kind: ClassVar[str] = "analyzer"
    requires_weights: ClassVar[bool] = False
    #: The keys of :data:`ANALYSIS_KEYS` this analyzer fills in.
    outputs: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def analyze(self, image: np.ndarray, faces: Sequence[Face]) -> list[dict[str, Any]]:
        """One dict of outputs per face of ``faces``, in the same order."""

    def mesh_faces(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(triangles (T, 3) indexing the mesh's points, texture coordinates (N, 2) or None) for
        3D exports, or None when the analyzer's mesh has no surface (the default)."""
        return None

    def output_names(self) -> dict[str, tuple[str, ...]]:
        """The names each of its scored outputs gives (``blendshapes``, ``action_units``,
        ``head_pose`` -> their names, in order), known before any face is analysed: tables with
        a column per name (``fexlab analyze``) are laid out from them. Empty by default."""
        return {}

    def present(self, analysis: dict[str, Any]) -> bool:
        """Whether ``analysis`` says its region holds a face (an analyzer with no presence
        score keeps every face)."""
        return True

    def follow(self, image: np.ndarray, previous: Sequence[dict[str, Any]]) -> list[tuple[Face, dict[str, Any]]] | None:
        """Video tracking: the faces of the previous frame's analyses found again in ``image``
        without the detector, each as (a detector-like face, its analysis), the lost ones left
        out; None when this analyzer cannot follow faces (the default)."""
        return None
