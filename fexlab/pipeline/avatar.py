"""The avatar: fexlab's FACS cartoon face made to wear the expression and pose of a real one.

A face analyzer (the face mesh) estimates each face's action units and head pose; the synthetic
renderer (:func:`fexlab.preprocessing.synthetic.render_action_units`) draws one cartoon identity with the
units it animates (AU1, 2, 4, 5, 6, 7, 9, 12, 15, 20, 23, 26) at those intensities, turned the same
way. A photo gives one avatar image; a video gives, frame by frame, the source beside its avatar.
The action units are estimates from blendshapes (see ``fexlab/plugins/face_mesh/action_units.py``), so the
avatar mirrors what they capture, not a FACS coder's reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.preprocessing.synthetic import render_action_units
from fexlab.registry import InputError

__all__ = ["avatar_frame", "avatar_of", "side_by_side", "write_avatar_video"]


def avatar_of(analysis: Mapping[str, Any] | None, *, seed: int = 0, size: int = 256) -> np.ndarray:
    """The (size, size, 3) RGB cartoon of one face's ``analysis`` (its ``action_units`` and
    ``head_pose``; a neutral frontal face where they are missing). The renderer's pitch and roll
    turn the other way round from the head pose's, and are flipped here."""
    analysis = analysis or {}
    pose = analysis.get("head_pose") or {}
    return render_action_units(analysis.get("action_units") or {}, seed, yaw=float(pose.get("yaw", 0.0)),
                               pitch=-float(pose.get("pitch", 0.0)), roll=-float(pose.get("roll", 0.0)), size=size)


def side_by_side(frame: np.ndarray, avatar: np.ndarray) -> np.ndarray:
    """``frame`` scaled to the avatar's height, with the avatar on its right (even width and height
    for the video encoder)."""
    import cv2

    height = avatar.shape[0]
    width = max(2, round(frame.shape[1] * height / frame.shape[0]) // 2 * 2)
    scaled = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return np.concatenate([scaled, avatar], axis=1)


def avatar_frame(frame: np.ndarray, faces: list[Any], *, seed: int = 0, size: int = 256) -> np.ndarray:
    """One video frame beside the avatar of its largest analysed face (neutral when there is none)."""
    analysed = [face for face in faces if getattr(face, "analysis", None)]
    face = max(analysed, key=lambda f: f.box[2] * f.box[3], default=None)
    return side_by_side(frame, avatar_of(face.analysis if face else None, seed=seed, size=size))


def write_avatar_video(path: str | Path, frames: Iterator[Any], fps: float, *, seed: int = 0,
                       size: int = 256) -> tuple[int, int]:
    """Write each ``FramePrediction`` (with its frame kept) beside its avatar to the WebM ``path``;
    returns the number of frames written and how many of them had an analysed face."""
    from fexlab.pipeline.predict import VideoWriter

    count = with_face = 0
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            if frame.frame is None:
                raise InputError("the avatar video needs the frames: predict_video(..., keep_frames=True)")
            writer.write(avatar_frame(frame.frame, frame.faces, seed=seed, size=size))
            count += 1
            with_face += any(getattr(face, "analysis", None) for face in frame.faces)
    return count, with_face
