"""The prediction pipeline: image or video -> faces -> emotions, for one or several classifiers.

Image: normalise to RGB (``preprocessing.load_image_scaled``) -> detector -> square crop per
classifier margin -> every face of the image classified in one batch per classifier. Boxes are
reported in the pixels of the image as given (after EXIF rotation).

Video: frames are streamed from disk, every ``every``-th one analysed, ``batch_frames`` of them
at a time, so memory stays bounded whatever the length; faces are tracked across frames by box
overlap so each gets a ``track`` id for its emotion timeline.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from preprocessing.faces import crop_face
from preprocessing.images import ImageSource, load_image_scaled
from registry import DEFAULT_DETECTOR, EMOTIONS, Classifier, FaceDetector, InputError, Registry
from registry.emotions import EMOTION_COLORS

__all__ = [
    "VIDEO_EXTENSIONS",
    "FacePrediction",
    "FramePrediction",
    "ImagePrediction",
    "Predictor",
    "VideoWriter",
    "annotate",
    "is_video",
    "read_video",
    "video_fps",
    "video_frame_count",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")


# FFmpeg prints its own lines ("moov atom not found") beside fexlab's one-line error for a damaged
# video; keep them quiet unless the user set a level.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

#: Threads that run the face detector on the frames of one batch at once. OpenCV releases the GIL,
#: so on a multi-core CPU a video batch is detected in parallel; only detectors that declare
#: ``thread_safe = True`` (the Haar cascade keeps one cascade per thread) are run this way.
DETECT_WORKERS = max(1, min(4, os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _detect_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(DETECT_WORKERS, thread_name_prefix="fexlab-detect")
        return _pool


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video file (by extension)."""
    return Path(str(path)).suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class FacePrediction:
    """One face: its box (x, y, w, h), detector score, and probabilities per classifier."""

    box: tuple[int, int, int, int]
    score: float
    probabilities: dict[str, np.ndarray]
    landmarks: dict[str, tuple[float, float]] | None = None
    track: int | None = None

    def top(self, classifier: str | None = None) -> tuple[str, float]:
        """(emotion, probability) of the most likely emotion for ``classifier`` (default: first)."""
        probs = self.probabilities[classifier or next(iter(self.probabilities))]
        index = int(np.argmax(probs))
        return EMOTIONS[index], float(probs[index])

    @property
    def emotion(self) -> str:
        return self.top()[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: box, top emotion and probabilities of the first classifier, then all."""
        names = list(self.probabilities)
        out: dict[str, Any] = {
            "box": [int(v) for v in self.box],
            "emotion": self.top(names[0])[0],
            "probabilities": _prob_dict(self.probabilities[names[0]]),
        }
        if len(names) > 1:
            out["classifiers"] = {
                name: {"emotion": self.top(name)[0], "probabilities": _prob_dict(self.probabilities[name])}
                for name in names
            }
        if self.track is not None:
            out["track"] = self.track
        return out


@dataclass
class ImagePrediction:
    """The faces found in one image; ``size`` is the (width, height) of the image as given."""

    faces: list[FacePrediction]
    size: tuple[int, int]
    image: np.ndarray | None = field(default=None, repr=False)


@dataclass
class FramePrediction:
    """The faces in one analysed video frame."""

    index: int
    time: float
    faces: list[FacePrediction]
    frame: np.ndarray | None = field(default=None, repr=False)


def _prob_dict(probs: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 6) for name, p in zip(EMOTIONS, probs)}


class Predictor:
    """Runs a face detector and one or more classifiers over images and videos."""

    def __init__(self, classifiers: Mapping[str, Classifier] | Sequence[Classifier] | Classifier, detector: FaceDetector):
        if isinstance(classifiers, Classifier):
            classifiers = [classifiers]
        if not isinstance(classifiers, Mapping):
            classifiers = {c.name: c for c in classifiers}
        if not classifiers:
            raise InputError("choose at least one classifier")
        self.classifiers: dict[str, Classifier] = dict(classifiers)
        self.detector = detector

    @classmethod
    def from_registry(cls, registry: Registry, classifiers: Sequence[str], detector: str = DEFAULT_DETECTOR) -> Predictor:
        """Load classifiers (``name[.tag][:checkpoint]`` specs) and a detector from ``registry``."""
        return cls({spec: registry.classifier(spec) for spec in classifiers}, registry.detector(detector))

    # -- images ----------------------------------------------------------------------------------
    def predict_image(self, source: ImageSource, *, keep_image: bool = False, name: str | None = None) -> ImagePrediction:
        """Faces and emotions in one image (any source :func:`load_image_scaled` accepts).

        ``name`` is how error messages call the image (default: its path).
        """
        image, scale = load_image_scaled(source, name=name)
        faces = self.predict_frames([image])[0]
        if scale != 1.0:
            faces = [_rescale(face, 1.0 / scale) for face in faces]
        size = (round(image.shape[1] / scale), round(image.shape[0] / scale))
        return ImagePrediction(faces, size, image if keep_image else None)

    def predict_frames(self, frames: Sequence[np.ndarray]) -> list[list[FacePrediction]]:
        """Detect in each RGB frame (in parallel where the detector allows), then classify every
        face of every frame in one batch per classifier."""
        if len(frames) > 1 and DETECT_WORKERS > 1 and getattr(self.detector, "thread_safe", False):
            detections = list(_detect_pool().map(self.detector.detect, frames))
        else:
            detections = [self.detector.detect(frame) for frame in frames]
        owners = [i for i, faces in enumerate(detections) for _ in faces]
        flat = [face for faces in detections for face in faces]
        probs: dict[str, np.ndarray] = {}
        for name, classifier in self.classifiers.items():
            margin = classifier.input_spec().crop_margin
            crops = [crop_face(frames[i], face.box, margin=margin) for i, face in zip(owners, flat)]
            probs[name] = classifier.predict(crops) if crops else np.zeros((0, len(EMOTIONS)), np.float32)
        results: list[list[FacePrediction]] = [[] for _ in frames]
        for k, (owner, face) in enumerate(zip(owners, flat)):
            per = {name: p[k] for name, p in probs.items()}
            results[owner].append(FacePrediction(face.box, face.score, per, face.landmarks))
        return results

    # -- video -----------------------------------------------------------------------------------
    def predict_video(
        self, path: str | Path, *, every: int = 1, batch_frames: int = 16, keep_frames: bool = False,
        max_frames: int | None = None,
    ) -> Iterator[FramePrediction]:
        """Stream a video file: every ``every``-th frame, ``batch_frames`` frames per batch."""
        if every < 1:
            raise InputError(f"every must be >= 1, got {every}")
        tracker = _IoUTracker()
        batch: list[tuple[int, float, np.ndarray]] = []
        for index, time, frame in read_video(path, every=every, max_frames=max_frames):
            batch.append((index, time, frame))
            if len(batch) == batch_frames:
                yield from self._flush(batch, tracker, keep_frames)
                batch = []
        if batch:
            yield from self._flush(batch, tracker, keep_frames)

    def _flush(self, batch, tracker, keep_frames) -> Iterator[FramePrediction]:
        results = self.predict_frames([frame for _, _, frame in batch])
        for (index, time, frame), faces in zip(batch, results):
            tracker.assign(faces)
            yield FramePrediction(index, time, faces, frame if keep_frames else None)


def read_video(path: str | Path, *, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, seconds, RGB frame) for every ``every``-th frame; one frame in memory at a time."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path} is not a video OpenCV can open (corrupt, or an unsupported codec)")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        fps = fps if 0 < fps < 1000 else 25.0
        index = produced = 0
        while max_frames is None or produced < max_frames:
            if index % every == 0:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                produced += 1
                yield index, index / fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not capture.grab():
                break
            index += 1
        if index == 0:
            raise InputError(f"{path}: no frame could be read; the video is empty or corrupt")
    finally:
        capture.release()


#: Codec per output container: WebM/VP8 plays in browsers, MP4/mp4v in desktop players.
_FOURCC = {".webm": "VP80", ".mp4": "mp4v", ".avi": "MJPG"}


class VideoWriter:
    """Writes RGB frames to a video file; the codec follows the suffix (.webm, .mp4, .avi).

    The frame size is taken from the first frame. Use as a context manager.
    """

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        if self.path.suffix.lower() not in _FOURCC:
            raise InputError(f"cannot write '{self.path.suffix}' videos; use one of {sorted(_FOURCC)}")
        self.fps = fps
        self._writer = None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            height, width = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, max(self.fps, 1.0), (width, height))
            if not self._writer.isOpened():
                raise InputError(f"cannot write the video {self.path}")
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def video_frame_count(path: str | Path) -> int:
    """Number of frames the video's header announces (0 when it does not say)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
    finally:
        capture.release()


def video_fps(path: str | Path) -> float:
    """Frames per second recorded in a video file (25 when the file does not say)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    finally:
        capture.release()
    return fps if 0 < fps < 1000 else 25.0


class _IoUTracker:
    """Gives faces in consecutive frames the same ``track`` id when their boxes overlap."""

    def __init__(self, threshold: float = 0.3):
        self.threshold = threshold
        self.previous: list[FacePrediction] = []
        self.next_id = 0

    def assign(self, faces: list[FacePrediction]) -> None:
        free = list(self.previous)
        for face in faces:
            best = max(free, key=lambda old: _iou(old.box, face.box), default=None)
            if best is not None and _iou(best.box, face.box) >= self.threshold:
                face.track = best.track
                free.remove(best)
            else:
                face.track, self.next_id = self.next_id, self.next_id + 1
        self.previous = faces


def _iou(a: Sequence[int], b: Sequence[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _rescale(face: FacePrediction, factor: float) -> FacePrediction:
    x, y, w, h = face.box
    box = (round(x * factor), round(y * factor), round(w * factor), round(h * factor))
    marks = {k: (px * factor, py * factor) for k, (px, py) in face.landmarks.items()} if face.landmarks else None
    return FacePrediction(box, face.score, face.probabilities, marks, face.track)


def annotate(image: np.ndarray, faces: Iterable[FacePrediction], classifier: str | None = None) -> np.ndarray:
    """A copy of the RGB ``image`` with each face's box and "emotion 87%" label drawn on it."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    thickness = max(1, round(min(out.shape[:2]) / 300))
    for face in faces:
        emotion, p = face.top(classifier)
        colour = EMOTION_COLORS[emotion]
        x, y, w, h = face.box
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness + 1)
        label = f"{emotion} {p:.0%}"
        scale = max(0.4, min(2.0, w / 180))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 6, top + th + base + 4), colour, -1)
        cv2.putText(out, label, (x + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return out
