"""The ``yunet`` detector: YuNet (Wu, Peng, Yu, 2023), box, score and five keypoints per face.

YuNet is the face detector OpenCV ships for ``cv2.FaceDetectorYN``: a 75k-parameter network that
finds faces at three scales (strides 8, 16 and 32) in one call. Its ONNX file (Apache-2.0, the
dynamic-size export of the training repository, checked by SHA-256) ships inside this package
(``weights/``) and runs in ONNX Runtime; the outputs are decoded as OpenCV's
``modules/objdetect/src/face_detect.cpp`` does (:func:`decode`), with OpenCV's own non-maximum
suppression, so the faces equal ``cv2.FaceDetectorYN``'s on the same input.

The image is never enlarged: YuNet misses faces larger than about 300 px in its input, so an
image whose longer side exceeds ``max_side`` is scaled down to it, and a smaller one is read as
it is (padded to a multiple of 32). Scaling a large photo down makes its small faces smaller
still; only there, when the image is more than twice ``max_side``, a second pass reads it at
twice that resolution and adds the faces too small for the first pass (one call: the network is
multi-scale, and one call over the whole image costs less than tiles of it).
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import Face, FaceDetector, InputError
from fexlab.registry.detector import faces_from_arrays
from fexlab.registry.errors import CheckpointError
from fexlab.registry.onnx_runtime import session_options
from fexlab.registry.plugin import BROKEN, PluginStatus

__all__ = ["KEYPOINTS", "MODEL_FILE", "MODEL_SHA256", "WEIGHTS_DIR", "YuNet", "YuNetConfig", "decode"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_FILE = "yunet_s_dynamic.onnx"
#: SHA-256 of ``onnx/yunet_s_dynamic.onnx`` of ShiqiYu/libfacedetection.train at commit 0047ac24.
MODEL_SHA256 = "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3"
#: The five keypoints in the model's order, named from the subject's side as BlazeFace's are.
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left")
STRIDES = (8, 16, 32)
ONNX_INSTALL = "pip install onnxruntime"


@dataclass
class YuNetConfig:
    #: Faces scoring below this are dropped. 0.6: no face on the title cards, drawings and text of
    #: the no-face benchmark, every face of the example photos (docs/detection.md).
    min_score: float = 0.6
    #: Faces overlapping by more IoU than this are merged into one (OpenCV's default 0.3).
    nms_iou: float = 0.3
    #: Images are scaled down to this longer side (never up); YuNet finds faces from about 10 px
    #: to about 300 px in its input.
    max_side: int = 640
    #: Images more than twice ``max_side`` also get a pass at twice the resolution for the faces
    #: the first pass is too coarse for.
    fine_pass: bool = True
    #: Intra-op threads of the ONNX Runtime session (0: one per core; on the 2 cores here a 640x480
    #: frame takes about 8 ms on two threads, 12 ms on one).
    num_threads: int = 0


def decode(outputs: dict[str, np.ndarray], width: int, height: int, min_score: float, nms_iou: float,
           top_k: int = 5000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (N, 4: x, y, w, h), scores (N,) and keypoints (N, 5, 2) from YuNet's raw outputs for
    an input of ``width`` x ``height`` (multiples of 32), in that input's pixels, as OpenCV's
    ``FaceDetectorYN`` decodes them: per anchor point, score = sqrt(class x objectness), the box
    centre offset by the regressed fraction of a stride, its size exp(regressed) strides."""

    boxes, scores, points = [], [], []
    for stride in STRIDES:
        cols, rows = width // stride, height // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= min_score)
        if not len(keep):
            continue
        r, c = np.divmod(keep, cols)
        assert rows * cols == len(score), (rows, cols, len(score))
        box = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        cx, cy = (c + box[:, 0]) * stride, (r + box[:, 1]) * stride
        w, h = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep]
        points.append(np.stack([(kps[:, :, 0] + c[:, None]) * stride, (kps[:, :, 1] + r[:, None]) * stride], axis=2))
        scores.append(score[keep])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    boxes_, scores_, points_ = np.concatenate(boxes), np.concatenate(scores), np.concatenate(points)
    kept = _nms(boxes_, scores_, min_score, nms_iou, top_k)
    return boxes_[kept].astype(np.float32), scores_[kept].astype(np.float32), points_[kept].astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, min_score: float, nms_iou: float, top_k: int = 5000) -> np.ndarray:
    """Indices of the faces OpenCV's non-maximum suppression keeps, best first."""
    import cv2

    return np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), min_score, nms_iou, top_k=top_k),
                      dtype=int).reshape(-1)


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled by ``scale`` (area-averaged), or itself at 1 or more."""
    import cv2

    if scale >= 1.0:
        return image
    height, width = image.shape[:2]
    return cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def _bgr(image: np.ndarray) -> np.ndarray:
    """An RGB(A) uint8 image in the BGR order YuNet reads."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2BGR)


