"""YuNet face detection (OpenCV's FaceDetectorYN model) in ONNX Runtime, with five keypoints per face."""

from .plugin import YuNet, YuNetConfig

__all__ = ["YuNet", "YuNetConfig"]
