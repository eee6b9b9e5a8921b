"""Head pose from the face mesh: yaw, pitch and roll in degrees, fitted to MediaPipe's canonical face.

MediaPipe's geometry pipeline fits its canonical face (``geometry_pipeline_metadata_landmarks``)
to the mesh by a weighted Procrustes fit over 33 stable landmarks and reports the fit as a 4 x 4
matrix. Here the same weighted rotation fit (SciPy's ``Rotation.align_vectors``, the Kabsch
solution) is made on the mesh in image pixels, seen orthographically (MediaPipe also undoes the
camera's perspective, a few degrees' difference for a face off the image's centre).

Angles, in a frame with x to the image's right, y up and z toward the camera, as
``R = Ry(yaw) Rx(-pitch) Rz(roll)``: ``yaw`` > 0 when the face turns toward the image's right
(the subject's left, unmirrored), ``pitch`` > 0 when it tilts up, ``roll`` > 0 when the head
leans counter-clockwise in the image (toward the subject's right shoulder). A frontal face is 0, 0, 0.
"""

from __future__ import annotations

import numpy as np

from .bundle import CanonicalFace

__all__ = ["HEAD_POSE_ANGLES", "head_pose", "pose_angles", "pose_rotation"]


def pose_rotation(mesh: np.ndarray, canonical: CanonicalFace) -> np.ndarray:
    """The 3 x 3 rotation taking the canonical face onto ``mesh`` ((478, 3) image pixels, z on
    the scale of x, smaller z nearer the camera)."""
    from scipy.spatial.transform import Rotation

    ids, weights = canonical.landmark_ids, canonical.weights
    seen = np.asarray(mesh, np.float64)[ids] * np.array([1.0, -1.0, -1.0])  # to x right, y up, z to the camera
    model = canonical.vertices[ids]
    centred_seen = seen - np.average(seen, axis=0, weights=weights)
    centred_model = model - np.average(model, axis=0, weights=weights)
    rotation, _ = Rotation.align_vectors(centred_seen, centred_model, weights=weights)
    return rotation.as_matrix()


#: The angles of :func:`head_pose`, in degrees.
HEAD_POSE_ANGLES = ("yaw", "pitch", "roll")


def pose_angles(rotation: np.ndarray) -> dict[str, float]:
    """{"yaw", "pitch", "roll"} in degrees of a canonical-to-camera rotation (see the module's frame)."""
    from scipy.spatial.transform import Rotation

    yaw, pitch, roll = Rotation.from_matrix(np.asarray(rotation)[:3, :3]).as_euler("YXZ", degrees=True)
    return {"yaw": float(yaw), "pitch": float(-pitch), "roll": float(roll)}


def head_pose(mesh: np.ndarray, canonical: CanonicalFace) -> dict[str, float]:
    """{"yaw", "pitch", "roll"} in degrees of the face whose mesh is ``mesh``."""
    return pose_angles(pose_rotation(mesh, canonical))
