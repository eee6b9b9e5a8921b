"""Live tab: webcam frames streamed to the server, boxes and labels drawn as they arrive.

When analysing a frame takes longer than frames take to arrive, frames are not queued: the last
boxes are drawn on the newest frame and the next analysis starts once the previous one's cost
has elapsed, so the picture stays live on a slow CPU.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import numpy as np

from predict import Predictor, annotate
from preprocessing.images import load_image
from registry import InputError, Registry

from .common import (
    WEBCAM,
    checkpoint_box,
    clear_on_error,
    default_comparison,
    detector_dropdown,
    detector_name,
    load_plugins,
    plugin_choices,
    user_errors,
)
from .predict import keypoints_note

__all__ = ["build", "live_frame"]


def live_frame(
    registry: Registry, frame: np.ndarray | None, classifier: str | None, detector: str | None,
    state: dict[str, Any] | None, *, checkpoint: str | None = None, keypoints: bool = False,
    now: float | None = None,
) -> tuple[np.ndarray | None, dict[str, Any], str]:
    """Handler for one streamed frame: (annotated frame, new state, status line).

    A typed ``checkpoint`` (your own model's folder) is used instead of ``classifier``;
    ``keypoints`` draws the detector's landmarks too.
    """
    state = dict(state or {})
    if frame is None:
        return None, state, ""
    typed = str(checkpoint or "").strip()
    if not classifier and not typed:
        raise InputError("choose a classifier, or type your model's folder")
    image = load_image(frame)
    now = time.monotonic() if now is None else now
    key = (None if typed else classifier, typed, detector_name(detector))
    stale = state.get("key") != key or now - state.get("analysed_at", -1e9) >= state.get("cost", 0.0)
    if stale:
        predictor = Predictor(load_plugins(registry, "classifier", key[0], typed), registry.detector(key[2]))
        started = time.monotonic()
        state["faces"] = predictor.predict_frames([image])[0]
        state["cost"] = time.monotonic() - started
        state["analysed_at"], state["key"] = now, key
        state["analysed"] = state.get("analysed", 0) + 1
    else:
        state["skipped"] = state.get("skipped", 0) + 1
    faces = state.get("faces", [])
    status = f"{len(faces)} face(s) · {state.get('analysed', 0)} analysed, {state.get('skipped', 0)} reused frames"
    if keypoints:
        status += keypoints_note(faces, key[2])
    return annotate(image, faces, numbers=len(faces) > 1, keypoints=bool(keypoints)), state, status


def build(registry: Registry) -> None:
    """Lay out the Live tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    state = gr.State({})
    with gr.Row():
        with gr.Column():
            camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy", height=360,
                              elem_id="live-camera", webcam_options=WEBCAM)
            classifier = gr.Dropdown(classifiers, value=(default_comparison(classifiers) or [None])[0], label="Classifier")
            checkpoint = checkpoint_box("Your model (optional, used instead of the classifier)")
            detector = detector_dropdown(registry)
            keypoints = gr.Checkbox(False, label="Show keypoints", elem_id="live-keypoints",
                                    info="the eyes, nose, mouth... that the detector finds, where it finds them")
        with gr.Column():
            shown = gr.Image(label="Emotions, live", height=360, elem_id="live-output")
            status = gr.Markdown("Allow the webcam, then press **Record**: boxes and emotions are drawn on the "
                                 "frames as they arrive. When analysis is slower than the camera, the last boxes are "
                                 "drawn on the newest frames (the count of reused frames is shown here).",
                                 label="Status", elem_id="live-status")

    @user_errors
    def stream(frame, classifier, checkpoint, detector, keypoints, state):
        return live_frame(registry, frame, classifier, detector, state, checkpoint=checkpoint, keypoints=keypoints)

    clear_on_error(camera.stream(stream, [camera, classifier, checkpoint, detector, keypoints, state],
                                 [shown, state, status], api_name="live", stream_every=0.15, time_limit=120,
                                 concurrency_limit=4, show_progress="hidden"), [shown, status])
