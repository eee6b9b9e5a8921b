"""The prediction pipeline: image or video -> faces -> emotions, for one or several classifiers.

Image: normalise to RGB (``fexlab.preprocessing.load_image_scaled``) -> detector -> square crop per
classifier margin -> every face of the image classified in one batch per classifier. Boxes are
reported in the pixels of the image as given (after EXIF rotation).

Video: frames are streamed from disk, every ``every``-th one analysed, ``batch_frames`` of them
at a time, so memory stays bounded whatever the length; faces are tracked across frames by box
overlap so each gets a ``track`` id for its emotion timeline.

Face analyzers (``registry.FaceAnalyzer``: the face mesh, blendshapes, action units, head pose)
run on each detected face after the detector; their outputs are the face's ``analysis``, and a
face an analyzer finds no face in (the mesh's presence score) is dropped. In video, an analyzer
that can follow faces (the face mesh) gives each face's region in the next frame, as MediaPipe
does, and the detector runs only when a face is lost (and every ``redetect`` frames, for new ones).

One face order everywhere: the faces of an image or frame are listed left to right (then top to
bottom), numbered from 1 in that order, and tracks are numbered from 1 in the order they appear.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.preprocessing.align import classifier_crop
from fexlab.preprocessing.images import ImageSource, load_image_scaled
from fexlab.registry import (
    DEFAULT_ALIGN,
    DEFAULT_DETECTOR,
    EMOTIONS,
    Classifier,
    Face,
    FaceAnalyzer,
    FaceDetector,
    InputError,
    Registry,
)
from fexlab.registry.emotions import EMOTION_COLORS
from fexlab.registry.litert import WORKERS, parallel_pool

__all__ = [
    "BROWSER_CODECS",
    "KEYPOINT_COLOR",
    "VIDEO_EXTENSIONS",
    "FaceFollower",
    "FacePrediction",
    "FramePrediction",
    "IoUTracker",
    "ImagePrediction",
    "Predictor",
    "VideoWriter",
    "annotate",
    "browser_playable",
    "describe_video",
    "draw_mesh",
    "is_video",
    "media_files",
    "playable_suffix",
    "read_ahead",
    "read_video",
    "video_codec",
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
DETECT_WORKERS = WORKERS


#: Photos are analysed at up to this many pixels (2048 x 2048): the detectors read faces at 1280
#: px at most and the classifiers at most 224 px of a face, so a phone's 12 MP JPEG is decoded at
#: half its size by JPEG's own scaling, a quarter of the work of a full decode. Boxes are reported
#: in the pixels of the photo as given.
ANALYSIS_MAX_PIXELS = 2048 * 2048


def _detect_pool() -> ThreadPoolExecutor:
    return parallel_pool("detect")


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video file (by extension)."""
    return Path(str(path)).suffix.lower() in VIDEO_EXTENSIONS


def media_files(paths: Sequence[str | Path], *, recursive: bool = False) -> list[str]:
    """``paths`` with each folder replaced by the images and videos in it (by extension, in
    sorted path order; in its subfolders too when ``recursive``). Files are kept as given, so a
    bad one is reported by name."""
    from fexlab.preprocessing.readers import IMAGE_SUFFIXES

    found: list[str] = []
    for path in map(str, paths):
        folder = Path(path)
        if not folder.is_dir():
            found.append(path)
            continue
        entries = folder.rglob("*") if recursive else folder.iterdir()
        inside = sorted(str(entry) for entry in entries if entry.is_file() and not entry.name.startswith(".")
                        and (entry.suffix.lower() in IMAGE_SUFFIXES or is_video(entry)))
        if not inside:
            where = "in it or its subfolders" if recursive else "directly in it (--recursive looks in subfolders)"
            raise InputError(f"{path} is a folder with no images or videos {where}")
        found.extend(inside)
    return found


