"""The blendshape stage's input and output: which 146 mesh points it reads, and its 52 names.

MediaPipe's ``face_blendshapes_graph.cc`` feeds ``face_blendshapes.tflite`` 146 of the 478 points
(``kLandmarksSubsetIdxs``), x and y only, in the image's pixels, and names its 52 outputs as
Apple's ARKit does (``kBlendshapeNames``; index 0, ``_neutral``, is no ARKit shape and is left out
of what fexlab reports). ``Left`` and ``Right`` are the subject's sides, as in ARKit: with an
unmirrored photo, ``eyeBlinkLeft`` is the eye on the image's right.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARKIT_NAMES", "MODEL_NAMES", "SUBSET", "blendshape_input"]

#: The 146 landmarks the blendshape model reads, in its input order (kLandmarksSubsetIdxs).
SUBSET = np.array([
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70,
    78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149,
    150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195,
    197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300,
    308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375,
    377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
])

#: The model's 52 outputs in order (kBlendshapeNames).
MODEL_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
#: The 51 ARKit names fexlab reports (``_neutral`` left out; ARKit's ``tongueOut`` has no output).
ARKIT_NAMES = MODEL_NAMES[1:]


def blendshape_input(mesh: np.ndarray) -> np.ndarray:
    """The model's (1, 146, 2) float32 input from a (478, >=2) mesh in image pixels."""
    mesh = np.asarray(mesh)
    if mesh.ndim != 2 or mesh.shape[0] != 478 or mesh.shape[1] < 2:
        raise ValueError(f"the blendshape stage needs a (478, 2 or 3) mesh, got shape {mesh.shape}")
    return np.ascontiguousarray(mesh[SUBSET, :2], dtype=np.float32)[None]
