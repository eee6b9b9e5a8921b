"""Video tab: upload a video -> every k-th frame analysed with progress -> annotated video, an
emotion-over-time plot per face track, per-frame table and CSV download (faces carry a track id
across frames, numbered from 1 in the order the faces appear, left to right). With the face mesh
ticked, the mesh follows each face (the detector runs when a face is lost) and is drawn too; each
track's action units are plotted over time, and each face's action units, head pose and
blendshapes are written in the table and CSV (the columns the Predict tab's CSV has); the main face's
blendshapes and head pose are offered as Live Link Face CSV and JSON, and an avatar video shows
each frame beside the cartoon face wearing its expression.

The video is uploaded as a file and previewed beside it: as it is when browsers play it, else as a
WebM copy (an MPEG-4 part 2 .mp4, an .avi...), so the preview always plays; the analysis reads
the file as uploaded.
"""

from __future__ import annotations

import contextlib
import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import gradio as gr

from fexlab.eval.plots import action_unit_timeline, emotion_timeline
from fexlab.pipeline.avatar import avatar_frame
from fexlab.pipeline.exports import analysis_cells, analysis_columns
from fexlab.pipeline.predict import (
    Predictor,
    VideoWriter,
    annotate,
    browser_playable,
    describe_video,
    draw_mesh,
    is_video,
    read_video,
    video_fps,
    video_frame_count,
)
from fexlab.registry import EMOTIONS, InputError, Registry

from .common import (
    AU_NOTE,
    checkpoint_box,
    clear_on_error,
    default_comparison,
    detector_dropdown,
    detector_name,
    face_analyzers,
    follow_mesh,
    load_plugins,
    mesh_checkbox,
    mesh_panel,
    mesh_triangles,
    min_score_slider,
    number,
    output_folder,
    plain_names,
    plugin_choices,
    show_mesh_panel,
    upload_name,
    upload_path,
    user_errors,
)
from .predict import EXAMPLES_DIR

__all__ = ["MAX_ANALYSED_FRAMES", "MAX_TIMELINE_TRACKS", "MAX_VIDEO_BYTES", "analyse_video", "build", "preview_video",
           "timeline_figure"]

#: Uploads above this size are refused.
MAX_VIDEO_BYTES = 200 * 1024 * 1024
#: At most this many frames are analysed per request; raise "every" to cover a longer video.
MAX_ANALYSED_FRAMES = 1800
#: The emotion-over-time plot shows this many face tracks, the longest ones.
MAX_TIMELINE_TRACKS = 6


def _checked_upload(video: Any) -> tuple[str, str]:
    """(name the user gave it, path) of an uploaded video, refused when it is none or too large."""
    name, path = upload_name(video), upload_path(video)
    if not path:
        raise InputError("upload a video first")
    if not is_video(name) and not is_video(path):
        raise InputError(f"{name} does not look like a video (expected .mp4, .webm, .mov, .avi, .mkv...)")
    size = Path(path).stat().st_size if Path(path).exists() else 0
    if size > MAX_VIDEO_BYTES:
        raise InputError(f"{name} is {size / 2**20:.0f} MB, above the {MAX_VIDEO_BYTES // 2**20} MB video limit")
    return name, path


def preview_video(video: Any, progress: Any = None) -> str | None:
    """Handler (when a video file is chosen): the file to preview it with, which browsers play:
    the upload itself when they can, else a WebM (VP8) copy of it; None when the file is cleared."""
    if upload_path(video) is None:
        return None
    name, path = _checked_upload(video)
    if browser_playable(path):
        return path
    target = output_folder("preview") / f"{Path(name).stem or 'video'}.webm"
    total = video_frame_count(path)
    try:
        with VideoWriter(target, video_fps(path)) as writer:
            for index, _, frame in read_video(path):
                writer.write(frame)
                if progress is not None and total:
                    progress((index + 1, total), desc="making the video playable here", unit="frames")
    except InputError as err:
        raise InputError(str(err).replace(str(path), name)) from None
    return str(target)