@dataclass
class FacePrediction:
    """One face: its box (x, y, w, h), detector score, and probabilities per classifier."""

    box: tuple[int, int, int, int]
    score: float
    probabilities: dict[str, np.ndarray]
    landmarks: dict[str, tuple[float, float]] | None = None
    track: int | None = None
    #: The analyzers' outputs (``fexlab.registry.analyzer.ANALYSIS_KEYS``: mesh, presence, blendshapes,
    #: action_units, head_pose), empty when none ran.
    analysis: dict[str, Any] = field(default_factory=dict)

    def top(self, classifier: str | None = None) -> tuple[str, float]:
        """(emotion, probability) of the most likely emotion for ``classifier`` (default: first)."""
        probs = self.probabilities[classifier or next(iter(self.probabilities))]
        index = int(np.argmax(probs))
        return EMOTIONS[index], float(probs[index])

    @property
    def emotion(self) -> str:
        return self.top()[0]

    def scaled(self, factor: float) -> FacePrediction:
        """The same face in an image ``factor`` times as large (box, keypoints and mesh)."""
        box = tuple(round(v * factor) for v in self.box)
        marks = {k: (x * factor, y * factor) for k, (x, y) in self.landmarks.items()} if self.landmarks else None
        analysis = dict(self.analysis)
        if "mesh" in analysis:
            analysis["mesh"] = np.asarray(analysis["mesh"]) * factor
        return FacePrediction(box, self.score, self.probabilities, marks, self.track, analysis)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: box, the detector's score, top emotion and probabilities of the first classifier, then all; the
        detector's ``keypoints`` (name -> [x, y]) and the video ``track`` when there are some."""
        names = list(self.probabilities)
        out: dict[str, Any] = {
            "box": [int(v) for v in self.box],
            "score": round(float(self.score), 4),
            "emotion": self.top(names[0])[0],
            "probabilities": _prob_dict(self.probabilities[names[0]]),
        }
        if len(names) > 1:
            out["classifiers"] = {
                name: {"emotion": self.top(name)[0], "probabilities": _prob_dict(self.probabilities[name])}
                for name in names
            }
        if self.landmarks:
            out["keypoints"] = {name: [round(float(x), 1), round(float(y), 1)]
                                for name, (x, y) in self.landmarks.items()}
        if self.track is not None:
            out["track"] = self.track
        out.update(_analysis_dict(self.analysis))
        return out


@dataclass
class ImagePrediction:
    """The faces found in one image; ``size`` is the (width, height) of the image as given;
    ``left_out``: the faces the detector scored below the predictor's minimum score."""

    faces: list[FacePrediction]
    size: tuple[int, int]
    image: np.ndarray | None = field(default=None, repr=False)
    left_out: int = 0


@dataclass
class FramePrediction:
    """The faces in one analysed video frame."""

    index: int
    time: float
    faces: list[FacePrediction]
    frame: np.ndarray | None = field(default=None, repr=False)


def describe_video(analysed: int, every: int, tracks: Sequence[int | None]) -> str:
    """One line on what a video's analysis found, in frames, detections and tracks, as the CLI
    and the app both say it; ``tracks`` holds the track id of every face detection:
    "Analysed 40 frames (every 1): 80 face detections in 2 tracks"."""
    detections, distinct = len(tracks), len(set(tracks))
    return (f"Analysed {analysed} frame{'s' if analysed != 1 else ''} (every {every}): {detections} face "
            f"detection{'s' if detections != 1 else ''} in {distinct} track{'s' if distinct != 1 else ''}")


def _prob_dict(probs: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 6) for name, p in zip(EMOTIONS, probs)}