class YuNet(FaceDetector):
    """YuNet in ONNX Runtime: one multi-scale pass, box, score and five keypoints per face."""

    name: ClassVar[str] = "yunet"
    description: ClassVar[str] = "YuNet (OpenCV's FaceDetectorYN model) in ONNX Runtime, box + 5 keypoints, offline"
    config_class: ClassVar[type] = YuNetConfig
    pretrained: ClassVar[dict[str, str]] = {"s": str(WEIGHTS_DIR / "s")}
    weights_hint: ClassVar[str] = ("the bundled model is missing: reinstall fexlab, or copy yunet_s_dynamic.onnx "
                                   f"(SHA-256 {MODEL_SHA256[:12]}...) into {WEIGHTS_DIR / 's'}")
    #: ``detect`` may run in several threads at once (an ONNX Runtime session is thread-safe).
    thread_safe: ClassVar[bool] = True

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        if not 0.0 < cfg.min_score < 1.0 or not 0.0 < cfg.nms_iou < 1.0:
            raise InputError(f"min_score and nms_iou must lie in (0, 1), got {cfg.min_score} and {cfg.nms_iou}")
        if cfg.max_side < 64:
            raise InputError(f"max_side must be at least 64 pixels, got {cfg.max_side}")
        if cfg.num_threads < 0:
            raise InputError(f"num_threads must be 0 (one per core) or more, got {cfg.num_threads}")
        self.model_path = WEIGHTS_DIR / "s" / MODEL_FILE
        self._session: Any = None
        self._lock = threading.Lock()

    # -- weights: the ONNX file beside config.json ---------------------------------------------
    def load_weights(self, directory: Path) -> None:
        path = Path(directory) / MODEL_FILE
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {MODEL_FILE}; the checkpoint is incomplete")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != MODEL_SHA256:
            raise CheckpointError(f"{path} is not YuNet's model (SHA-256 {digest[:12]}..., expected "
                                  f"{MODEL_SHA256[:12]}...): {self.weights_hint}")
        self.model_path, self._session = path, None

    def save_weights(self, directory: Path) -> None:
        shutil.copyfile(self.model_path, Path(directory) / MODEL_FILE)

    @classmethod
    def status(cls) -> PluginStatus:
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is None:
            return PluginStatus(BROKEN, f"ONNX Runtime is not installed: run `{ONNX_INSTALL}`")
        return super().status()

    # -- inference -------------------------------------------------------------------------------
    def session(self) -> Any:
        """The ONNX Runtime session, opened on first use."""
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                self._session = ort.InferenceSession(str(self.model_path), session_options(self.config.num_threads),
                                                     providers=["CPUExecutionProvider"])
                self._outputs = [o.name for o in self._session.get_outputs()]
            return self._session

    def raw_outputs(self, image_bgr: np.ndarray) -> tuple[dict[str, np.ndarray], int, int]:
        """YuNet's outputs for one BGR uint8 image, zero-padded right and bottom to multiples of 32
        as OpenCV pads it; with the padded width and height."""
        height, width = image_bgr.shape[:2]
        padded_w, padded_h = -(-width // 32) * 32, -(-height // 32) * 32
        tensor = np.zeros((1, 3, padded_h, padded_w), np.float32)
        tensor[0, :, :height, :width] = image_bgr.transpose(2, 0, 1)
        session = self.session()
        values = session.run(self._outputs, {session.get_inputs()[0].name: tensor})
        return dict(zip(self._outputs, values)), padded_w, padded_h

    def _pass(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        outputs, width, height = self.raw_outputs(image_bgr)
        return decode(outputs, width, height, self.config.min_score, self.config.nms_iou)

    def detect_arrays(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (x, y, w, h), scores and (5, 2) keypoints of every face in ``image`` (HxWx3 RGB
        uint8), in its pixels."""

        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
            raise InputError(f"yunet needs an HxWx3 RGB image, got shape {image.shape}")
        height, width = image.shape[:2]
        scale = min(1.0, self.config.max_side / max(height, width))  # never enlarged
        fine = self.config.fine_pass and scale < 0.5
        # with a finer pass, its copy is made first and the coarse one resized from it, not from the photo
        finer = _bgr(_resized(image, 2 * scale)) if fine else None
        coarse = _resized(finer, 0.5) if finer is not None else _bgr(_resized(image, scale))
        boxes, scores, points = self._pass(coarse)
        factor = coarse.shape[1] / width
        found = [(boxes / factor, scores, points / factor)]
        if finer is not None:
            # the faces the first pass saw under 24 px (YuNet finds faces reliably from about 20 px)
            boxes, scores, points = self._pass(finer)
            small, factor = np.maximum(boxes[:, 2], boxes[:, 3]) < 48, finer.shape[1] / width
            found.append((boxes[small] / factor, scores[small], points[small] / factor))
        boxes, scores, points = (np.concatenate(parts) for parts in zip(*found))
        if fine and len(boxes):
            kept = _nms(boxes, scores, self.config.min_score, self.config.nms_iou)
            boxes, scores, points = boxes[kept], scores[kept], points[kept]
        return boxes, scores, points

    def detect(self, image: np.ndarray) -> list[Face]:
        boxes, scores, points = self.detect_arrays(image)
        height, width = np.asarray(image).shape[:2]
        mouth_centres = points[:, 3:5].mean(axis=1, keepdims=True)  # between the mouth corners
        return faces_from_arrays(boxes, scores, np.concatenate([points, mouth_centres], axis=1),
                                 (*KEYPOINTS, "mouth_center"), width, height)