def analyse_video(
    registry: Registry, video: Any, classifiers: list[str] | str | None, detector: str | None, every: int = 1,
    progress: Any = None, checkpoint: str | None = None, min_score: float = 0.0, mesh: bool = False,
) -> tuple[str, Any, str, list[list[Any]], str, Any, str | None, list[str]]:
    """Handler: returns (annotated WebM path, emotion-over-time figure, CSV path, table rows, message,
    action-units-over-time figure, avatar WebM path, Live Link Face CSV and JSON paths); the last
    three are None, None and [] without the face mesh.

    One classifier labels the video, the table and the plot: the one chosen, or ``checkpoint``
    (a typed checkpoint or training-run folder) instead of it. ``min_score`` leaves out the faces
    the detector scores below it. ``mesh`` runs the face mesh on every analysed frame: the table
    gains a column per action unit, head-pose angle and blendshape.
    """
    name, path = _checked_upload(video)
    typed = bool(checkpoint and str(checkpoint).strip())
    chosen = [] if typed else plain_names(classifiers, "classifier")
    if len(chosen) > 1:
        raise InputError(f"the Video tab analyses with one classifier at a time; choose one of {', '.join(chosen)}")
    models = load_plugins(registry, "classifier", chosen, checkpoint)
    classifiers = list(models)
    every = max(1, number(every or 1, "every how many frames", whole=True))
    analyzers = face_analyzers(registry, bool(mesh))
    predictor = Predictor(models, registry.detector(detector_name(detector)), min_score=number(min_score or 0.0, "the minimum face score"),
                          analyzers=analyzers)
    triangles = mesh_triangles(analyzers)

    total = video_frame_count(path)
    expected = min(MAX_ANALYSED_FRAMES, -(-total // every)) if total else MAX_ANALYSED_FRAMES
    out_dir = output_folder("video")
    stem = Path(name).stem or "video"
    annotated, table_path = out_dir / f"{stem}.annotated.webm", out_dir / f"{stem}.emotions.csv"
    avatar_path = out_dir / f"{stem}.avatar.webm"
    rows: list[list[Any]] = []
    analyses: list[dict[str, Any]] = []
    analysed = 0
    fps = video_fps(path) / every
    try:
        with VideoWriter(annotated, fps) as writer, contextlib.ExitStack() as stack:
            avatars = stack.enter_context(VideoWriter(avatar_path, fps)) if analyzers else None
            for frame in predictor.predict_video(path, every=every, keep_frames=True, max_frames=MAX_ANALYSED_FRAMES):
                analysed += 1
                image = draw_mesh(frame.frame, frame.faces, triangles) if analyzers else frame.frame
                writer.write(annotate(image, frame.faces))
                if avatars is not None:
                    avatars.write(avatar_frame(frame.frame, frame.faces))
                for face in frame.faces:
                    emotion, p = face.top()
                    probs = face.probabilities[classifiers[0]]
                    rows.append([frame.index, round(frame.time, 3), face.track, *face.box, round(face.score, 4),
                                 emotion, round(p, 4), *(round(float(v), 4) for v in probs)])
                    if analyzers:
                        analyses.append({"time": frame.time, "track": face.track,
                                         **{k: face.analysis.get(k, {}) for k in ANALYSIS_COLUMNS}})
                if progress is not None:
                    progress((analysed, expected), desc="analysing frames", unit="frames")
    except InputError as err:
        raise InputError(str(err).replace(str(path), name)) from None
    columns = analysis_columns(analyses)
    for row, analysis in zip(rows, analyses):  # with the face mesh, one analysis per row
        row.extend(analysis_cells(analysis, columns))
    with table_path.open("w", newline="") as handle:
        writer_csv = csv.writer(handle)
        writer_csv.writerow(HEADERS + columns)
        writer_csv.writerows(rows)
    tracks = len({row[2] for row in rows})
    message = describe_video(analysed, every, [row[2] for row in rows]) + "."
    if total and analysed >= MAX_ANALYSED_FRAMES and analysed * every < total:
        message += f" Stopped at {MAX_ANALYSED_FRAMES} frames; raise 'every frame' to cover the whole video."
    if tracks > MAX_TIMELINE_TRACKS:
        message += f" The plot shows the {MAX_TIMELINE_TRACKS} longest tracks; the CSV has them all."
    duration = total / video_fps(path) if total else None
    figure = timeline_figure(rows, classifiers[0], duration)
    if not analyzers:
        return str(annotated), figure, str(table_path), rows, message, None, None, []
    files, track = _live_link_files(out_dir, stem, analyses, fps)
    if files:
        message += f" Blendshapes and head pose to download: face track {track}. {AU_NOTE}"
    return (str(annotated), figure, str(table_path), rows, message, units_figure(analyses, duration),
            str(avatar_path), files)


def _live_link_files(folder: Path, stem: str, analyses: list[dict[str, Any]], fps: float) -> tuple[list[str], Any]:
    """(``STEM.live_link.csv`` and ``STEM.blendshapes.json``: the blendshapes and head pose of the
    track seen in most frames, that track); ([], None) when no face was analysed."""
    from fexlab.pipeline.exports import face_series, write_blendshapes_json, write_live_link_csv

    series = face_series(analyses)
    if not series:
        return [], None
    return [str(write_live_link_csv(folder / f"{stem}.live_link.csv", series, fps)),
            str(write_blendshapes_json(folder / f"{stem}.blendshapes.json", series, fps))], series[0][1]["track"]


def units_figure(analyses: list[dict[str, Any]], duration: float | None = None) -> Any:
    """Action units over time per face track (the longest :data:`MAX_TIMELINE_TRACKS`), on the
    video's time axis from 0 s, from each analysed face's ``{"time", "track", "action_units"}``."""
    series: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for analysis in analyses:
        series[analysis["track"]].append(analysis)
    longest = sorted(series, key=lambda track: (-len(series[track]), track))[:MAX_TIMELINE_TRACKS]
    tracks = {f"face track {track}": ([a["time"] for a in series[track]], [a["action_units"] for a in series[track]])
              for track in sorted(longest)}
    figure = action_unit_timeline(tracks, title="Action units over time (estimated from blendshapes)")
    end = max([duration or 0.0, *(a["time"] for a in analyses)])
    if analyses and end > 0:
        figure.axes[0].set_xlim(0.0, end)
    return figure


def timeline_figure(rows: list[list[Any]], classifier: str, duration: float | None = None) -> Any:
    """Emotion over time per face track (the longest :data:`MAX_TIMELINE_TRACKS`) from table rows,
    on a time axis from 0 s to ``duration`` (the video's length, else the last face's time)."""
    series: dict[int, list[list[Any]]] = defaultdict(list)
    for row in rows:
        series[row[2]].append(row)
    longest = sorted(series, key=lambda track: (-len(series[track]), track))[:MAX_TIMELINE_TRACKS]
    first = HEADERS.index(EMOTIONS[0])
    tracks = {f"face track {track}": ([r[1] for r in series[track]], [r[first:first + len(EMOTIONS)]
                                                                       for r in series[track]])
              for track in sorted(longest)}
    figure = emotion_timeline(tracks, title=f"Emotion over time ({classifier})")
    end = max([duration or 0.0, *(row[1] for row in rows)])
    if rows and end > 0:
        figure.axes[0].set_xlim(0.0, end)  # the panels share the axis: the video from its start
    return figure


#: What the face mesh adds to each face for the plots and exports.
ANALYSIS_COLUMNS = ("blendshapes", "head_pose", "action_units")
HEADERS = ["frame", "time", "track", "x", "y", "w", "h", "score", "emotion", "confidence", *EMOTIONS]


def build(registry: Registry) -> None:
    """Lay out the Video tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.File(label="Video file", file_types=["video"], height=90, elem_id="video-input")
            preview = gr.Video(label="Preview", height=280, interactive=False, elem_id="video-preview")
            chosen = gr.Dropdown(classifiers, value=(default_comparison(classifiers) or [None])[0], label="Classifier",
                                 info="one at a time; the Predict tab compares several on a photo")
            checkpoint = checkpoint_box(label="Your model instead (optional)")
            detector = detector_dropdown(registry)
            min_score = min_score_slider()
            every = gr.Slider(1, 30, value=2, step=1, label="Analyse every k-th frame",
                              info="higher is faster; boxes are drawn on analysed frames")
            mesh = mesh_checkbox("video-mesh")
            follow_mesh(mesh, chosen, classifiers, "video_mesh_classifier")
            run = gr.Button("Analyse video", variant="primary")
            examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.webm"))
            if examples:
                gr.Examples(examples, inputs=video, label="Example video (made from public-domain photos)")
        with gr.Column(scale=2):
            message = gr.Markdown("Upload a video and press **Analyse video**: faces are found and tracked, "
                                  "and each track's emotions are plotted over time.", label="Summary",
                                  elem_id="video-message")
            annotated = gr.Video(label="Annotated video", height=360, elem_id="video-annotated")
            timeline = gr.Plot(label="Emotion over time, per face track", show_label=False)
            download = gr.File(label="Per-frame emotions (CSV)")
            table = gr.Dataframe(headers=HEADERS, label="Per-frame emotions", max_height=300, interactive=False,
                                 elem_classes=["fexlab-table"], elem_id="video-table")
            with mesh_panel() as panel:
                units = gr.Plot(label="Action units over time, per face track", show_label=False,
                                elem_id="video-units")
                avatar = gr.Video(label="Avatar: each frame beside the cartoon face wearing its largest face's "
                                  "expression", height=300, elem_id="video-avatar")
                exports = gr.File(label="Blendshapes and head pose (Live Link Face CSV, JSON)", file_count="multiple",
                                  elem_id="video-exports")

    @user_errors
    def analyse(video, classifiers, checkpoint, detector, every, min_score, mesh, progress=gr.Progress()):
        found = list(analyse_video(registry, video, classifiers, detector, every, progress, checkpoint, min_score,
                                   mesh=mesh))
        with open(found[2], newline="") as handle:  # the table's headers: the CSV's, the analysis's included
            found[3] = {"headers": next(csv.reader(handle)), "data": found[3]}
        return *found, show_mesh_panel(bool(mesh))

    @user_errors
    def show_preview(video, progress=gr.Progress()):
        return preview_video(video, progress)

    outputs = [annotated, timeline, download, table, message, units, avatar, exports]
    clear_on_error(video.change(show_preview, video, preview, api_name="playable_video", preprocess=False), [preview])
    clear_on_error(run.click(analyse, [video, chosen, checkpoint, detector, every, min_score, mesh],
                             [*outputs, panel], api_name="video", preprocess=False, show_progress_on=[message]),
                   outputs)