def _analysis_dict(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """An analysis, JSON-ready: scores to 6 decimals, angles to 0.01 degree, the mesh as
    N x [x, y, z] pixels to 0.01."""
    out: dict[str, Any] = {}
    if "presence" in analysis:
        out["presence"] = round(float(analysis["presence"]), 6)
    for key in ("blendshapes", "action_units"):
        if key in analysis:
            out[key] = {name: round(float(v), 6) for name, v in analysis[key].items()}
    if "head_pose" in analysis:
        out["head_pose"] = {name: round(float(v), 2) for name, v in analysis["head_pose"].items()}
    if "mesh" in analysis:
        out["mesh"] = np.round(np.asarray(analysis["mesh"], np.float64), 2).tolist()
    return out


class Predictor:
    """Runs a face detector, face analyzers (if any) and one or more classifiers over images and videos.

    ``analyzers`` (a mapping of names to :class:`~registry.FaceAnalyzer`, or a sequence of them)
    run on each detected face; ``redetect``: in video, with an analyzer that follows faces, the
    detector also runs every ``redetect`` frames to find faces that came in (0: only when one is lost).
    """

    def __init__(self, classifiers: Mapping[str, Classifier] | Sequence[Classifier] | Classifier, detector: FaceDetector,
                 *, analyzers: Mapping[str, FaceAnalyzer] | Sequence[FaceAnalyzer] = (),
                 redetect: int = 30, align: bool = DEFAULT_ALIGN, min_score: float = 0.0):
        """``align``: level the eyes before cropping wherever the detector gives eye keypoints;
        ``min_score``: leave out the faces the detector scores below it (0 to 1)."""
        if not 0.0 <= min_score <= 1.0:
            raise InputError(f"the minimum face score must lie between 0 and 1, got {min_score}")
        if isinstance(classifiers, Classifier):
            classifiers = [classifiers]
        if not isinstance(classifiers, Mapping):
            classifiers = {c.name: c for c in classifiers}
        if not classifiers:
            raise InputError("choose at least one classifier")
        self.classifiers: dict[str, Classifier] = dict(classifiers)
        self.detector = detector
        self.align = align
        if not isinstance(analyzers, Mapping):
            analyzers = {a.name: a for a in analyzers}
        self.analyzers: dict[str, FaceAnalyzer] = dict(analyzers)
        if redetect < 0:
            raise InputError(f"redetect must be >= 0 frames, got {redetect}")
        self.redetect = redetect
        self.min_score = min_score

    @classmethod
    def from_registry(cls, registry: Registry, classifiers: Sequence[str], detector: str = DEFAULT_DETECTOR,
                      analyzers: Sequence[str] = ()) -> Predictor:
        """Load classifiers (``name[.tag][:checkpoint]`` specs), a detector and analyzers from ``registry``."""
        return cls({spec: registry.classifier(spec) for spec in classifiers}, registry.detector(detector),
                   analyzers={spec: registry.analyzer(spec) for spec in analyzers})

    def _crop(self, frame: np.ndarray, face: Face, margin: float) -> np.ndarray:
        """The square crop a classifier sees: eyes levelled when ``align`` and the face has eyes."""
        return classifier_crop(frame, face, margin, self.align)

    # -- images ----------------------------------------------------------------------------------
    def predict_image(self, source: ImageSource, *, keep_image: bool = False, name: str | None = None) -> ImagePrediction:
        """Faces and emotions in one image (any source :func:`load_image_scaled` accepts).

        ``name`` is how error messages call the image (default: its path).
        """
        image, scale = load_image_scaled(source, name=name, max_pixels=ANALYSIS_MAX_PIXELS)
        [detected], [left_out] = self._detect_frames([image])
        faces = self._classify([image], [self.analyze(image, detected)])[0]
        if scale != 1.0:
            faces = [face.scaled(1.0 / scale) for face in faces]
        size = (round(image.shape[1] / scale), round(image.shape[0] / scale))
        return ImagePrediction(faces, size, image if keep_image else None, left_out)

    def predict_frames(self, frames: Sequence[np.ndarray], *, follower: FaceFollower | None = None) -> list[list[FacePrediction]]:
        """Detect in each RGB frame (in parallel where the detector allows), analyse each face, then
        classify every face of every frame in one batch per classifier. Each frame's faces come left
        to right. ``follower`` (video): consecutive frames, each face's region taken from the last one."""
        if follower is not None:
            return self._classify(frames, [follower.step(frame) for frame in frames])
        detections = self._detect_frames(frames)[0]
        return self._classify(frames, [self.analyze(frame, faces) for frame, faces in zip(frames, detections)])

    def _detect_frames(self, frames: Sequence[np.ndarray]) -> tuple[list[list[Face]], list[int]]:
        """Each frame's faces scoring at least ``min_score``, left to right, detected in parallel
        where the detector allows; and how many faces of each the minimum score left out."""
        if len(frames) > 1 and DETECT_WORKERS > 1 and getattr(self.detector, "thread_safe", False):
            detections = list(_detect_pool().map(self.detector.detect, frames))
        else:
            detections = [self.detector.detect(frame) for frame in frames]
        kept = [sorted((face for face in faces if face.score >= self.min_score),
                       key=lambda face: (face.box[0], face.box[1])) for faces in detections]
        return kept, [len(faces) - len(chosen) for faces, chosen in zip(detections, kept)]

    def detect(self, frame: np.ndarray) -> list[Face]:
        """The faces the detector finds in one frame and keeps (its score at least ``min_score``)."""
        return [face for face in self.detector.detect(frame) if face.score >= self.min_score]

    def analyze(self, frame: np.ndarray, faces: Sequence[Face],
                done: Mapping[str, Sequence[dict[str, Any]]] | None = None) -> list[tuple[Face, dict[str, Any]]]:
        """Each face with the merged outputs of every analyzer, left to right; faces an analyzer
        finds no face in are dropped. ``done``: analyzer name -> outputs it already gave these faces."""
        faces = list(faces)
        merged: list[dict[str, Any]] = [{} for _ in faces]
        keep = [True] * len(faces)
        for name, analyzer in self.analyzers.items():
            outputs = (done or {}).get(name)
            if outputs is None:
                outputs = analyzer.analyze(frame, faces) if faces else []
            for i, output in enumerate(outputs):
                merged[i].update(output)
                keep[i] = keep[i] and analyzer.present(output)
        found = [(face, analysis) for face, analysis, kept in zip(faces, merged, keep) if kept]
        return sorted(found, key=lambda pair: (pair[0].box[0], pair[0].box[1]))

    def _classify(self, frames: Sequence[np.ndarray], found: Sequence[Sequence[tuple[Face, dict[str, Any]]]]
                  ) -> list[list[FacePrediction]]:
        """Every face of every frame through each classifier, one batch per classifier."""
        owners = [i for i, pairs in enumerate(found) for _ in pairs]
        flat = [face for pairs in found for face, _ in pairs]
        analyses = [analysis for pairs in found for _, analysis in pairs]
        probs: dict[str, np.ndarray] = {}
        for name, classifier in self.classifiers.items():
            margin = classifier.input_spec().crop_margin
            crops = [self._crop(frames[i], face, margin) for i, face in zip(owners, flat)]
            probs[name] = (classifier.predict_analysed(crops, analyses) if crops  # geometry reads the face mesh's outputs
                           else np.zeros((0, len(EMOTIONS)), np.float32))
        results: list[list[FacePrediction]] = [[] for _ in frames]
        for k, (owner, face) in enumerate(zip(owners, flat)):
            per = {name: p[k] for name, p in probs.items()}
            results[owner].append(FacePrediction(face.box, face.score, per, face.landmarks, analysis=analyses[k]))
        return results

    # -- video -----------------------------------------------------------------------------------
    def predict_video(
        self, path: str | Path, *, every: int = 1, batch_frames: int = 16, keep_frames: bool = False,
        max_frames: int | None = None, start: int = 0, stop: int | None = None,
    ) -> Iterator[FramePrediction]:
        """Stream a video file: every ``every``-th frame, ``batch_frames`` frames per batch; only
        the frames from index ``start`` (a multiple of ``every``) up to ``stop`` when given."""
        if every < 1:
            raise InputError(f"every must be >= 1, got {every}")
        tracker = IoUTracker()
        follower = FaceFollower.of(self)
        batch: list[tuple[int, float, np.ndarray]] = []
        frames = read_video(path, every=every, max_frames=max_frames, start=start, stop=stop)
        for index, time, frame in read_ahead(frames, batch_frames):
            batch.append((index, time, frame))
            if len(batch) == batch_frames:
                yield from self._flush(batch, tracker, keep_frames, follower)
                batch = []
        if batch:
            yield from self._flush(batch, tracker, keep_frames, follower)

    def _flush(self, batch, tracker, keep_frames, follower=None) -> Iterator[FramePrediction]:
        results = self.predict_frames([frame for _, _, frame in batch], follower=follower)
        for (index, time, frame), faces in zip(batch, results):
            tracker.assign(faces)
            yield FramePrediction(index, time, faces, frame if keep_frames else None)


def read_ahead(items: Iterator[Any], ahead: int) -> Iterator[Any]:
    """``items`` (video frames), produced up to ``ahead`` in advance by a thread of their own, so
    that decoding the next frames overlaps detecting and classifying the last ones (OpenCV
    releases the GIL while it decodes). An error while producing them is raised here; stopping
    early stops the thread and closes ``items``."""
    import queue

    ready: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    end = object()

    def offer(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((end, None))
        except BaseException as err:  # handed to the consumer, raised in its thread
            offer((end, err))
        finally:
            getattr(items, "close", lambda: None)()

    worker = threading.Thread(target=produce, name="fexlab-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def read_video(path: str | Path, *, every: int = 1, max_frames: int | None = None, start: int = 0,
               stop: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, seconds, RGB frame) for every ``every``-th frame (indices 0, ``every``,
    ``2 * every``...), from index ``start`` (a multiple of ``every``) up to ``stop`` when given;
    one frame in memory at a time."""
    import cv2

    if start < 0 or start % every:
        raise InputError(f"a video's first frame must be a multiple of every ({every}), got {start}")

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")
    image_format = _image_format(path)
    if image_format:
        raise InputError(f"{path} is a {image_format} image, not a video; give it its own extension "
                         f"(.{image_format.lower().replace('jpeg', 'jpg')}) to analyse it as a photo")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f"{path} is not a video OpenCV can open (corrupt, or an unsupported codec)")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        fps = fps if 0 < fps < 1000 else 25.0
        index = produced = 0
        if start:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
            index = start
        while (max_frames is None or produced < max_frames) and (stop is None or index < stop):
            if index % every == 0:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                produced += 1
                yield index, index / fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not capture.grab():
                break
            index += 1
        if index == 0 and not (stop == 0 or max_frames == 0):
            raise InputError(f"{path}: no frame could be read; the video is empty or corrupt")
    finally:
        capture.release()


def _image_format(path: Path) -> str | None:
    """The format of ``path`` when it is a still image whatever its name says ("JPEG", "PNG"...)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return None if getattr(image, "n_frames", 1) > 1 else image.format
    except (UnidentifiedImageError, OSError, ValueError):
        return None


#: Codec per output container, each one browsers play: WebM holds VP8, MP4 holds H.264 where
#: OpenCV's FFmpeg has an H.264 encoder (pip's OpenCV wheels have none: see :func:`playable_suffix`).
_FOURCC = {".webm": "VP80", ".mp4": "avc1"}
#: Video codecs (OpenCV FourCC, lower case) that Chromium, Firefox and Safari play in MP4 or WebM.
BROWSER_CODECS = frozenset({"vp80", "vp90", "vp08", "vp09", "avc1", "h264", "x264", "av01"})
_BROWSER_CONTAINERS = (".mp4", ".m4v", ".webm")


#: The line OpenCV's FFmpeg writer prints straight to the process's stderr (no log level silences
#: it) when a container has no FourCC table, as WebM has none: "OpenCV: FFMPEG: tag
#: 0x30385056/'VP80' is not supported with codec id 139 and format 'webm / WebM'". It then writes
#: VP8 all the same.
_FOURCC_NOTE = b"OpenCV: FFMPEG: tag "
_stderr_lock = threading.Lock()


@contextlib.contextmanager
def _without_fourcc_note() -> Iterator[None]:
    """Run the body with file descriptor 2 captured, then pass on every line but OpenCV's FourCC note."""
    import tempfile

    with _stderr_lock, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not line.startswith(_FOURCC_NOTE)]
            if kept:
                os.write(2, b"".join(kept))


def _open_writer(path: Path, fps: float, size: tuple[int, int]) -> Any:
    """An OpenCV VideoWriter for ``path``'s codec, opened without OpenCV's FourCC note on stderr."""
    import cv2

    with _without_fourcc_note():
        return cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*_FOURCC[path.suffix.lower()]), fps, size)


