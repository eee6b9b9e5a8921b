"""Analysis at scale: folders of photos and hours of video into one Parquet table, resumable.

``fexlab analyze PATH... --out DIR`` writes

- ``DIR/faces/``: one Parquet dataset, a part per input file, one row per face per analysed frame
  (:class:`FaceTable` names the columns); ``pandas.read_parquet("DIR/faces")``, polars and DuckDB
  read it as one table;
- ``DIR/files.parquet``: one row per input, ``done`` or ``error`` with its one-line reason, its
  frames and faces, and the seconds each of a video's tracks spends in each emotion.

Each part is written under a temporary name and renamed when the input is finished, with the
settings that made it and the size and time of the file it was made from in its metadata
(:class:`Part`). A rerun with the same settings skips the inputs whose part is there and redoes
the rest, so a run stopped by Ctrl-C, a killed process or a lost machine goes on where it
stopped, with every input's rows exactly once. An input that cannot be read is an ``error`` row in
``files.parquet`` and the run goes on.

The engines that run an analysis share everything here: :func:`analyze_local` runs it in this
process; ``fexlab.pipeline.analysis_ray`` spreads it over the workers of a Ray cluster, videos cut
into frame ranges (:func:`frame_ranges`). Both make rows without tracks, and the part gives each
face its track as the rows come in frame order (:class:`IoUTracker`), so the two engines' rows are
the same.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fexlab.registry import (
    DEFAULT_ALIGN,
    DEFAULT_CLASSIFIER,
    DEFAULT_DETECTOR,
    EMOTIONS,
    FaceAnalyzer,
    FexlabError,
    InputError,
    Registry,
    __version__,
    default_registry,
)
from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER
from fexlab.registry.paths import printable

from .predict import FramePrediction, IoUTracker, Predictor, is_video, video_fps, video_frame_count

__all__ = [
    "FACES_DIR",
    "FILES_TABLE",
    "FRAMES_PER_RANGE",
    "Analysis",
    "AnalysisSettings",
    "FaceTable",
    "Part",
    "RangeWorker",
    "Workers",
    "analyze_file",
    "analyze_local",
    "analyze_ranges",
    "frame_ranges",
]

#: The faces dataset's folder and the table of inputs, inside the output folder.
FACES_DIR = "faces"
FILES_TABLE = "files.parquet"

# What a part's metadata holds: the settings that made it, the file it was made from (its path as
# given, its size and modification time), and once complete, the frames analysed and their rate.
_SETTINGS, _FILE, _SOURCE, _FRAMES, _FPS = (b"fexlab.settings", b"fexlab.file", b"fexlab.source",
                                            b"fexlab.frames", b"fexlab.fps")
#: Analysed frames per video range of the Ray engine by default: a multiple of the frames in one
#: classifier batch (16) and of the face mesh's redetection period (30), so that a video cut into
#: ranges is analysed exactly as in one piece.
RANGE_QUANTUM = 240
#: Analysed frames per range by default (16 s of 30 frames/s video): enough to make a range's start
#: (a seek and a detection) cheap, few enough that no worker is left alone with a long last range.
FRAMES_PER_RANGE = 480


@dataclass(frozen=True)
class AnalysisSettings:
    """What an analysis runs: classifiers (``name[.tag][:checkpoint]`` specs; the first one's
    answer is the ``emotion`` column), detector, analyzers and the options of ``fexlab predict``.
    No classifier means ``fexlab predict``'s default: :data:`DEFAULT_CLASSIFIER`, or with the face
    mesh :data:`DEFAULT_MESH_CLASSIFIER` (the mesh it reads is there anyway)."""

    classifiers: tuple[str, ...] = ()
    detector: str = DEFAULT_DETECTOR
    analyzers: tuple[str, ...] = ()
    every: int = 1
    min_score: float = 0.0
    align: bool = DEFAULT_ALIGN

    def __post_init__(self) -> None:
        if not self.classifiers:
            default = DEFAULT_MESH_CLASSIFIER if "face_mesh" in self.analyzers else DEFAULT_CLASSIFIER
            object.__setattr__(self, "classifiers", (default,))
        if self.every < 1:
            raise InputError(f"--every must be at least 1, got {self.every}")
        if not 0.0 <= self.min_score <= 1.0:
            raise InputError(f"--min-score must lie between 0 and 1, got {self.min_score}")

    def fingerprint(self) -> str:
        """The settings and fexlab's version as one string: parts made with another are redone."""
        return json.dumps({**asdict(self), "fexlab": __version__}, sort_keys=True)

    def predictor(self, registry: Registry | None = None) -> Predictor:
        registry = registry or default_registry()
        return Predictor({spec: registry.classifier(spec) for spec in self.classifiers},
                         registry.detector(self.detector),
                         analyzers={spec: registry.analyzer(spec) for spec in self.analyzers},
                         align=self.align, min_score=self.min_score)


