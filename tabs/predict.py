"""Predict tab: a photo (upload, paste or webcam snapshot) -> faces, boxes and emotions,
one annotated image per classifier side by side, and per-face probability bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from eval.plots import probability_bars
from predict import Predictor, annotate
from registry import InputError, Registry

from .common import image_file, plugin_choices, unavailable_note, upload_name, upload_path, user_errors

__all__ = ["build", "predict_photo"]

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def predict_photo(registry: Registry, image: str | None, classifiers: list[str] | str | None, detector: str | None):
    """Handler: returns (gallery of annotated images, probability figure, JSON result, message)."""
    name, image = upload_name(image), upload_path(image)
    if not image:
        raise InputError("upload a photo, paste one, or take a webcam snapshot first")
    if isinstance(classifiers, str):
        classifiers = [classifiers]
    if not classifiers:
        raise InputError("choose at least one classifier")
    predictor = Predictor({name: registry.classifier(name) for name in classifiers}, registry.detector(detector or "haar"))
    result = predictor.predict_image(image, keep_image=True, name=name)
    scale = result.image.shape[1] / result.size[0]
    shown = [_on_working_image(face, scale) for face in result.faces]
    gallery = [(image_file(annotate(result.image, shown, name)), name) for name in classifiers]
    figure = probability_bars([face.probabilities for face in result.faces],
                              [f"face {i + 1}" for i in range(len(result.faces))])
    payload: dict[str, Any] = {"faces": [face.to_dict() for face in result.faces], "size": list(result.size)}
    if not result.faces:
        message = "No face found. Try a larger, frontal face, or the full_frame detector for a photo that is already a face crop."
    else:
        tops = ", ".join(f"face {i + 1}: **{face.emotion}**" for i, face in enumerate(result.faces))
        message = f"{len(result.faces)} face{'s' if len(result.faces) != 1 else ''} found. {tops}"
    return gallery, figure, payload, message


def _on_working_image(face, scale: float):
    from dataclasses import replace

    return replace(face, box=tuple(round(v * scale) for v in face.box))


def build(registry: Registry) -> None:
    """Lay out the Predict tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    detectors = plugin_choices(registry, "detector")
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(label="Photo", type="filepath", sources=["upload", "clipboard", "webcam"], height=360)
            chosen = gr.Dropdown(classifiers, value=classifiers[:1], multiselect=True, label="Classifiers",
                                 info="choose several to compare them side by side")
            detector = gr.Dropdown(detectors, value="haar" if "haar" in detectors else (detectors[:1] or [None])[0],
                                   label="Face detector")
            note = unavailable_note(registry, "classifier")
            if note:
                gr.Markdown(note, elem_classes=["fexlab-note"])
            run = gr.Button("Predict emotions", variant="primary")
            examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))
            if examples:
                gr.Examples(examples, inputs=image, label="Example photos (public domain, see examples/README.md)")
        with gr.Column(scale=2):
            message = gr.Markdown(elem_id="predict-message", label="Summary")
            gallery = gr.Gallery(label="Faces and emotions, per classifier", columns=2, height=420, object_fit="contain")
            bars = gr.Plot(label="Probabilities per face")
            with gr.Accordion("JSON", open=False):
                raw = gr.JSON(label="Result")

    @user_errors
    def predict(image, classifiers, detector):
        return predict_photo(registry, image, classifiers, detector)

    run.click(predict, [image, chosen, detector], [gallery, bars, raw, message], api_name="predict",
              preprocess=False)