@functools.cache
def _can_write(suffix: str) -> bool:
    """Whether this OpenCV build can encode ``suffix``'s codec (one trial write)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        writer = _open_writer(Path(folder) / f"probe{suffix}", 10.0, (64, 64))
        opened = writer.isOpened()
        writer.release()
    return opened


def playable_suffix(source: str | Path) -> str:
    """The container an annotated copy of the video ``source`` is written in: the input's own
    (.webm, or .mp4 / .m4v as .mp4 when H.264 can be encoded here), else .webm, so that every
    annotated video plays in a browser."""
    suffix = Path(str(source)).suffix.lower()
    if suffix in (".mp4", ".m4v", ".mov") and _can_write(".mp4"):
        return ".mp4"
    return ".webm"


def video_codec(path: str | Path) -> str:
    """The video codec of ``path`` as OpenCV's FourCC in lower case (``"mp4v"``, ``"vp80"``...),
    or ``""`` when OpenCV cannot tell."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        code = int(capture.get(cv2.CAP_PROP_FOURCC) or 0) if capture.isOpened() else 0
    finally:
        capture.release()
    return code.to_bytes(4, "little").decode("ascii", errors="replace").strip("\x00 ").lower() if code else ""


def browser_playable(path: str | Path) -> bool:
    """Whether browsers can play the video file ``path`` as it is (container and codec)."""
    return Path(str(path)).suffix.lower() in _BROWSER_CONTAINERS and video_codec(path) in BROWSER_CODECS


