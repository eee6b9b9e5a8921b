"""The ``geometry`` classifier's network and its input: blendshapes, head pose and the mesh, normalised.

:func:`feature_matrix` turns :class:`~.features.MeshFeatures` into one row per face: the 51
blendshape scores, the head pose (yaw, pitch, roll divided by 30 degrees) and, with ``points``,
the 146 mesh points the blendshape model reads with the in-plane pose taken out (centred on
their mean, turned so the outer eye corners lie level, divided by the distance between them).
:class:`GeometryNet` standardises the row (mean and spread of the training faces, kept in the
weights) and maps it to seven logits with one hidden layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES, SUBSET
from fexlab.plugins.face_mesh.region import LEFT_EYE_CORNER, RIGHT_EYE_CORNER

from .features import MeshFeatures

__all__ = ["GeometryNet", "feature_matrix", "feature_size"]

_RIGHT, _LEFT = int(np.flatnonzero(SUBSET == RIGHT_EYE_CORNER)[0]), int(np.flatnonzero(SUBSET == LEFT_EYE_CORNER)[0])
_POSE_SCALE = 30.0


def feature_size(points: bool) -> int:
    """Length of one face's row of :func:`feature_matrix`."""
    return len(ARKIT_NAMES) + 3 + (2 * len(SUBSET) if points else 0)


def normalised_points(points: np.ndarray) -> np.ndarray:
    """(N, 146, 2) mesh points -> (N, 292): centred, eyes levelled, scaled to the eye corners' distance."""
    pts = np.asarray(points, np.float64)
    pts = pts - pts.mean(axis=1, keepdims=True)
    eye = pts[:, _LEFT] - pts[:, _RIGHT]
    span = np.maximum(np.linalg.norm(eye, axis=1), 1e-6)
    cos, sin = eye[:, 0] / span, eye[:, 1] / span
    rotated = np.stack([pts[..., 0] * cos[:, None] + pts[..., 1] * sin[:, None],
                        -pts[..., 0] * sin[:, None] + pts[..., 1] * cos[:, None]], axis=-1)
    return (rotated / span[:, None, None]).reshape(len(pts), -1)


def feature_matrix(features: MeshFeatures, points: bool = True) -> np.ndarray:
    """(N, :func:`feature_size`) float32 rows; rows of faces without a mesh are zeros."""
    parts = [features.blendshapes.astype(np.float64), features.pose.astype(np.float64) / _POSE_SCALE]
    if points:
        parts.append(normalised_points(features.points))
    rows = np.concatenate(parts, axis=1)
    rows[~np.asarray(features.found, bool)] = 0.0
    return rows.astype(np.float32)


class GeometryNet(nn.Module):
    """Standardised features -> a hidden layer (GELU, dropout) -> 7 logits; ``hidden=0``: linear."""

    def __init__(self, inputs: int, hidden: int = 128, classes: int = 7, dropout: float = 0.2):
        super().__init__()
        self.register_buffer("mean", torch.zeros(inputs))
        self.register_buffer("scale", torch.ones(inputs))
        if hidden:
            self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, classes))
        else:
            self.net = nn.Sequential(nn.Linear(inputs, classes))

    def set_standardisation(self, rows: np.ndarray) -> None:
        """Mean and spread of the training rows, kept in the weights."""
        self.mean.copy_(torch.as_tensor(rows.mean(axis=0), dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(np.maximum(rows.std(axis=0), 1e-3), dtype=torch.float32))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.net((rows - self.mean) / self.scale)
