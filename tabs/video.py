"""Video tab: upload a video -> every k-th frame analysed with progress -> annotated video, an
emotion-over-time plot per face track, per-frame table and CSV download (faces carry a track id
across frames)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import gradio as gr

from eval.plots import emotion_timeline
from predict import Predictor, VideoWriter, annotate, is_video, video_fps, video_frame_count
from registry import DEFAULT_DETECTOR, EMOTIONS, InputError, Registry

from .common import load_plugins, output_folder, plain_names, plugin_choices, upload_name, upload_path, user_errors
from .predict import EXAMPLES_DIR

__all__ = ["MAX_ANALYSED_FRAMES", "MAX_TIMELINE_TRACKS", "MAX_VIDEO_BYTES", "analyse_video", "build", "timeline_figure"]

#: Uploads above this size are refused.
MAX_VIDEO_BYTES = 200 * 1024 * 1024
#: At most this many frames are analysed per request; raise "every" to cover a longer video.
MAX_ANALYSED_FRAMES = 1800
#: The emotion-over-time plot shows this many face tracks, the longest ones.
MAX_TIMELINE_TRACKS = 6


def analyse_video(
    registry: Registry, video: Any, classifiers: list[str] | str | None, detector: str | None, every: int = 1,
    progress: Any = None,
) -> tuple[str, Any, str, list[list[Any]], str]:
    """Handler: returns (annotated WebM path, emotion-over-time figure, CSV path, table rows, message)."""
    name, path = upload_name(video), upload_path(video)
    if not path:
        raise InputError("upload a video first")
    if not is_video(name) and not is_video(path):
        raise InputError(f"{name} does not look like a video (expected .mp4, .webm, .mov, .avi, .mkv...)")
    size = Path(path).stat().st_size if Path(path).exists() else 0
    if size > MAX_VIDEO_BYTES:
        raise InputError(f"{name} is {size / 2**20:.0f} MB, above the {MAX_VIDEO_BYTES // 2**20} MB video limit")
    models = load_plugins(registry, "classifier", classifiers)
    classifiers = list(models)
    every = max(1, int(every or 1))
    predictor = Predictor(models, registry.detector((plain_names(detector, "detector") or [DEFAULT_DETECTOR])[0]))

    total = video_frame_count(path)
    expected = min(MAX_ANALYSED_FRAMES, -(-total // every)) if total else MAX_ANALYSED_FRAMES
    out_dir = output_folder("video")
    stem = Path(name).stem or "video"
    annotated, table_path = out_dir / f"{stem}.annotated.webm", out_dir / f"{stem}.emotions.csv"
    rows: list[list[Any]] = []
    analysed = 0
    try:
        with VideoWriter(annotated, video_fps(path) / every) as writer:
            for frame in predictor.predict_video(path, every=every, keep_frames=True, max_frames=MAX_ANALYSED_FRAMES):
                analysed += 1
                writer.write(annotate(frame.frame, frame.faces))
                for face in frame.faces:
                    emotion, p = face.top()
                    probs = face.probabilities[classifiers[0]]
                    rows.append([frame.index, round(frame.time, 3), face.track, *face.box, emotion, round(p, 4),
                                 *(round(float(v), 4) for v in probs)])
                if progress is not None:
                    progress((analysed, expected), desc="analysing frames", unit="frames")
    except InputError as err:
        raise InputError(str(err).replace(str(path), name)) from None
    with table_path.open("w", newline="") as handle:
        writer_csv = csv.writer(handle)
        writer_csv.writerow(HEADERS)
        writer_csv.writerows(rows)
    tracks = len({row[2] for row in rows})
    message = f"Analysed {analysed} frames (every {every}): {len(rows)} face detections in {tracks} track(s)."
    if total and analysed >= MAX_ANALYSED_FRAMES and analysed * every < total:
        message += f" Stopped at {MAX_ANALYSED_FRAMES} frames; raise 'every frame' to cover the whole video."
    if tracks > MAX_TIMELINE_TRACKS:
        message += f" The plot shows the {MAX_TIMELINE_TRACKS} longest tracks; the CSV has them all."
    return str(annotated), timeline_figure(rows, classifiers[0]), str(table_path), rows, message


def timeline_figure(rows: list[list[Any]], classifier: str) -> Any:
    """Emotion over time per face track (the longest :data:`MAX_TIMELINE_TRACKS`) from table rows."""
    series: dict[int, list[list[Any]]] = defaultdict(list)
    for row in rows:
        series[row[2]].append(row)
    longest = sorted(series, key=lambda track: (-len(series[track]), track))[:MAX_TIMELINE_TRACKS]
    first = len(HEADERS) - len(EMOTIONS)
    tracks = {f"face track {track + 1}": ([r[1] for r in series[track]], [r[first:] for r in series[track]])
              for track in sorted(longest)}
    return emotion_timeline(tracks, title=f"Emotion over time ({classifier})")


HEADERS = ["frame", "time", "track", "x", "y", "w", "h", "emotion", "confidence", *EMOTIONS]


def build(registry: Registry) -> None:
    """Lay out the Video tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    detectors = plugin_choices(registry, "detector")
    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(label="Video", sources=["upload"], height=320, elem_id="video-input")
            chosen = gr.Dropdown(classifiers, value=classifiers[:1], multiselect=True, label="Classifiers")
            detector = gr.Dropdown(detectors, value=DEFAULT_DETECTOR if DEFAULT_DETECTOR in detectors else None, label="Face detector")
            every = gr.Slider(1, 30, value=2, step=1, label="Analyse every k-th frame",
                              info="higher is faster; boxes are drawn on analysed frames")
            run = gr.Button("Analyse video", variant="primary")
            examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.webm"))
            if examples:
                gr.Examples(examples, inputs=video, label="Example video (made from public-domain photos)")
        with gr.Column(scale=2):
            message = gr.Markdown("Upload a video and press **Analyse video**: faces are found and tracked, "
                                  "and each track's emotions are plotted over time.", label="Summary")
            annotated = gr.Video(label="Annotated video", height=360)
            timeline = gr.Plot(label="Emotion over time, per face track", show_label=False)
            download = gr.File(label="Per-frame emotions (CSV)")
            table = gr.Dataframe(headers=HEADERS, label="Per-frame emotions", max_height=300, interactive=False)

    @user_errors
    def analyse(video, classifiers, detector, every, progress=gr.Progress()):
        return analyse_video(registry, video, classifiers, detector, every, progress)

    run.click(analyse, [video, chosen, detector, every], [annotated, timeline, download, table, message],
              api_name="video", preprocess=False)
