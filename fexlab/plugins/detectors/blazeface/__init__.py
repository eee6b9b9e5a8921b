"""MediaPipe BlazeFace face detection (short and full range) with six keypoints per face."""

from .plugin import BlazeFace, BlazeFaceConfig

__all__ = ["BlazeFace", "BlazeFaceConfig"]
