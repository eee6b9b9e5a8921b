"""Predict tab: a photo (upload, paste or webcam snapshot) -> faces, boxes and emotions, one
annotated image per classifier side by side, and per-face probability bars.

Besides the installed classifiers, a checkpoint or training-run folder (a path inside the
configured data / results / runs folders) can be typed in and is compared like any other.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from eval.plots import probability_bars
from predict import FacePrediction, Predictor, annotate
from registry import DEFAULT_DETECTOR, InputError, Registry

from .common import (
    image_file,
    load_plugins,
    plain_names,
    plugin_choices,
    unavailable_accordion,
    upload_name,
    upload_path,
    user_errors,
)

__all__ = ["EXAMPLES_DIR", "build", "predict_photo"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
NO_FACE = ("No face found. Try a larger, frontal face, or the full_frame detector for a photo that is "
           "already a face crop.")


def predict_photo(registry: Registry, image: Any, classifiers: list[str] | str | None, detector: str | None,
                  checkpoint: str | None = None):
    """Handler: returns (gallery of annotated images, probability figure, JSON result, message).

    ``checkpoint`` is an optional typed checkpoint or training-run folder compared beside
    ``classifiers``; gallery captions and probability legends name each classifier.
    """
    name, path = upload_name(image), upload_path(image)
    if not path:
        raise InputError("upload a photo, paste one, or take a webcam snapshot first")
    models = load_plugins(registry, "classifier", classifiers, checkpoint)
    predictor = Predictor(models, registry.detector((plain_names(detector, "detector") or [DEFAULT_DETECTOR])[0]))
    result = predictor.predict_image(path, keep_image=True, name=name)
    faces = sorted(result.faces, key=lambda face: (face.box[0], face.box[1]))  # numbered left to right
    scale = result.image.shape[1] / result.size[0]
    shown = [_on_working_image(face, scale) for face in faces]
    gallery = [(image_file(_numbered(annotate(result.image, shown, label), shown)), label) for label in models]
    figure = probability_bars([face.probabilities for face in faces], [f"face {i + 1}" for i in range(len(faces))])
    payload: dict[str, Any] = {"faces": [face.to_dict() for face in faces], "size": list(result.size)}
    if not faces:
        return gallery, figure, payload, NO_FACE
    lines = [f"{len(faces)} face{'s' if len(faces) != 1 else ''} found."]
    for i, face in enumerate(faces):
        verdicts = ", ".join(f"{label} **{face.top(label)[0]}** ({face.top(label)[1]:.0%})" for label in models)
        lines.append(f"face {i + 1}: {verdicts}" if len(models) > 1 else f"face {i + 1}: **{face.emotion}**")
    return gallery, figure, payload, " ".join(lines[:1]) + " " + "; ".join(lines[1:])


def _on_working_image(face: FacePrediction, scale: float) -> FacePrediction:
    return replace(face, box=tuple(round(v * scale) for v in face.box))


def _numbered(image: np.ndarray, faces: list[FacePrediction]) -> np.ndarray:
    """Draw each face's number (as in the message and the bar charts) in its box's lower-left corner,
    when there is more than one face to tell apart."""
    import cv2

    if len(faces) < 2:
        return image
    for number, face in enumerate(faces, start=1):
        x, y, w, h = face.box
        scale = max(0.5, min(2.0, w / 120))
        thickness = max(1, round(scale * 2))
        (tw, th), base = cv2.getTextSize(str(number), cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(0, y + h - th - base - 6)
        cv2.rectangle(image, (x, top), (x + tw + 8, top + th + base + 6), (255, 255, 255), -1)
        cv2.putText(image, str(number), (x + 4, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness,
                    cv2.LINE_AA)
    return image


def build(registry: Registry) -> None:
    """Lay out the Predict tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    detectors = plugin_choices(registry, "detector")
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            image = gr.Image(label="Photo: upload, paste or take a webcam snapshot", type="filepath",
                             sources=["upload", "clipboard", "webcam"], height=340, elem_id="predict-photo")
            run = gr.Button("Predict emotions", variant="primary")
            chosen = gr.Dropdown(classifiers, value=classifiers[:1], multiselect=True, label="Classifiers",
                                 info="choose several to compare them side by side")
            checkpoint = gr.Textbox("", label="Your model (optional)", placeholder="runs/my-run",
                                    info="a checkpoint or training-run folder in the runs, results or data folder")
            detector = gr.Dropdown(detectors, value=DEFAULT_DETECTOR if DEFAULT_DETECTOR in detectors else (detectors[:1] or [None])[0],
                                   label="Face detector", info="full_frame: the photo is already one face")
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
    def predict(image, classifiers, detector, checkpoint):
        return predict_photo(registry, image, classifiers, detector, checkpoint)

    run.click(predict, [image, chosen, detector, checkpoint], [gallery, bars, raw, message], api_name="predict",
              preprocess=False)
