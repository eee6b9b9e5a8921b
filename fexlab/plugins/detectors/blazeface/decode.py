"""BlazeFace's input and output, the MediaPipe way: letterbox, SSD anchors, decoding, weighted NMS.

Pure NumPy and OpenCV, no model: the interpreter in :mod:`.plugin` turns the letterboxed input
into raw regressors (per anchor: box centre offset, size, six keypoints, in input pixels) and
raw scores (logits); this module turns those into faces in the original image's pixels.
MediaPipe's ``face_detection_short_range`` / ``full_range`` graphs define the constants below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KEYPOINTS", "MODELS", "Detections", "Letterbox", "ModelSpec", "Pyramid", "decode", "iou", "letterbox", "resize",
           "ssd_anchors", "weighted_nms"]

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
    """Where the image sits in the square model input: ``input = (image + pad) * scale``
    (``scale_y`` down the image where it differs from ``scale`` across it)."""

    scale: float
    pad_x: float
    pad_y: float
    scale_y: float | None = None

    def of_copy(self, copy: Letterbox) -> Letterbox:
        """This letterbox of a scaled copy of the image (``copy``: the copy's scales, no padding),
        as a letterbox of the image itself."""
        copy_y = copy.scale if copy.scale_y is None else copy.scale_y
        own_y = self.scale if self.scale_y is None else self.scale_y
        return Letterbox(self.scale * copy.scale, self.pad_x / copy.scale, self.pad_y / copy_y, own_y * copy_y)

    def resized(self, factor: float) -> Letterbox:
        """The same letterbox with its square resized by ``factor``."""
        return Letterbox(self.scale * factor, self.pad_x, self.pad_y, None if self.scale_y is None else self.scale_y * factor)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (HxWx3 uint8) resized to ``size`` (width, height) with Pillow's antialiased
    bilinear filter, on uint8: the resampling the reference inputs were made with."""
    from PIL import Image

    if size == (image.shape[1], image.shape[0]):
        return image
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(size, Image.BILINEAR))


def squared(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """``image`` (HxWx3 RGB uint8) centred on a black square and resized to ``size`` on uint8,
    and how to map points back."""
    height, width = image.shape[:2]
    side = max(height, width)
    pad_x, pad_y = (side - width) // 2, (side - height) // 2
    square = image
    if pad_x or pad_y:
        import cv2

        square = cv2.copyMakeBorder(np.ascontiguousarray(image), pad_y, side - height - pad_y, pad_x,
                                    side - width - pad_x, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return resize(square, (size, size)), Letterbox(size / side, float(pad_x), float(pad_y))


def letterbox(image: np.ndarray, size: int, out: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
    """:func:`squared`, then converted to the model's (1, size, size, 3) float32 input in [-1, 1]
    (written into ``out`` when given, a buffer reused from call to call)."""
    square, box = squared(image, size)
    tensor = np.empty((1, size, size, 3), np.float32) if out is None else out
    np.multiply(square, np.float32(1.0 / 127.5), out=tensor[0])
    tensor -= 1.0
    return tensor, box


class Pyramid:
    """An image and the smaller copies of it that the passes over it need, each made once.

    A copy is resized (:func:`resize`) from the smallest copy already made that is at least four
    times as large (else from the image), and the tiles of one size are cut from one copy instead
    of each being resized on its own; each copy comes with the :class:`Letterbox` that maps its
    points back to the image's pixels. (A copy made from one only twice its size, or with OpenCV's
    area average, shifts the scores of small faces by 0.01 to 0.03: measured on the detection
    benchmark's scenes.)
    """

    def __init__(self, image: np.ndarray):
        self.image = image
        self._copies: dict[tuple[int, int], np.ndarray] = {(image.shape[1], image.shape[0]): image}
        self._squares: dict[int, tuple[np.ndarray, Letterbox]] = {}

    def scaled(self, factor: float) -> tuple[np.ndarray, Letterbox]:
        """The image scaled by about ``factor`` (at most 1), rounded to whole pixels."""
        height, width = self.image.shape[:2]
        size = (max(1, min(width, round(width * factor))), max(1, min(height, round(height * factor))))
        copy = self._copies.get(size)
        if copy is None:
            source = min((c for (w, h), c in self._copies.items() if (w >= 4 * size[0] and h >= 4 * size[1])
                          or c is self.image), key=lambda c: c.shape[0] * c.shape[1])
            copy = self._copies[size] = resize(source, size)
        return copy, Letterbox(size[0] / width, 0.0, 0.0, size[1] / height)

    def source_for(self, size: int) -> tuple[np.ndarray, Letterbox]:
        """The smallest copy, halving the image, whose longer side is at least four times ``size``:
        what a model's ``size`` px input of the whole image is resized from (the image itself up
        to 4x ``size``)."""
        factor = 1.0
        while max(self.image.shape[:2]) * factor / 2 >= 4 * size:
            factor /= 2
        return self.scaled(factor)

    def square(self, size: int) -> tuple[np.ndarray, Letterbox]:
        """The whole image letterboxed into a ``size`` px square (:func:`squared`, uint8), and how
        to map its points back: from :meth:`source_for`, or resized from a larger square already
        made (the short-range model's 128 px input from the full-range model's 192 px one)."""
        if size not in self._squares:
            larger = [side for side in self._squares if side > size]
            if larger:
                square, box = self._squares[min(larger)]
                self._squares[size] = resize(square, (size, size)), box.resized(size / square.shape[0])
            else:
                copy, copy_box = self.source_for(size)
                square, box = squared(copy, size)
                self._squares[size] = square, box.of_copy(copy_box)
        return self._squares[size]


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
        scale = np.array([box.scale, box.scale if box.scale_y is None else box.scale_y], np.float32)
        boxes = self.boxes / np.tile(scale, 2)
        boxes[:, :2] -= shift
        return Detections(boxes, self.scores, self.keypoints / scale - shift)


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
