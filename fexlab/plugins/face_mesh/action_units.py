"""FACS action units estimated from ARKit blendshapes: one declared mapping.

These are ESTIMATES DERIVED FROM BLENDSHAPES, not the output of a model trained on FACS-coded
faces. ARKit's blendshapes were designed after FACS, so most units have a shape of their own
(``mouthSmile`` is the lip corner puller, AU12); a few are combinations, said below with the
reason. Paired shapes (``...Left`` / ``...Right``) are averaged: an action unit here is the face's,
not one side's. Every intensity lies in [0, 1] like the blendshape scores, not on FACS's A-E scale.

The table :data:`ACTION_UNITS` is the whole mapping: unit -> (FACS name, how it is made, rule).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["ACTION_UNITS", "BLENDSHAPES_OF_UNIT", "action_units"]

Blendshapes = Mapping[str, float]


def _get(shapes: Blendshapes, name: str) -> float:
    return float(shapes.get(name, 0.0))


def _both(shapes: Blendshapes, stem: str) -> float:
    """The mean of ``stem + "Left"`` and ``stem + "Right"``."""
    return (_get(shapes, stem + "Left") + _get(shapes, stem + "Right")) / 2.0


#: Action unit -> (FACS name, which blendshapes make it and how, the rule).
ACTION_UNITS: dict[str, tuple[str, str, Callable[[Blendshapes], float]]] = {
    "AU1": ("inner brow raiser", "browInnerUp", lambda b: _get(b, "browInnerUp")),
    "AU2": ("outer brow raiser", "browOuterUp (mean of both sides)", lambda b: _both(b, "browOuterUp")),
    "AU4": ("brow lowerer", "browDown", lambda b: _both(b, "browDown")),
    "AU5": ("upper lid raiser", "eyeWide", lambda b: _both(b, "eyeWide")),
    "AU6": ("cheek raiser", "the larger of cheekSquint and the eyes' squint where a smile comes with it "
            "(min of eyeSquint and mouthSmile): MediaPipe's cheekSquint stays near 0 even in a broad smile, "
            "while the raised cheek narrows the eyes",
            lambda b: max(_both(b, "cheekSquint"), min(_both(b, "eyeSquint"), _both(b, "mouthSmile")))),
    "AU7": ("lid tightener", "eyeSquint", lambda b: _both(b, "eyeSquint")),
    "AU9": ("nose wrinkler", "noseSneer", lambda b: _both(b, "noseSneer")),
    "AU10": ("upper lip raiser", "mouthUpperUp", lambda b: _both(b, "mouthUpperUp")),
    "AU12": ("lip corner puller", "mouthSmile", lambda b: _both(b, "mouthSmile")),
    "AU14": ("dimpler", "mouthDimple", lambda b: _both(b, "mouthDimple")),
    "AU15": ("lip corner depressor", "mouthFrown", lambda b: _both(b, "mouthFrown")),
    "AU16": ("lower lip depressor", "mouthLowerDown", lambda b: _both(b, "mouthLowerDown")),
    "AU17": ("chin raiser", "mouthShrugLower", lambda b: _get(b, "mouthShrugLower")),
    "AU18": ("lip pucker", "mouthPucker", lambda b: _get(b, "mouthPucker")),
    "AU20": ("lip stretcher", "mouthStretch", lambda b: _both(b, "mouthStretch")),
    "AU22": ("lip funneler", "mouthFunnel", lambda b: _get(b, "mouthFunnel")),
    "AU23": ("lip tightener", "no shape of its own: the mean of mouthPress (lips pressed) and of mouthRollUpper "
             "and mouthRollLower (lips drawn in), which together narrow and tighten the red of the lips",
             lambda b: (_both(b, "mouthPress") + (_get(b, "mouthRollUpper") + _get(b, "mouthRollLower")) / 2) / 2),
    "AU24": ("lip pressor", "mouthPress", lambda b: _both(b, "mouthPress")),
    "AU25": ("lips part", "the larger of jawOpen and mouthLowerDown, less mouthClose (lips held together "
             "over an open jaw)", lambda b: max(_get(b, "jawOpen"), _both(b, "mouthLowerDown")) - _get(b, "mouthClose")),
    "AU26": ("jaw drop", "jawOpen", lambda b: _get(b, "jawOpen")),
    "AU28": ("lip suck", "the larger of mouthRollUpper and mouthRollLower",
             lambda b: max(_get(b, "mouthRollUpper"), _get(b, "mouthRollLower"))),
    "AU34": ("cheek puff", "cheekPuff", lambda b: _get(b, "cheekPuff")),
    "AU43": ("eyes closed", "eyeBlink", lambda b: _both(b, "eyeBlink")),
}


#: The other way, for editing: unit -> the blendshapes set to a unit's intensity to make it. Each
#: unit made by one shape (or one pair) is set through it; the combinations above are set through
#: the shapes that carry them (AU6 the cheek's and the eyes' squint, AU23 the press of the lips, AU25
#: the lower lip's drop, AU28 both rolls).
BLENDSHAPES_OF_UNIT: dict[str, tuple[str, ...]] = {
    "AU1": ("browInnerUp",),
    "AU2": ("browOuterUpLeft", "browOuterUpRight"),
    "AU4": ("browDownLeft", "browDownRight"),
    "AU5": ("eyeWideLeft", "eyeWideRight"),
    "AU6": ("cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft", "eyeSquintRight"),
    "AU7": ("eyeSquintLeft", "eyeSquintRight"),
    "AU9": ("noseSneerLeft", "noseSneerRight"),
    "AU10": ("mouthUpperUpLeft", "mouthUpperUpRight"),
    "AU12": ("mouthSmileLeft", "mouthSmileRight"),
    "AU14": ("mouthDimpleLeft", "mouthDimpleRight"),
    "AU15": ("mouthFrownLeft", "mouthFrownRight"),
    "AU16": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "AU17": ("mouthShrugLower",),
    "AU18": ("mouthPucker",),
    "AU20": ("mouthStretchLeft", "mouthStretchRight"),
    "AU22": ("mouthFunnel",),
    "AU23": ("mouthPressLeft", "mouthPressRight"),
    "AU24": ("mouthPressLeft", "mouthPressRight"),
    "AU25": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "AU26": ("jawOpen",),
    "AU28": ("mouthRollUpper", "mouthRollLower"),
    "AU34": ("cheekPuff",),
    "AU43": ("eyeBlinkLeft", "eyeBlinkRight"),
}


def action_units(blendshapes: Blendshapes) -> dict[str, float]:
    """{"AU1": intensity, ...} in [0, 1] for every unit of :data:`ACTION_UNITS` (missing
    blendshapes count as 0): estimates from blendshapes, not a FACS-trained model."""
    return {unit: min(1.0, max(0.0, rule(blendshapes))) for unit, (_, _, rule) in ACTION_UNITS.items()}
