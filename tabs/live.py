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
from registry import DEFAULT_DETECTOR, InputError, Registry

from .common import load_plugins, plain_names, plugin_choices, user_errors

__all__ = ["build", "live_frame"]


def live_frame(
    registry: Registry, frame: np.ndarray | None, classifier: str | None, detector: str | None,
    state: dict[str, Any] | None, now: float | None = None,
) -> tuple[np.ndarray | None, dict[str, Any], str]:
    """Handler for one streamed frame: (annotated frame, new state, status line)."""
    state = dict(state or {})
    if frame is None:
        return None, state, ""
    if not classifier:
        raise InputError("choose a classifier")
    image = load_image(frame)
    now = time.monotonic() if now is None else now
    key = (classifier, (plain_names(detector, "detector") or [DEFAULT_DETECTOR])[0])
    stale = state.get("key") != key or now - state.get("analysed_at", -1e9) >= state.get("cost", 0.0)
    if stale:
        predictor = Predictor(load_plugins(registry, "classifier", classifier), registry.detector(key[1]))
        started = time.monotonic()
        state["faces"] = predictor.predict_frames([image])[0]
        state["cost"] = time.monotonic() - started
        state["analysed_at"], state["key"] = now, key
        state["analysed"] = state.get("analysed", 0) + 1
    else:
        state["skipped"] = state.get("skipped", 0) + 1
    faces = state.get("faces", [])
    status = f"{len(faces)} face(s) · {state.get('analysed', 0)} analysed, {state.get('skipped', 0)} reused frames"
    return annotate(image, faces), state, status


def build(registry: Registry) -> None:
    """Lay out the Live tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    detectors = plugin_choices(registry, "detector")
    state = gr.State({})
    with gr.Row():
        with gr.Column():
            camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy", height=360,
                              elem_id="live-camera")
            classifier = gr.Dropdown(classifiers, value=(classifiers or [None])[0], label="Classifier")
            detector = gr.Dropdown(detectors, value=DEFAULT_DETECTOR if DEFAULT_DETECTOR in detectors else None, label="Face detector")
        with gr.Column():
            shown = gr.Image(label="Emotions, live", height=360, elem_id="live-output")
            status = gr.Markdown("Allow the webcam, then press **Record**: boxes and emotions are drawn on the "
                                 "frames as they arrive. When analysis is slower than the camera, the last boxes are "
                                 "drawn on the newest frames (the count of reused frames is shown here).",
                                 label="Status", elem_id="live-status")

    @user_errors
    def stream(frame, classifier, detector, state):
        return live_frame(registry, frame, classifier, detector, state)

    camera.stream(stream, [camera, classifier, detector, state], [shown, state, status], api_name="live",
                  stream_every=0.15, time_limit=120, concurrency_limit=4)
