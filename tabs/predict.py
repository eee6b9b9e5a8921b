"""Predict tab: a photo (upload, paste or webcam snapshot) -> faces, boxes and emotions, one
annotated image per classifier side by side, and per-face probability bars.

Besides the installed classifiers, a checkpoint or training-run folder (a path inside the
configured data / results / runs folders) can be typed in and is compared like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from eval.plots import probability_bars
from predict import Predictor, annotate
from registry import InputError, Registry

from .common import (
    checkpoint_box,
    clear_on_error,
    default_comparison,
    detector_dropdown,
    detector_name,
    image_file,
    load_plugins,
    plugin_choices,
    unavailable_accordion,
    upload_name,
    upload_path,
    user_errors,
)

__all__ = ["EXAMPLES_DIR", "build", "keypoints_note", "predict_photo"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
NO_FACE = ("No face found. Try a larger, frontal face, or the full_frame detector for a photo that is "
           "already a face crop.")


def keypoints_note(faces: list[Any], detector: str) -> str:
    """What a user who asked to see keypoints should know when there are none to draw."""
    if not faces or any(face.landmarks for face in faces):
        return ""
    return f" The {detector} detector gives no keypoints."


def predict_photo(registry: Registry, image: Any, classifiers: list[str] | str | None, detector: str | None,
                  checkpoint: str | None = None, keypoints: bool = False):
    """Handler: returns (gallery of annotated images, probability figure, JSON result, message).

    ``checkpoint`` is an optional typed checkpoint or training-run folder compared beside
    ``classifiers``; gallery captions and probability legends name each classifier. Faces are
    numbered left to right; ``keypoints`` draws the detector's landmarks (eyes, nose...) too.
    """
    name, path = upload_name(image), upload_path(image)
    if not path:
        raise InputError("upload a photo, paste one, or take a webcam snapshot first")
    models = load_plugins(registry, "classifier", classifiers, checkpoint)
    predictor = Predictor(models, registry.detector(detector_name(detector)))
    result = predictor.predict_image(path, keep_image=True, name=name)
    faces = result.faces
    shown = [face.scaled(result.image.shape[1] / result.size[0]) for face in faces]
    gallery = [(image_file(annotate(result.image, shown, label, numbers=len(shown) > 1, keypoints=bool(keypoints))),
                label) for label in models]
    figure = probability_bars([face.probabilities for face in faces], [f"face {i + 1}" for i in range(len(faces))])
    payload: dict[str, Any] = {"faces": [face.to_dict() for face in faces], "size": list(result.size)}
    if not faces:
        return gallery, figure, payload, NO_FACE
    lines = [f"{len(faces)} face{'s' if len(faces) != 1 else ''} found."]
    for i, face in enumerate(faces):
        verdicts = ", ".join(f"{label} **{face.top(label)[0]}** ({face.top(label)[1]:.0%})" for label in models)
        lines.append(f"face {i + 1}: {verdicts}" if len(models) > 1 else f"face {i + 1}: **{face.emotion}**")
    note = keypoints_note(faces, detector_name(detector)) if keypoints else ""
    return gallery, figure, payload, " ".join(lines[:1]) + " " + "; ".join(lines[1:]) + note


def build(registry: Registry) -> None:
    """Lay out the Predict tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            image = gr.Image(label="Photo: upload, paste or take a webcam snapshot", type="filepath",
                             sources=["upload", "clipboard", "webcam"], height=340, elem_id="predict-photo")
            run = gr.Button("Predict emotions", variant="primary")
            chosen = gr.Dropdown(classifiers, value=default_comparison(classifiers), multiselect=True, label="Classifiers",
                                 info="choose several to compare them side by side")
            checkpoint = checkpoint_box()
            detector = detector_dropdown(registry, info="full_frame: the photo is already one face")
            keypoints = gr.Checkbox(False, label="Show keypoints", elem_id="predict-keypoints",
                                    info="the eyes, nose, mouth... that the detector finds, where it finds them")
            unavailable_accordion(registry, "classifier")
            examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))
            if examples:
                gr.Examples(examples, inputs=image, label="Example photos (public domain, see examples/README.md)")
        with gr.Column(scale=3):
            message = gr.Markdown("Upload a photo and press **Predict emotions**.", label="Summary",
                                  elem_id="predict-message")
            gallery = gr.Gallery(label="Faces and emotions, one image per classifier", show_label=False, columns=2,
                                 height="auto",
                                 object_fit="contain", preview=False, elem_classes=["fexlab-whole"],
                                 elem_id="predict-gallery")
            bars = gr.Plot(label="Probabilities per face", show_label=False)
            with gr.Accordion("JSON", open=False):
                raw = gr.JSON(label="Result")

    @user_errors
    def predict(image, classifiers, detector, checkpoint, keypoints):
        return predict_photo(registry, image, classifiers, detector, checkpoint, keypoints)

    outputs = [gallery, bars, raw, message]
    clear_on_error(run.click(predict, [image, chosen, detector, checkpoint, keypoints], outputs, api_name="predict",
                             preprocess=False, show_progress_on=[message]), outputs)
