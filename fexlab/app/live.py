"""Live tab: webcam frames streamed to the server, boxes and labels drawn as they arrive.

When analysing a frame takes longer than frames take to arrive, frames are not queued: the last
boxes are drawn on the newest frame and the next analysis starts once the previous one's cost
has elapsed, so the picture stays live on a slow CPU.

With the face mesh ticked, the mesh is drawn too, the avatar and the action units of the largest
face are shown beside the webcam, and each analysed frame's blendshapes and head pose are recorded
(the face followed from frame to frame; the detector runs only when it is lost), to download as
Live Link Face CSV and JSON.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import numpy as np

from fexlab.pipeline.predict import FaceFollower, Predictor, annotate, draw_mesh
from fexlab.preprocessing.images import load_image
from fexlab.registry import InputError, Registry

from .common import (
    AU_NOTE,
    WEBCAM,
    checkpoint_box,
    clear_on_error,
    default_comparison,
    detector_dropdown,
    detector_name,
    face_analyzers,
    follow_mesh,
    load_plugins,
    mesh_checkbox,
    mesh_triangles,
    output_folder,
    plugin_choices,
    user_errors,
)
from .predict import keypoints_note

__all__ = ["build", "clear_recording", "live_avatar", "live_frame", "live_recording"]

#: Analysed frames kept in a recording (about ten minutes of the webcam).
MAX_RECORDED = 10_000
#: The frame rate of the recording's Live Link timecodes.
RECORDING_FPS = 30.0


def live_frame(
    registry: Registry, frame: np.ndarray | None, classifier: str | None, detector: str | None,
    state: dict[str, Any] | None, *, checkpoint: str | None = None, keypoints: bool = False,
    mesh: bool = False, now: float | None = None,
) -> tuple[np.ndarray | None, dict[str, Any], str]:
    """Handler for one streamed frame: (annotated frame, new state, status line).

    A typed ``checkpoint`` (your own model's folder) is used instead of ``classifier``;
    ``keypoints`` draws the detector's landmarks too; ``mesh`` runs the face mesh, following the
    faces from one analysed frame to the next (a :class:`predict.FaceFollower` kept in the state),
    draws it, and records the largest face's analysis in ``state["recorded"]``.
    """
    state = dict(state or {})
    if frame is None:
        return None, state, ""
    typed = str(checkpoint or "").strip()
    if not classifier and not typed:
        raise InputError("choose a classifier, or type your model's folder")
    image = load_image(frame)
    now = time.monotonic() if now is None else now
    key = (None if typed else classifier, typed, detector_name(detector), bool(mesh))
    stale = state.get("key") != key or now - state.get("analysed_at", -1e9) >= state.get("cost", 0.0)
    if stale:
        if state.get("key") != key or state.get("follower") is None:
            predictor = Predictor(load_plugins(registry, "classifier", key[0], typed), registry.detector(key[2]),
                                  analyzers=face_analyzers(registry, bool(mesh)))
            state["predictor"], state["follower"] = predictor, FaceFollower.of(predictor)
        started = time.monotonic()
        state["faces"] = state["predictor"].predict_frames([image], follower=state["follower"])[0]
        state["cost"] = time.monotonic() - started
        state["analysed_at"], state["key"] = now, key
        state["analysed"] = state.get("analysed", 0) + 1
        if mesh:
            _record(state, now)
    else:
        state["skipped"] = state.get("skipped", 0) + 1
    faces = state.get("faces", [])
    status = f"{len(faces)} face(s) · {state.get('analysed', 0)} analysed, {state.get('skipped', 0)} reused frames"
    if keypoints:
        status += keypoints_note(faces, key[2])
    if mesh:
        status += f" · {len(state.get('recorded', []))} frames recorded"
        image = draw_mesh(image, faces, mesh_triangles(state["predictor"].analyzers))
    return annotate(image, faces, numbers=len(faces) > 1, keypoints=bool(keypoints)), state, status


def _largest(faces: list[Any]) -> Any:
    """The largest face that carries an analysis, or None."""
    return max((face for face in faces if face.analysis.get("blendshapes")), key=lambda f: f.box[2] * f.box[3],
               default=None)


def _record(state: dict[str, Any], now: float) -> None:
    """Add the largest face's blendshapes, head pose and action units to the state's recording
    (seconds from its first frame), up to :data:`MAX_RECORDED` frames."""
    face = _largest(state.get("faces", []))
    recorded = state.setdefault("recorded", [])
    if face is None or len(recorded) >= MAX_RECORDED:
        return
    if not recorded:
        state["recording_start"] = now
    kept = {key: dict(face.analysis[key]) for key in ("blendshapes", "head_pose", "action_units")
            if key in face.analysis}
    recorded.append((now - state["recording_start"], kept))


def live_avatar(state: dict[str, Any] | None, size: int = 256) -> np.ndarray | None:
    """The avatar of the largest analysed face of the last analysed frame, beside its action units
    as bars; None when no face carries an analysis (the face mesh is off or no face is seen)."""
    from fexlab.pipeline.avatar import avatar_of

    face = _largest((state or {}).get("faces", []))
    if face is None:
        return None
    return np.concatenate([avatar_of(face.analysis, size=size), unit_bars(face.analysis["action_units"], size)],
                          axis=1)


def unit_bars(units: dict[str, float], height: int = 256, width: int = 200) -> np.ndarray:
    """Action units as horizontal bars on white (an RGB image ``height`` pixels high), drawn fast
    enough for every webcam frame."""
    import cv2

    panel = np.full((height, width, 3), 255, np.uint8)
    row = height / max(len(units), 1)
    left, right = 44, width - 8
    for i, (unit, value) in enumerate(units.items()):
        top, bottom = round(i * row + 1), round((i + 1) * row - 1)
        cv2.putText(panel, unit, (4, bottom - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.32, (60, 60, 60), 1, cv2.LINE_AA)
        cv2.rectangle(panel, (left, top), (left + round((right - left) * min(1.0, max(0.0, value))), bottom),
                      (41, 128, 185), -1)
    cv2.line(panel, (left, 0), (left, height), (150, 150, 150), 1)
    return panel


def live_recording(state: dict[str, Any] | None) -> list[str]:
    """Handler: what the webcam recorded with the face mesh on, as a Live Link Face CSV and as JSON."""
    from fexlab.pipeline.exports import write_blendshapes_json, write_live_link_csv

    recorded = (state or {}).get("recorded") or []
    if not recorded:
        raise InputError("nothing is recorded yet: tick Face mesh, press Record and show your face to the webcam")
    folder = output_folder("live")
    return [str(write_live_link_csv(folder / "webcam.live_link.csv", recorded, RECORDING_FPS)),
            str(write_blendshapes_json(folder / "webcam.blendshapes.json", recorded, RECORDING_FPS))]


def clear_recording(state: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """Handler: (the state without its recording, a line saying so) to start a new take."""
    state = dict(state or {})
    count = len(state.pop("recorded", None) or [])
    state.pop("recording_start", None)
    return state, f"Cleared {count} recorded frames." if count else "Nothing was recorded."


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
            mesh = mesh_checkbox("live-mesh")
            follow_mesh(mesh, classifier, classifiers, "live_mesh_classifier")
        with gr.Column():
            shown = gr.Image(label="Emotions, live", height=360, elem_id="live-output")
            avatar = gr.Image(label="Avatar and action units (with the face mesh)", show_label=False, height=256,
                              elem_id="live-avatar")
            gr.Markdown(f"**With the face mesh**: the avatar wears the largest face's expression and head pose, beside "
                        f"its action units. {AU_NOTE}", elem_classes=["fexlab-note"])
            with gr.Row():
                download = gr.Button("Download the recording", elem_id="live-download")
                clear = gr.Button("Clear the recording", elem_id="live-clear")
            recording = gr.File(label="Recorded blendshapes and head pose (Live Link Face CSV, JSON)",
                                file_count="multiple", height=120, elem_id="live-recording")
            status = gr.Markdown("Allow the webcam, then press **Record**: boxes and emotions are drawn on the "
                                 "frames as they arrive. When analysis is slower than the camera, the last boxes are "
                                 "drawn on the newest frames (the count of reused frames is shown here).",
                                 label="Status", elem_id="live-status")

    @user_errors
    def stream(frame, classifier, checkpoint, detector, keypoints, mesh, state):
        shown, state, status = live_frame(registry, frame, classifier, detector, state, checkpoint=checkpoint,
                                          keypoints=keypoints, mesh=mesh)
        return shown, state, status, live_avatar(state) if mesh else None

    clear_on_error(camera.stream(stream, [camera, classifier, checkpoint, detector, keypoints, mesh, state],
                                 [shown, state, status, avatar], api_name="live", stream_every=0.15, time_limit=120,
                                 concurrency_limit=4, show_progress="hidden"), [shown, status, avatar])
    clear_on_error(download.click(user_errors(live_recording), state, recording, api_name="live_recording"),
                   [recording])
    clear_on_error(clear.click(user_errors(clear_recording), state, [state, status], api_name="clear_live_recording",
                               show_progress="hidden"),
                   [status])