class VideoWriter:
    """Writes RGB frames to a video file browsers play; the codec follows the suffix (.webm:
    VP8, .mp4: H.264 where it can be encoded).

    The frame size is taken from the first frame. Use as a context manager.
    """

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _FOURCC:
            raise InputError(f"cannot write '{self.path.suffix}' videos; use one of {sorted(_FOURCC)}")
        if not _can_write(suffix):
            raise InputError(f"this OpenCV cannot encode {_FOURCC[suffix]} for '{suffix}' videos; write .webm instead")
        self.fps = fps
        self._writer = None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            height, width = frame.shape[:2]
            self._writer = _open_writer(self.path, max(self.fps, 1.0), (width, height))
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


class FaceFollower:
    """Video tracking the MediaPipe way: the first analyzer that can follow faces finds each face
    of the last frame again in the region its analysis gives; the predictor's detector runs on the
    first frame, when a face is lost, and on every ``redetect``-th frame (frames 0, ``redetect``,
    ``2 * redetect``... of those the follower is given, whatever happened between), so a video cut
    into pieces of a multiple of ``redetect`` frames is analysed as it is in one piece.
    ``detections`` counts the detector's runs.

    ``predict_video`` makes one per video; a caller with frames of its own (a webcam) keeps one
    across calls: ``follower = FaceFollower.of(predictor)``, then
    ``predictor.predict_frames([frame], follower=follower)`` per frame.

    ``smoothing`` (0 to below 1, default 0: off) smooths a followed face's mesh, blendshapes,
    action units and head pose exponentially: each frame's value is ``smoothing`` times the last
    one's plus ``1 - smoothing`` times its own, and the next region comes from the smoothed mesh.
    It trades landmark jitter on a still face for lag on a moving one
    (``python -m benchmarks face-mesh-jitter`` measures both).
    """

    def __init__(self, predictor: Predictor, name: str, *, smoothing: float = 0.0):
        if not 0.0 <= smoothing < 1.0:
            raise InputError(f"smoothing must lie in [0, 1), got {smoothing}")
        self.predictor, self.name, self.smoothing = predictor, name, float(smoothing)
        self.analyzer = predictor.analyzers[name]
        self.previous: list[dict[str, Any]] = []
        self.steps = 0  # frames stepped so far
        self.detections = 0

    @classmethod
    def of(cls, predictor: Predictor, *, smoothing: float = 0.0) -> FaceFollower | None:
        """A follower for ``predictor``'s first analyzer that can follow faces, or None."""
        for name, analyzer in predictor.analyzers.items():
            if type(analyzer).follow is not FaceAnalyzer.follow:
                return cls(predictor, name, smoothing=smoothing)
        return None

    def _smoothed(self, last: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        """``current`` with its mesh and scores moved toward ``last`` by :attr:`smoothing`."""
        keep, out = self.smoothing, dict(current)
        if "mesh" in current and "mesh" in last:
            mesh = keep * np.asarray(last["mesh"]) + (1 - keep) * np.asarray(current["mesh"])
            out["mesh"] = mesh.astype(np.float32)
        for key in ("blendshapes", "action_units", "head_pose"):
            if key in current and key in last:
                out[key] = {name: keep * float(last[key].get(name, value)) + (1 - keep) * float(value)
                            for name, value in current[key].items()}
        return out

    def step(self, frame: np.ndarray) -> list[tuple[Face, dict[str, Any]]]:
        """The faces of the next frame with their analyses."""
        redetect = self.predictor.redetect
        due = redetect and self.steps % redetect == 0
        self.steps += 1
        if self.previous and not due:
            followed = self.analyzer.follow(frame, self.previous)
            if followed is not None and len(followed) == len(self.previous):
                faces = [face for face, _ in followed]
                found = self.predictor.analyze(frame, faces, {self.name: [analysis for _, analysis in followed]})
                if len(found) == len(faces):
                    if self.smoothing:
                        found = [(face, self._smoothed(last, analysis))
                                 for (face, analysis), last in zip(found, self.previous)]
                    self.previous = [analysis for _, analysis in found]
                    return found
        found = self.predictor.analyze(frame, self.predictor.detect(frame))
        self.detections += 1
        self.previous = [analysis for _, analysis in found]
        return found


class IoUTracker:
    """Gives faces in consecutive frames the same track id when their boxes overlap; tracks are
    numbered from 1, as faces are, in the order they appear."""

    def __init__(self, threshold: float = 0.3):
        self.threshold = threshold
        self.previous: list[tuple[Sequence[int], int]] = []  # the last frame's (box, track)
        self.next_id = 1

    def ids(self, boxes: Sequence[Sequence[int]]) -> list[int]:
        """The track id of each box of the next frame (x, y, w, h), in the order given."""
        free, ids = list(self.previous), []
        for box in boxes:
            best = max(free, key=lambda old: _iou(old[0], box), default=None)
            if best is not None and _iou(best[0], box) >= self.threshold:
                ids.append(best[1])
                free.remove(best)
            else:
                ids.append(self.next_id)
                self.next_id += 1
        self.previous = list(zip(boxes, ids))
        return ids

    def assign(self, faces: list[FacePrediction]) -> None:
        """Set the ``track`` of each face of the next frame."""
        for face, track in zip(faces, self.ids([face.box for face in faces])):
            face.track = track


def _iou(a: Sequence[int], b: Sequence[int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


#: Colour of keypoint dots (cyan: no emotion uses it), drawn with a dark rim.
KEYPOINT_COLOR = (0, 230, 255)


def annotate(image: np.ndarray, faces: Sequence[FacePrediction], classifier: str | None = None, *,
             numbers: bool = False, keypoints: bool = False) -> np.ndarray:
    """A copy of the RGB ``image`` with each face's box and "emotion 87%" label drawn on it.

    ``numbers`` puts each face's number (1, 2, ... in the order given) in a white badge at the
    start of its label; ``keypoints`` draws the detector's landmarks as dots. Each label goes
    where it covers no other face's box and no other label (above its box, else below, else
    inside it; see :func:`label_places`). Lines and text grow with the image, so they stay
    readable on a large photo shown scaled down.
    """
    import cv2

    out = np.ascontiguousarray(image.copy())
    height, width = out.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    line = max(1, round(max(height, width) / 500))
    labels = [_label_layout(face, number if numbers else None, classifier, height, width)
              for number, face in enumerate(faces, start=1)]
    places = label_places([face.box for face in faces], [layout["size"] for layout in labels], (height, width))
    for face, layout, (left, top) in zip(faces, labels, places):
        x, y, w, h = face.box
        cv2.rectangle(out, (x, y), (x + w, y + h), layout["colour"], line + 1)
    for face, layout, (left, top) in zip(faces, labels, places):
        scale, thickness, pad = layout["scale"], layout["thickness"], layout["pad"]
        label_h = layout["size"][1]
        if layout["badge"]:
            badge_w = layout["badge_w"]
            cv2.rectangle(out, (left, top), (left + badge_w, top + label_h), (255, 255, 255), -1)
            cv2.putText(out, layout["badge"], (left + pad, top + pad + layout["text_h"]), font, scale, (0, 0, 0),
                        thickness + 1, cv2.LINE_AA)
            left += badge_w
        cv2.rectangle(out, (left, top), (left + layout["label_w"], top + label_h), layout["colour"], -1)
        cv2.putText(out, layout["text"], (left + pad, top + pad + layout["text_h"]), font, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
        if keypoints and face.landmarks:
            radius = max(2, round(face.box[2] / 40), line + 1)
            for px, py in face.landmarks.values():
                centre = (round(px), round(py))
                cv2.circle(out, centre, radius + max(1, radius // 3), (0, 0, 0), -1, cv2.LINE_AA)
                cv2.circle(out, centre, radius, KEYPOINT_COLOR, -1, cv2.LINE_AA)
    return out


def _label_layout(face: FacePrediction, number: int | None, classifier: str | None, height: int,
                  width: int) -> dict[str, Any]:
    """Text, colour and sizes of one face's label: the number badge (if any) and "emotion 87%"."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    emotion, p = face.top(classifier)
    scale = _text_scale(face.box[2], height, width)
    thickness = max(1, round(scale * 1.2))
    pad = max(2, round(3 * scale))
    text = f"{emotion} {p:.0%}"
    (text_w, text_h), base = cv2.getTextSize(text, font, scale, thickness)
    badge = str(number) if number is not None else ""
    badge_w = cv2.getTextSize(badge, font, scale, thickness + 1)[0][0] + 2 * pad if badge else 0
    label_w, label_h = text_w + 2 * pad, text_h + base + 2 * pad
    return {"text": text, "colour": EMOTION_COLORS[emotion], "scale": scale, "thickness": thickness, "pad": pad,
            "text_h": text_h, "badge": badge, "badge_w": badge_w, "label_w": label_w,
            "size": (badge_w + label_w, label_h)}


def label_places(boxes: Sequence[Sequence[int]], sizes: Sequence[tuple[int, int]],
                 shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corner of each face's label (``sizes[i]`` = width, height), inside the image of
    ``shape`` (height, width): above its box, else below, else inside its top or bottom edge,
    whichever covers the least of the other faces' boxes and of the labels placed before it."""
    height, width = shape
    placed: list[tuple[int, int, int, int]] = []
    places = []
    for index, ((x, y, w, h), (label_w, label_h)) in enumerate(zip(boxes, sizes)):
        others = [tuple(box) for k, box in enumerate(boxes) if k != index]
        best = None
        for order, (left, top) in enumerate(((x, y - label_h), (x, y + h), (x, y), (x, y + h - label_h))):
            left = min(max(0, left), max(0, width - label_w))
            top = min(max(0, top), max(0, height - label_h))
            rect = (left, top, label_w, label_h)
            cover = sum(_overlap(rect, other) for other in [*others, *placed])
            if best is None or (cover, order) < best[0]:
                best = ((cover, order), (left, top))
        places.append(best[1])
        placed.append((*best[1], label_w, label_h))
    return places


def _overlap(a: Sequence[int], b: Sequence[int]) -> int:
    """Area shared by the rectangles ``a`` and ``b`` (x, y, w, h)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _text_scale(box_width: int, height: int, width: int) -> float:
    """OpenCV font scale of a face's label: at least 0.4, larger for a large face, and never
    smaller than about 1/60 of the image's long side in height, however small the face."""
    return max(0.4, min(2.0, box_width / 180), max(height, width) / 1400)


def draw_mesh(image: np.ndarray, faces: Sequence[FacePrediction], triangles: np.ndarray | None = None) -> np.ndarray:
    """A copy of the RGB ``image`` with each analysed face's mesh drawn on it: the edges of
    ``triangles`` (an analyzer's ``mesh_faces()``) as thin half-transparent lines (so that a small
    face still shows through its mesh), or each point as a dot without them."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    lines = out.copy()
    for face in faces:
        if "mesh" not in face.analysis:
            continue
        points = np.asarray(face.analysis["mesh"], np.float64)[:, :2]
        if triangles is not None:
            polygons = np.round(points[np.asarray(triangles)] * 16).astype(np.int32)
            cv2.polylines(lines, list(polygons), True, KEYPOINT_COLOR, 1, cv2.LINE_AA, 4)
        else:
            for x, y in np.round(points).astype(int):
                cv2.circle(out, (int(x), int(y)), 1, KEYPOINT_COLOR, -1)
    return cv2.addWeighted(lines, MESH_OPACITY, out, 1.0 - MESH_OPACITY, 0.0) if triangles is not None else out


#: How opaque :func:`draw_mesh` draws a mesh's edges.
MESH_OPACITY = 0.6
