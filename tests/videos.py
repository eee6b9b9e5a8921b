"""Small video files the tests write themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames to ``path`` with OpenCV's mp4v codec."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def face_video(path: Path, image: np.ndarray, count: int = 12, blank_every: int = 0) -> Path:
    """``count`` frames of ``image`` drifting right by 2 px a frame; every ``blank_every``-th is grey."""
    frames = []
    for i in range(count):
        frame = np.roll(image, 2 * i, axis=1)
        if blank_every and i % blank_every == blank_every - 1:
            frame = np.full_like(image, 128)
        frames.append(frame)
    return write_video(path, frames)


def sway_video(path: Path, image: np.ndarray, count: int = 250) -> Path:
    """``count`` frames of ``image`` (160 x 160) swaying left and right on a 240 x 180 grey ground,
    always whole in the frame."""
    frames = []
    for i in range(count):
        frame = np.full((180, 240, 3), 118, np.uint8)
        x = int(40 + 35 * np.sin(i / 12))
        frame[10:170, x:x + 160] = image
        frames.append(frame)
    return write_video(path, frames)
