"""Predict tab: a photo (upload, paste or webcam snapshot) -> faces, boxes and emotions, one
annotated image per classifier side by side, and per-face probability bars. With the face mesh
ticked, each face's mesh is drawn too, and its action units and strongest blendshapes are shown as
bars, its mesh in 3D (OBJ and GLB to download) and its avatar.

Besides the installed classifiers, a checkpoint or training-run folder (a path inside the
configured data / results / runs folders) can be typed in and is compared like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from fexlab.eval.plots import action_unit_bars, probability_bars
from fexlab.pipeline.predict import Predictor, annotate, draw_mesh
from fexlab.registry import EMOTIONS, InputError, Registry

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
    image_file,
    load_plugins,
    mesh_checkbox,
    mesh_panel,
    mesh_triangles,
    min_score_slider,
    output_folder,
    plugin_choices,
    show_mesh_panel,
    unavailable_accordion,
    upload_name,
    upload_path,
    user_errors,
)

__all__ = ["EXAMPLES_DIR", "build", "face_analysis", "keypoints_note", "predict_photo"]

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
NO_FACE = ("No face found. Try a larger, frontal face, or the full_frame detector for a photo that is "
           "already a face crop.")


def keypoints_note(faces: list[Any], detector: str) -> str:
    """What a user who asked to see keypoints should know when there are none to draw."""
    if not faces or any(face.landmarks for face in faces):
        return ""
    return f" The {detector} detector gives no keypoints."


def predict_photo(registry: Registry, image: Any, classifiers: list[str] | str | None, detector: str | None,
                  checkpoint: str | None = None, keypoints: bool = False, min_score: float = 0.0,
                  photos: list[Any] | None = None, progress: Any = None, *, mesh: bool = False):
    """Handler: returns (gallery of annotated images, probability figure, JSON result, message,
    download files).

    ``image`` is one photo; ``photos`` several more (a batch upload), analysed in turn. The
    message holds a table, one row per face, each classifier's emotion and probability; the
    downloads are the faces as CSV and as JSON (the CLI's ``--json``). ``checkpoint`` is an
    optional typed checkpoint or training-run folder compared beside ``classifiers``; gallery
    captions and probability legends name each classifier. Faces are numbered left to right;
    ``keypoints`` draws the detector's landmarks (eyes, nose...) too; faces the detector scores
    below ``min_score`` are left out. ``progress`` is told each step of each photo. ``mesh`` runs the
    face mesh on each face (faces it finds no face in are dropped), draws it, and adds its outputs
    (blendshapes, action units, head pose, mesh) to each face of the JSON.
    """
    uploads = ([image] if upload_path(image) else []) + [p for p in photos or [] if upload_path(p)]
    if not uploads:
        raise InputError("upload a photo (or several), paste one, or take a webcam snapshot first")
    if len(uploads) > MAX_PHOTOS:
        raise InputError(f"{len(uploads)} photos is more than {MAX_PHOTOS} at once; upload them in parts")
    models = load_plugins(registry, "classifier", classifiers, checkpoint)
    analyzers = face_analyzers(registry, bool(mesh))
    predictor = Predictor(models, registry.detector(detector_name(detector)), min_score=float(min_score or 0.0),
                          analyzers=analyzers)
    triangles = mesh_triangles(analyzers)
    several = len(uploads) > 1
    gallery, records, found, bar_faces, bar_titles, skipped = [], [], [], [], [], []
    below = 0  # faces the detector scored below the minimum score, left out
    for number, upload in enumerate(uploads):
        name = upload_name(upload)
        where = f"photo {number + 1} of {len(uploads)}" if several else "the photo"
        _step(progress, 2 * number, 2 * len(uploads), f"{where}: reading it, finding faces and emotions")
        try:
            result = predictor.predict_image(upload_path(upload), keep_image=True, name=name)
        except InputError as err:
            if not several:
                raise
            skipped.append(str(err))
            continue
        below += result.left_out
        _step(progress, 2 * number + 1, 2 * len(uploads), f"{where}: drawing the boxes")
        factor = min(1.0, SHOWN_MAX_SIDE / max(result.image.shape[:2]))
        drawn = result.image if factor == 1.0 else _resized(result.image, factor)
        shown = [face.scaled(drawn.shape[1] / result.size[0]) for face in result.faces]
        if analyzers:
            drawn = draw_mesh(drawn, shown, triangles)
        for label in models:
            picture = annotate(drawn, shown, label, numbers=len(shown) > 1, keypoints=bool(keypoints))
            gallery.append((image_file(picture), f"{name} · {label}" if several else label))
        records.append({"file": name, "faces": [face.to_dict() for face in result.faces],
                        "size": list(result.size), "error": None})
        found.extend(result.faces)
        for i, face in enumerate(result.faces):
            bar_faces.append(face.probabilities)
            bar_titles.append(f"{name}, face {i + 1}" if several else f"face {i + 1}")
    if len(bar_faces) > MAX_BAR_FACES:
        bar_faces, bar_titles = bar_faces[:MAX_BAR_FACES], bar_titles[:MAX_BAR_FACES]
    figure = probability_bars(bar_faces, bar_titles)
    payload: dict[str, Any] = ({"photos": records} if several else
                               {key: records[0][key] for key in ("faces", "size")} if records else {"faces": []})
    files = _downloads(records, list(models))
    note = keypoints_note(found, detector_name(detector)) if keypoints else ""
    if analyzers and found:
        note += f" {AU_NOTE}"
    if len(found) > MAX_BAR_FACES:
        note += f" The chart shows the first {MAX_BAR_FACES} of the {len(found)} faces; the table has every face."
    if below:
        note = (f" {below} more face{'s' if below != 1 else ''} scored below the minimum face score "
                f"{predictor.min_score:g} and {'are' if below != 1 else 'is'} left out.{note}")
    message = _summary(records, list(models), several, note)
    if skipped:
        message += "\n\nSkipped: " + "; ".join(skipped)
    return gallery, figure, payload, message, files


#: Photos analysed in one request.
MAX_PHOTOS = 50
#: Faces drawn in the probability chart (the table and downloads have every face).
MAX_BAR_FACES = 16
#: The annotated photos are drawn at most this many pixels on their long side: a large photo is
#: analysed at up to :data:`fexlab.preprocessing.images.MAX_PIXELS` but shown (and encoded) at screen size.
SHOWN_MAX_SIDE = 2048


def _step(progress: Any, done: int, total: int, desc: str) -> None:
    if progress is not None:
        progress((done, total), desc=desc, unit="steps")


def _resized(image: Any, factor: float) -> Any:
    import cv2

    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _summary(records: list[dict[str, Any]], labels: list[str], several: bool, note: str = "") -> str:
    """"2 faces found." (and ``note``), then a Markdown table: one row per face, each classifier's
    emotion and probability."""
    count = sum(len(record["faces"]) for record in records)
    if not count:
        return NO_FACE + note
    head = f"{count} face{'s' if count != 1 else ''} found" + (f" in {len(records)} photos." if several else ".")
    head += note
    columns = (["photo"] if several else []) + ["face", *labels]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        for i, face in enumerate(record["faces"]):
            verdicts = [face["classifiers"][label] if len(labels) > 1 else face for label in labels]
            cells = [f"**{v['emotion']}** {v['probabilities'][v['emotion']]:.0%}" for v in verdicts]
            lines.append("| " + " | ".join(([record["file"]] if several else []) + [str(i + 1), *cells]) + " |")
        if not record["faces"] and several:
            lines.append("| " + " | ".join([record["file"], "no face", *[""] * len(labels)]) + " |")
    return head + "\n\n" + "\n".join(lines)


def _downloads(records: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """The faces of ``records`` as ``emotions.csv`` (one row per face and classifier; with the face
    mesh, a column per action unit, head-pose angle and blendshape) and ``emotions.json``."""
    import csv
    import json

    from fexlab.pipeline.exports import analysis_cells, analysis_columns, spreadsheet_cell

    folder = output_folder("predict")
    columns = analysis_columns(face for record in records for face in record["faces"])
    with (folder / "emotions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADERS + columns)
        for record in records:
            for i, face in enumerate(record["faces"]):
                for label in labels:
                    verdict = face["classifiers"][label] if len(labels) > 1 else face
                    probs = verdict["probabilities"]
                    writer.writerow([spreadsheet_cell(record["file"]), i + 1, *face["box"], face["score"],
                                     spreadsheet_cell(label), verdict["emotion"], probs[verdict["emotion"]],
                                     *(probs[e] for e in EMOTIONS), *analysis_cells(face, columns)])
    (folder / "emotions.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "size"} for r in records],
                                                     indent=2))
    return [str(folder / "emotions.csv"), str(folder / "emotions.json")]


CSV_HEADERS = ["photo", "face", "x", "y", "w", "h", "score", "classifier", "emotion", "confidence", *EMOTIONS]


#: Faces whose action units and avatars are shown (the JSON and the mesh downloads have every face).
MAX_MESH_FACES = 4


def face_analysis(registry: Registry, payload: dict[str, Any] | None) -> tuple[Any, str | None, list[Any], list[str]]:
    """Handler, after :func:`predict_photo` with the face mesh: (each face's action units and
    strongest blendshapes as bars, the first face's mesh as a ``.glb`` for the 3D view, each
    face's avatar with its caption, every face's mesh as OBJ and GLB files). Nothing when no
    face of ``payload`` (:func:`predict_photo`'s JSON) carries a mesh."""
    from fexlab.pipeline.avatar import avatar_of
    from fexlab.pipeline.exports import mesh_topology, write_mesh_glb, write_mesh_obj

    payload = payload or {}
    several = "photos" in payload
    photos = payload.get("photos") or [{"file": "", "faces": payload.get("faces", [])}]
    named = [(f"{photo['file']}, face {i + 1}" if several else f"face {i + 1}",
              f"{Path(photo['file']).stem}.face{i + 1}" if several else f"face{i + 1}", face)
             for photo in photos for i, face in enumerate(photo["faces"]) if face.get("mesh")]
    if not named:
        return None, None, [], []
    shown = named[:MAX_MESH_FACES]
    note = AU_NOTE
    if len(named) > len(shown):
        note += (f" The first {len(shown)} of the {len(named)} faces are shown here; the JSON and the mesh files "
                 "have every face.")
    figure = action_unit_bars([face for _, _, face in shown], [title for title, _, _ in shown], note=note)
    avatars = [(image_file(avatar_of(face)), title) for title, _, face in shown]
    triangles, uv = mesh_topology(face_analyzers(registry, True).values())
    folder = output_folder("mesh")
    files = []
    for _, stem, face in named:
        files.append(str(write_mesh_obj(folder / f"{stem}.obj", face["mesh"], triangles, uv)))
        files.append(str(write_mesh_glb(folder / f"{stem}.glb", face["mesh"], triangles)))
    return figure, files[1], avatars, files


def build(registry: Registry) -> None:
    """Lay out the Predict tab inside the current ``gr.Blocks`` context."""
    classifiers = plugin_choices(registry, "classifier")
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            image = gr.Image(label="Photo: upload, paste or take a webcam snapshot", type="filepath",
                             sources=["upload", "clipboard", "webcam"], height=340, elem_id="predict-photo",
                             webcam_options=WEBCAM)
            photos = gr.File([], label="Or several photos at once", file_count="multiple", file_types=["image"],
                             height=150, elem_id="predict-photos")
            run = gr.Button("Predict emotions", variant="primary")
            chosen = gr.Dropdown(classifiers, value=default_comparison(classifiers), multiselect=True, label="Classifiers",
                                 info="choose several to compare them side by side")
            checkpoint = checkpoint_box()
            detector = detector_dropdown(registry, info="full_frame: the photo is already one face")
            min_score = min_score_slider()
            keypoints = gr.Checkbox(False, label="Show keypoints", elem_id="predict-keypoints",
                                    info="the eyes, nose, mouth... that the detector finds, where it finds them")
            mesh = mesh_checkbox("predict-mesh")
            follow_mesh(mesh, chosen, classifiers, "predict_mesh_classifiers")
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
            files = gr.File(label="Download the faces (CSV, JSON)", file_count="multiple", elem_id="predict-files")
            with mesh_panel() as panel:
                units = gr.Plot(label="Action units and blendshapes per face", show_label=False,
                                elem_id="predict-units")
                with gr.Row():
                    model = gr.Model3D(label="Face mesh in 3D (face 1)", height=300, elem_id="predict-model")
                    with gr.Column():
                        gr.Markdown("**Avatars**: the cartoon face wearing each face's expression and head pose",
                                    elem_classes=["fexlab-note", "fexlab-pad"])
                        avatars = gr.Gallery(label="Avatars", show_label=False, columns=2, height="auto",
                                             object_fit="contain", preview=False, elem_id="predict-avatars",
                                             elem_classes=["fexlab-whole"])
                meshes = gr.File(label="Download the meshes (OBJ, GLB)", file_count="multiple",
                                 elem_id="predict-meshes")
            with gr.Accordion("JSON", open=False):
                raw = gr.JSON(label="Result")

    @user_errors
    def predict(image, classifiers, detector, checkpoint, keypoints, min_score, photos, mesh,
                progress=gr.Progress()):
        found = predict_photo(registry, image, classifiers, detector, checkpoint, keypoints, min_score, photos,
                              progress, mesh=mesh)
        analysed = face_analysis(registry, found[2]) if mesh else (None, None, [], [])
        return *found, *analysed, show_mesh_panel(bool(mesh))

    outputs = [gallery, bars, raw, message, files, units, model, avatars, meshes]
    clear_on_error(run.click(predict, [image, chosen, detector, checkpoint, keypoints, min_score, photos, mesh],
                             [*outputs, panel], api_name="predict", preprocess=False,
                             show_progress_on=[message]), outputs)