def column_prefixes(specs: Sequence[str]) -> dict[str, str]:
    """Each classifier spec's column prefix: the spec with every run of characters other than
    letters and digits made one ``_`` (``efficientnet.fer2013`` -> ``efficientnet_fer2013``),
    numbered when two would be the same."""
    prefixes: dict[str, str] = {}
    for spec in specs:
        stem = re.sub(r"[^0-9A-Za-z]+", "_", spec).strip("_") or "classifier"
        prefix, n = stem, 2
        while prefix in prefixes.values():
            prefix, n = f"{stem}_{n}", n + 1
        prefixes[spec] = prefix
    return prefixes


class FaceTable:
    """The faces table's layout for one predictor: ``file``, ``frame``, ``time`` (seconds),
    ``track``, ``box_x``, ``box_y``, ``box_w``, ``box_h``, ``score``, ``emotion`` (the first
    classifier's), a ``PREFIX_EMOTION`` probability per classifier and emotion, then per analyzer
    its ``presence``, action units (``AU12``), blendshapes (``mouthSmileLeft``) and head pose
    (``head_yaw``, ``head_pitch``, ``head_roll``, degrees)."""

    def __init__(self, classifiers: Sequence[str], analyzers: Mapping[str, FaceAnalyzer]):
        import pyarrow as pa

        self.prefixes = column_prefixes(classifiers)
        #: (analysis key, output name or None for a single score, column)
        self.outputs: list[tuple[str, str | None, str]] = []
        for name, analyzer in analyzers.items():
            if "presence" in analyzer.outputs:
                self.outputs.append(("presence", None, "presence"))
            names = analyzer.output_names()
            for key, column in (("action_units", "{}"), ("blendshapes", "{}"), ("head_pose", "head_{}")):
                if key not in analyzer.outputs:
                    continue
                if key not in names:
                    raise InputError(f"the analyzer {name} does not name its {key} (FaceAnalyzer.output_names), "
                                     "so their columns cannot be laid out; analyse without it")
                self.outputs.extend((key, output, column.format(output)) for output in names[key])
        fields = [("file", pa.string()), ("frame", pa.int64()), ("time", pa.float64()), ("track", pa.int32()),
                  *((f"box_{c}", pa.int32()) for c in "xywh"), ("score", pa.float32()), ("emotion", pa.string()),
                  *((f"{prefix}_{emotion}", pa.float32()) for prefix in self.prefixes.values() for emotion in EMOTIONS),
                  *((column, pa.float32()) for _, _, column in self.outputs)]
        seen = [name for name, _ in fields]
        if len(set(seen)) != len(seen):
            twice = sorted({name for name in seen if seen.count(name) > 1})
            raise InputError(f"two outputs would make the same column ({', '.join(twice)}); drop one analyzer")
        self.schema = pa.schema(fields)

    @classmethod
    def of(cls, predictor: Predictor) -> FaceTable:
        return cls(list(predictor.classifiers), predictor.analyzers)

    def rows(self, file: str, frames: Sequence[FramePrediction]) -> Any:
        """The rows of ``frames``' faces as a ``pyarrow.Table``, tracks left empty (:class:`Part` fills them)."""
        import pyarrow as pa

        faces = [(frame, face) for frame in frames for face in frame.faces]
        columns: dict[str, Any] = {
            "file": [file] * len(faces),
            "frame": [frame.index for frame, _ in faces],
            "time": [float(frame.time) for frame, _ in faces],
            "track": [None] * len(faces),
        }
        boxes = np.array([face.box for _, face in faces], np.int32).reshape(-1, 4)
        for i, c in enumerate("xywh"):
            columns[f"box_{c}"] = boxes[:, i]
        columns["score"] = np.array([face.score for _, face in faces], np.float32)
        columns["emotion"] = [face.emotion for _, face in faces]
        for spec, prefix in self.prefixes.items():
            probs = np.array([face.probabilities[spec] for _, face in faces], np.float32).reshape(-1, len(EMOTIONS))
            for i, emotion in enumerate(EMOTIONS):
                columns[f"{prefix}_{emotion}"] = probs[:, i]
        for key, output, column in self.outputs:
            values = [face.analysis.get(key) for _, face in faces]
            if output is not None:
                values = [None if v is None or output not in v else v[output] for v in values]
            columns[column] = [None if v is None else float(v) for v in values]
        return pa.table(columns, schema=self.schema)


