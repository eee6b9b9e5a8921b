"""BlazeFace's input and output, the MediaPipe way: letterbox, SSD anchors, decoding, weighted NMS.

Pure NumPy and OpenCV, no model: the interpreter in :mod:`.plugin` turns the letterboxed input
into raw regressors (per anchor: box centre offset, size, six keypoints, in input pixels) and
raw scores (logits); this module turns those into faces in the original image's pixels.
MediaPipe's ``face_detection_short_range`` / ``full_range`` graphs define the constants below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KEYPOINTS", "MODELS", "Detections", "Letterbox", "ModelSpec", "decode", "iou", "letterbox", "ssd_anchors",
           "weighted_nms"]

#: The six keypoints in the model's order, named from the subject's side (MediaPipe's names):
#: the subject's right eye is on the image's left in an unmirrored photo.
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


@dataclass(frozen=True)
class ModelSpec:
    """One BlazeFace model: its file, input side and the SSD anchor layout it was trained with."""

    filename: str
    input_size: int
    strides: tuple[int, ...]
    #: Each stride's grid gets this many anchors per cell (MediaPipe's aspect ratio 1.0 plus, when
    #: ``interpolated_scale_aspect_ratio`` is set, one more), all of the fixed size 1.
    anchors_per_cell: int


MODELS: dict[str, ModelSpec] = {
    # 128 px, 896 anchors: faces within about 2 m (selfies, portraits, webcams)
    "short": ModelSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    # 192 px, 2304 anchors: small and distant faces (group photos)
    "full": ModelSpec("face_detection_full_range.tflite", 192, (4,), 1),
}


def ssd_anchors(spec: ModelSpec) -> np.ndarray:
    """(A, 2) anchor centres in [0, 1], in the model's output order.

    Consecutive layers with the same stride share one grid (MediaPipe's ``SsdAnchorsCalculator``),
    so the short-range model's three stride-16 layers give 6 anchors per 8x8 cell.
    """
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride, repeats = spec.strides[layer], 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            repeats, layer = repeats + 1, layer + 1
        cells = int(np.ceil(spec.input_size / stride))
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, repeats * spec.anchors_per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits in the square model input: ``input = (image + pad) * scale``."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """``image`` (HxWx3 RGB uint8) centred on a black square and resized to ``size``: the
    model's (1, size, size, 3) float32 input in [-1, 1], and how to map points back."""
    import cv2
    from PIL import Image

    height, width = image.shape[:2]
    side = max(height, width)
    pad_x, pad_y = (side - width) // 2, (side - height) // 2
    square = cv2.copyMakeBorder(np.ascontiguousarray(image), pad_y, side - height - pad_y, pad_x,
                                side - width - pad_x, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    # Pillow's antialiased bilinear resize: the resampling the reference inputs were made with
    resized = np.asarray(Image.fromarray(square).resize((size, size), Image.BILINEAR))
    tensor = resized.astype(np.float32)[None] * (1.0 / 127.5) - 1.0
    return tensor, Letterbox(size / side, float(pad_x), float(pad_y))


@dataclass
class Detections:
    """Faces as arrays: ``boxes`` (N, 4) x, y, w, h; ``scores`` (N,); ``keypoints`` (N, 6, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, len(KEYPOINTS), 2), np.float32))

    @classmethod
    def concatenate(cls, parts: list["Detections"]) -> "Detections":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("boxes", "scores", "keypoints")))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> "Detections":
        return Detections(self.boxes[keep], self.scores[keep], self.keypoints[keep])

    def mapped(self, box: Letterbox, offset: tuple[float, float] = (0.0, 0.0)) -> "Detections":
        """From model-input pixels back to the image's (plus ``offset`` for a tile)."""
        shift = np.array([box.pad_x, box.pad_y], np.float32) - np.asarray(offset, np.float32)
        boxes = self.boxes / box.scale
        boxes[:, :2] -= shift
        return Detections(boxes, self.scores, self.keypoints / box.scale - shift)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
           min_score: float) -> Detections:
    """Raw outputs of one image, (A, 16) and (A,) or (A, 1), as faces in model-input pixels.

    Box centre = anchor centre + offset / input size (anchors have the fixed size 1); the score is
    the sigmoid of the logit clipped to +-80; faces below ``min_score`` are dropped.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -80.0, 80.0)))
    keep = scores >= min_score
    raw, centres = regressors[keep].astype(np.float32), anchors[keep] * input_size
    cx, cy = raw[:, 0] + centres[:, 0], raw[:, 1] + centres[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, len(KEYPOINTS), 2) + centres[:, None, :]
    return Detections(boxes, scores[keep].astype(np.float32), keypoints)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x, y, w, h) box with each of ``boxes`` (N, 4)."""
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return inter / np.maximum(union, 1e-9)


def weighted_nms(found: Detections, iou_threshold: float) -> Detections:
    """MediaPipe's weighted non-maximum suppression: the best remaining face and every face
    overlapping it by more than ``iou_threshold`` become one face whose box and keypoints are
    their score-weighted mean and whose score is the best one's."""
    order = np.argsort(-found.scores, kind="stable")
    boxes, scores, keypoints = found.boxes[order], found.scores[order], found.keypoints[order]
    merged_boxes, merged_scores, merged_points = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        overlap = iou(boxes[remaining[0]], boxes[remaining]) > iou_threshold
        overlap[0] = True
        cluster, remaining = remaining[overlap], remaining[~overlap]
        weights = scores[cluster] / scores[cluster].sum()
        merged_boxes.append(weights @ boxes[cluster])
        merged_points.append(np.tensordot(weights, keypoints[cluster], axes=1))
        merged_scores.append(scores[cluster[0]])
    if not merged_scores:
        return Detections.empty()
    return Detections(np.array(merged_boxes, np.float32), np.array(merged_scores, np.float32),
                      np.array(merged_points, np.float32))