def analyze_file(predictor: Predictor, table: FaceTable, path: str, *, every: int = 1, start: int = 0,
                 stop: int | None = None, frames_per_chunk: int = 256) -> Iterator[tuple[Any, int]]:
    """(rows, frames analysed) of one photo or video, a chunk of ``frames_per_chunk`` frames at a
    time; a video only from frame ``start`` up to ``stop`` when given. The ``file`` column is the
    path as given, made printable."""
    file = printable(path)
    if not is_video(path):
        result = predictor.predict_image(path)
        yield table.rows(file, [FramePrediction(0, 0.0, result.faces)]), 1
        return
    chunk: list[FramePrediction] = []
    for frame in predictor.predict_video(path, every=every, start=start, stop=stop):
        chunk.append(frame)
        if len(chunk) == frames_per_chunk:
            yield table.rows(file, chunk), len(chunk)
            chunk = []
    if chunk or start == 0:  # an empty video still has its (empty) chunk, with the table's columns
        yield table.rows(file, chunk), len(chunk)


def frame_ranges(path: str, every: int, frames_per_range: int) -> list[tuple[int, int | None]]:
    """(start, stop) frame indices that cut a video into ranges of ``frames_per_range`` analysed
    frames (rounded up to a multiple of :data:`RANGE_QUANTUM`), the last one open-ended; a photo
    or a video whose length is not known is one range."""
    if not is_video(path):
        return [(0, None)]
    quantum = -(-max(1, frames_per_range) // RANGE_QUANTUM) * RANGE_QUANTUM
    step, total = quantum * every, video_frame_count(path)
    starts = list(range(0, total, step)) or [0]
    return [(start, start + step) for start in starts[:-1]] + [(starts[-1], None)]


def _source(path: str) -> bytes:
    """What identifies the content of the file at ``path``: its size and modification time."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}".encode()


def _part_name(path: str) -> str:
    """The part of the input at ``path``: its name made safe, and a hash of its absolute path."""
    absolute = os.path.abspath(path).encode("utf-8", "surrogateescape")
    stem = re.sub(r"[^0-9A-Za-z_-]+", "_", Path(path).stem)[:60] or "input"
    return f"{stem}-{hashlib.sha1(absolute).hexdigest()[:12]}.parquet"


def _metadata(path: Path) -> dict[bytes, bytes] | None:
    """A part's metadata, or None when it cannot be read (a damaged file: its input is redone)."""
    import pyarrow.parquet as pq

    try:
        return dict(pq.read_metadata(path).metadata or {})
    except Exception:  # pyarrow raises ArrowInvalid, OSError... for a file that is not whole
        return None


class Part:
    """One input's rows, written under a temporary name and renamed to ``path`` by :meth:`commit`;
    left unfinished (an error, Ctrl-C), its temporary file is removed. Rows must come in frame
    order: each face gets its track from the last frame's faces (:class:`IoUTracker`)."""

    def __init__(self, path: Path, schema: Any, metadata: Mapping[bytes, bytes]):
        import pyarrow.parquet as pq

        self.path = path
        self.temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.frames = 0
        self.tracker = IoUTracker()
        self._writer = pq.ParquetWriter(self.temp, schema.with_metadata(dict(metadata)))
        self._done = False

    def add(self, rows: Any, frames: int) -> None:
        """Write ``rows`` (of :meth:`FaceTable.rows`), the faces of ``frames`` analysed frames."""
        import pyarrow as pa

        frame = rows.column("frame").to_numpy()
        boxes = np.stack([rows.column(f"box_{c}").to_numpy() for c in "xywh"], axis=1)
        tracks = np.zeros(len(frame), np.int32)
        edges = np.flatnonzero(np.diff(frame)) + 1
        for rows_of_frame in np.split(np.arange(len(frame)), edges) if len(frame) else []:
            tracks[rows_of_frame] = self.tracker.ids(boxes[rows_of_frame].tolist())
        rows = rows.set_column(rows.schema.get_field_index("track"), "track", pa.array(tracks, pa.int32()))
        self._writer.write_table(rows)
        self.frames += frames

    def commit(self) -> None:
        self._writer.add_key_value_metadata({_FRAMES: str(self.frames).encode()})
        self._writer.close()
        os.replace(self.temp, self.path)
        self._done = True

    def __enter__(self) -> Part:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self._writer.close()
            self.temp.unlink(missing_ok=True)


@dataclass
class Analysis:
    """An output folder ``out`` and the settings its tables are made with.

    Opening it removes the temporary files a killed run left; it refuses a folder whose parts were
    made with other settings unless ``overwrite`` (then they are removed), so one folder holds one
    table with one set of columns."""

    out: Path
    settings: AnalysisSettings
    overwrite: bool = False
    faces: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"--out {printable(self.out)} is a file; give a folder")
        self.faces = self.out / FACES_DIR
        self.faces.mkdir(parents=True, exist_ok=True)
        for temp in self.faces.glob(".*.tmp"):
            temp.unlink(missing_ok=True)
        fingerprint = self.settings.fingerprint().encode()
        other = [part for part in self.faces.glob("*.parquet")
                 if (_metadata(part) or {}).get(_SETTINGS, fingerprint) != fingerprint]
        if other and not self.overwrite:
            made = json.loads((_metadata(other[0]) or {})[_SETTINGS])
            differ = ", ".join(f"{key} {made.get(key)!r} (now {value!r})"
                               for key, value in json.loads(fingerprint).items() if made.get(key) != value)
            raise InputError(f"{printable(self.faces)} holds {len(other)} part{'s' if len(other) != 1 else ''} made "
                             f"with other settings ({differ}); use another --out, or --overwrite to redo them")
        for part in other:
            part.unlink()

    def part_path(self, path: str) -> Path:
        return self.faces / _part_name(path)

    def finished(self, path: str) -> bool:
        """Whether ``path``'s part is complete, made with these settings from the file as it is now."""
        meta = _metadata(self.part_path(path))
        return (meta is not None and _FRAMES in meta and meta.get(_SETTINGS) == self.settings.fingerprint().encode()
                and meta.get(_SOURCE) == _source(path))

    def pending(self, paths: Sequence[str]) -> list[str]:
        """The inputs of ``paths`` still to analyse: those without a finished part."""
        return [path for path in paths if not self.finished(path)]

    @contextlib.contextmanager
    def run(self, paths: Sequence[str]) -> Iterator[tuple[list[str], dict[str, str | None]]]:
        """What an engine works through: the inputs of ``paths`` still to analyse, and the outcomes
        (path -> None when done, else its error) it fills in, the finished inputs already there;
        ``files.parquet`` is written when the block ends, also when the run is interrupted."""
        todo = self.pending(paths)
        outcomes: dict[str, str | None] = {path: None for path in paths if path not in todo}
        try:
            yield todo, outcomes
        finally:
            self.write_files_table(paths, outcomes)

    def part(self, path: str, schema: Any) -> Part:
        """A new part for the input at ``path``, with the table's ``schema``."""
        if not os.path.isfile(path):
            raise InputError(f"{printable(path)}: no such file")
        fps = video_fps(path) if is_video(path) else 0.0
        return Part(self.part_path(path), schema, {
            _SETTINGS: self.settings.fingerprint().encode(), _FILE: printable(path).encode(),
            _SOURCE: _source(path), _FPS: repr(fps).encode()})

    def write_files_table(self, paths: Sequence[str], outcomes: Mapping[str, str | None]) -> Path:
        """``files.parquet``: a row per input of ``paths`` that ``outcomes`` has (path -> None when
        done, else the error), in their order, then the rows an earlier run wrote for other inputs."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        rows = [self._file_row(path, outcomes[path]) for path in paths if path in outcomes]
        table = pa.Table.from_pylist(rows, schema=files_schema())
        target = self.out / FILES_TABLE
        if _metadata(target) is not None:
            earlier = pq.read_table(target)
            mine = pa.array([row["file"] for row in rows], pa.string())
            kept = earlier.filter(pc.invert(pc.is_in(earlier.column("file"), mine)))
            table = pa.concat_tables([table, kept.cast(table.schema)])
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        pq.write_table(table, temp)
        os.replace(temp, target)
        return target

    def _file_row(self, path: str, error: str | None) -> dict[str, Any]:
        import pyarrow.parquet as pq

        row: dict[str, Any] = {"file": printable(path), "status": "error" if error else "done", "error": error,
                               "frames": None, "faces": None, "seconds": None, "tracks": []}
        if error:
            return row
        part = self.part_path(path)
        meta = _metadata(part) or {}
        rows = pq.read_table(part, columns=["track", "emotion"])
        fps = float(meta.get(_FPS, b"0"))
        row.update(frames=int(meta.get(_FRAMES, b"0")), faces=rows.num_rows)
        if fps > 0:  # a video: each analysed frame stands for `every` frames of it
            step = self.settings.every / fps
            row["seconds"] = row["frames"] * step
            tracks, emotions = rows.column("track").to_numpy(), rows.column("emotion").to_pylist()
            for track in sorted(set(tracks.tolist())):
                mine = [emotion for emotion, t in zip(emotions, tracks) if t == track]
                row["tracks"].append({"track": track, "frames": len(mine), "seconds": len(mine) * step,
                                      **{emotion: mine.count(emotion) * step for emotion in EMOTIONS}})
        return row


def files_schema() -> Any:
    """``files.parquet``'s columns: ``file``, ``status`` (``done`` or ``error``), ``error``,
    ``frames`` analysed, ``faces`` (rows), ``seconds`` of video analysed, and ``tracks``: per track
    of a video, its frames, seconds, and seconds in each emotion (the first classifier's)."""
    import pyarrow as pa

    track = pa.struct([("track", pa.int32()), ("frames", pa.int64()), ("seconds", pa.float64()),
                       *((emotion, pa.float64()) for emotion in EMOTIONS)])
    return pa.schema([("file", pa.string()), ("status", pa.string()), ("error", pa.string()),
                      ("frames", pa.int64()), ("faces", pa.int64()), ("seconds", pa.float64()),
                      ("tracks", pa.list_(track))])


def one_line(error: BaseException) -> str:
    """An error as the one line ``files.parquet`` keeps: fexlab's own message, else its type and message."""
    text = str(error) if isinstance(error, FexlabError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split()) or type(error).__name__


#: Called with the frames just analysed, and when an input is finished with its path and its error.
FramesDone = Callable[[int], None]
FileDone = Callable[[str, "str | None"], None]
#: What a range of an input gives: (rows, frames analysed, None), or (None, 0, the one-line error).
RangeResult = tuple[Any, int, "str | None"]


class RangeWorker:
    """One worker's models, loaded once; :meth:`run` analyses one photo or one range of a video.
    The process pool of :func:`analyze_local` and the Ray engine's actors each hold one."""

    def __init__(self, settings: AnalysisSettings, registry: Registry | None = None):
        self.settings = settings
        self.predictor = settings.predictor(registry)
        self.table = FaceTable.of(self.predictor)

    def run(self, path: str, start: int, stop: int | None) -> RangeResult:
        import pyarrow as pa

        try:
            chunks = list(analyze_file(self.predictor, self.table, path, every=self.settings.every,
                                       start=start, stop=stop))
        except Exception as error:  # noqa: BLE001 - the input becomes an error row; the run goes on
            return None, 0, one_line(error)
        rows = pa.concat_tables([rows for rows, _ in chunks]) if chunks else self.table.rows(path, [])
        return rows, sum(frames for _, frames in chunks), None


class Workers(Protocol):
    """Workers that run :meth:`RangeWorker.run` elsewhere (processes, Ray actors)."""

    def __len__(self) -> int: ...

    def submit(self, path: str, start: int, stop: int | None) -> Any:
        """Start one range; a handle that :meth:`wait` gives back with its result."""

    def wait(self) -> tuple[Any, RangeResult]:
        """The next range to finish: (its handle, its result); a range whose worker died gives an error result."""

    def cancel(self) -> None:
        """Drop the ranges still running (the run was interrupted)."""


def analyze_ranges(analysis: Analysis, todo: Sequence[str], workers: Workers, frames_per_range: int,
                   outcomes: dict[str, str | None], on_frames: FramesDone | None = None,
                   on_file: FileDone | None = None) -> None:
    """Run ``todo`` on ``workers`` as photos and video ranges (:func:`frame_ranges`), two in flight
    per worker, and write each input's part when its last range is in, from its ranges in frame
    order; ``outcomes`` gets each input's None or error."""
    def finished(path: str, error: str | None) -> None:
        outcomes[path] = error
        if on_file:
            on_file(path, error)

    queue: collections.deque[tuple[str, int, int, int, int | None]] = collections.deque()
    for path in todo:
        try:
            ranges = frame_ranges(path, analysis.settings.every, frames_per_range)
        except Exception as error:  # noqa: BLE001 - an input that cannot be opened is an error row
            finished(path, one_line(error))
            continue
        queue.extend((path, number, len(ranges), start, stop) for number, (start, stop) in enumerate(ranges))
    results: dict[str, dict[int, RangeResult]] = collections.defaultdict(dict)
    flight: dict[Any, tuple[str, int, int]] = {}

    def submit() -> None:
        path, number, total, start, stop = queue.popleft()
        flight[workers.submit(path, start, stop)] = (path, number, total)

    for _ in range(min(len(queue), 2 * len(workers))):
        submit()
    try:
        while flight:
            handle, result = workers.wait()
            path, number, total = flight.pop(handle)
            results[path][number] = result
            if on_frames and result[1]:
                on_frames(result[1])
            if len(results[path]) == total:
                done = results.pop(path)
                finished(path, _write_ranges(analysis, path, [done[n] for n in range(total)]))
            if queue:
                submit()
    finally:
        if flight:
            workers.cancel()


def _write_ranges(analysis: Analysis, path: str, ranges: list[RangeResult]) -> str | None:
    """Write ``path``'s part from its ranges in frame order; its first error instead when one failed."""
    errors = [error for _, _, error in ranges if error]
    if errors:
        return errors[0]
    try:
        with analysis.part(path, ranges[0][0].schema) as part:
            for rows, frames, _ in ranges:
                part.add(rows, frames)
            part.commit()
    except Exception as error:  # noqa: BLE001 - e.g. the input changed or vanished meanwhile
        return one_line(error)
    return None


def analyze_local(analysis: Analysis, paths: Sequence[str], *, workers: int | None = None,
                  registry: Registry | None = None, frames_per_range: int = FRAMES_PER_RANGE,
                  on_frames: FramesDone | None = None, on_file: FileDone | None = None) -> dict[str, str | None]:
    """Analyse the inputs of ``paths`` not finished yet on this machine; path -> None when done,
    else its error. ``files.parquet`` is written at the end, also when the run is interrupted.

    ``workers`` processes (default: one per core), each with its share of the cores, take the
    photos and video ranges in turn: a face mesh follows a face frame after frame, so one video
    keeps one core busy at a time, and ranges of it keep them all busy. One worker, or work of one
    range, runs in this process (``registry``: where its plugins come from), streamed to its part."""
    from fexlab.registry.onnx_runtime import cores

    count = workers or cores()
    if count < 1:
        raise InputError(f"--workers must be at least 1, got {count}")
    with analysis.run(paths) as (todo, outcomes):
        if count > 1 and _ranges_of(todo, analysis.settings.every, frames_per_range) > 1:
            from .analysis_pool import ProcessWorkers

            with ProcessWorkers(analysis.settings, count) as pool:
                analyze_ranges(analysis, todo, pool, frames_per_range, outcomes, on_frames, on_file)
        else:
            _analyze_here(analysis, todo, registry, outcomes, on_frames, on_file)
    return {path: outcomes[path] for path in paths if path in outcomes}


def _ranges_of(paths: Sequence[str], every: int, frames_per_range: int, enough: int = 2) -> int:
    """How many ranges ``paths`` make, counted up to ``enough``."""
    count = 0
    for path in paths:
        count += len(frame_ranges(path, every, frames_per_range))
        if count >= enough:
            break
    return count


def _analyze_here(analysis: Analysis, todo: Sequence[str], registry: Registry | None,
                  outcomes: dict[str, str | None], on_frames: FramesDone | None, on_file: FileDone | None) -> None:
    """Analyse ``todo`` one after the other in this process, each streamed to its part."""
    predictor = analysis.settings.predictor(registry)
    table = FaceTable.of(predictor)
    for path in todo:
        try:
            with analysis.part(path, table.schema) as part:
                for rows, frames in analyze_file(predictor, table, path, every=analysis.settings.every):
                    part.add(rows, frames)
                    if on_frames:
                        on_frames(frames)
                part.commit()
            outcomes[path] = None
        except Exception as error:  # noqa: BLE001 - an input that fails is recorded, the run goes on
            outcomes[path] = one_line(error)
        if on_file:
            on_file(path, outcomes[path])
