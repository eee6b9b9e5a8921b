"""Generate tab: faces from one or more generators side by side.

- a grid per generator (rows are seeds, i.e. identities; columns the chosen emotions), or the
  "one identity, all seven emotions" row;
- an interpolation between two emotions (and optionally two identities), browsed with a slider
  over frames computed once and kept in the user's ``gr.State``;
- an animated export of that interpolation, or of one identity through all seven emotions, as a
  GIF and a WebM per generator (:mod:`animation`);
- expression editing of an uploaded face by the generators that take an ``image`` option (the
  Stable Diffusion LoRA's img2img).

Each generator receives only the options it declares (``Generator.options``): the cGAN's
truncation, the renderer's intensity and variation, the diffusion steps, guidance, negative
prompt and LoRA scale. Everything made can be downloaded as PNGs in one zip.
"""

from __future__ import annotations

import inspect
import re
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from fexlab.registry import BROKEN, EMOTIONS, READY, Generator, InputError, Registry, parse_emotions
from fexlab.registry.emotions import canonical_emotion

from .common import (
    WEBCAM,
    checkpoint_box,
    clear_on_error,
    detector_dropdown,
    detector_name,
    figure_file,
    image_file,
    load_plugins,
    number,
    output_folder,
    plugin_choices,
    public_paths,
    unavailable_accordion,
    upload_name,
    upload_path,
    user_errors,
)

__all__ = [
    "ANIMATIONS",
    "MAX_FRAMES",
    "MAX_IDENTITIES",
    "MAX_STEPS",
    "animate_faces",
    "build",
    "edit_expression",
    "editing_note",
    "generate_faces",
    "interpolate_faces",
    "interpolation_frame",
    "offered_units",
    "ui_options",
    "unit_options",
]

#: Bounds that keep one request short on a shared CPU.
MAX_IDENTITIES = 8
MAX_FRAMES = 16
MAX_STEPS = 100
#: (label, mode of :func:`animation.animate`) of the animations offered.
ANIMATIONS = [("From → To", "interpolate"), ("One identity, all seven emotions", "all")]
#: The strength slider's end: mesh_warp's most intense real faces; an editor that stops at 1 edits at 1.
MAX_STRENGTH = 2.0


def ui_options(truncation: float = 1.0, intensity: float = 1.0, variation: float = 0.0, steps: int = 30,
               guidance: float = 7.5, negative_prompt: str = "", lora_scale: float = 1.0) -> dict[str, Any]:
    """The option values the tab's controls set, checked; each generator takes the ones it declares."""
    steps = number(steps, "diffusion steps", whole=True)
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"diffusion steps must be between 1 and {MAX_STEPS}, got {steps}")
    truncation = number(truncation, "truncation")
    if not 0.0 < truncation <= 1.0:
        raise InputError(f"truncation must be in (0, 1], got {truncation}")
    return {"truncation": truncation, "intensity": number(intensity, "intensity"),
            "variation": number(variation, "variation"), "steps": steps, "guidance": number(guidance, "guidance"),
            "negative_prompt": str(negative_prompt or ""), "lora_scale": number(lora_scale, "the LoRA scale")}


def _options_for(generator: Generator, options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key in generator.options}


def _seed(seed: Any) -> int:
    if seed is None or seed == "":
        return Generator.resolve_seed(None)
    value = number(seed, "the seed", whole=True)
    if not 0 <= value < 2**31:
        raise InputError(f"the seed must be between 0 and {2**31 - 1}, got {value}")
    return value


def _face_number(value: Any) -> int:
    """The face to animate: 1, 2, ... left to right; 0 (or nothing) for the largest."""
    try:
        number = 0 if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise InputError(f"the face to animate is a number from 1, left to right (0: the largest), got '{value}'")
    return number


def _emotions(emotions: Any) -> list[str]:
    try:
        names = parse_emotions(emotions or [])
    except ValueError as err:
        raise InputError(str(err)) from None
    if not names:
        raise InputError("tick at least one emotion")
    return names


def _notes(label: str, generator: Generator, emotions: list[str], options: dict[str, Any],
           trained: bool = True) -> list[str]:
    """What a user should know about a generator's output: its data (unless not ``trained``: an
    edit's message says what was done to the photo, not each editor's training) and, for a
    diffusion model, the prompts and settings used."""
    notes = []
    data = generator.metadata.get("training_data")
    if data and trained:
        notes.append(f"**{label}** was trained on {public_paths(data)}.")
    elif "SYNTHETIC" in generator.description:
        notes.append(f"**{label}** draws SYNTHETIC cartoon faces, not photographs.")
    prompt = getattr(generator, "prompt", None)
    if callable(prompt):
        used = "; ".join(f"*{prompt(e)}*" for e in emotions)
        settings = _options_for(generator, options)
        notes.append(f"**{label}** prompts: {used}. Negative prompt: *{settings.get('negative_prompt') or 'none'}*; "
                     f"{settings.get('steps')} steps, guidance {settings.get('guidance')}, "
                     f"LoRA scale {settings.get('lora_scale')}.")
    return notes


def _slug(text: str) -> str:
    """A file-name form of a generator label, keeping the plugin name as the CLI writes it."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-") or "generator"


def _zip(folder: Path, name: str) -> str:
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for file in sorted(folder.glob("*.png")):
            archive.write(file, file.name)
    return str(path)


def generate_faces(registry: Registry, generators: list[str] | str | None, checkpoint: str | None,
                   emotions: Any, count: int, seed: Any, options: dict[str, Any] | None = None):
    """Handler: returns (gallery of one grid per generator, zip of every PNG, message).

    Row ``i`` of each grid is seed ``seed + i`` (one identity), its columns the ``emotions``.
    """
    names = _emotions(emotions)
    count = number(count, "the number of identities", whole=True)
    if not 1 <= count <= MAX_IDENTITIES:
        raise InputError(f"choose between 1 and {MAX_IDENTITIES} identities, got {count}")
    first = _seed(seed)
    seeds = list(range(first, first + count))
    options = options if options is not None else ui_options()
    models = load_plugins(registry, "generator", generators, checkpoint)
    from fexlab.eval.plots import sample_grid, save_figure

    folder = output_folder("generate")
    gallery, notes = [], []
    for label, generator in models.items():
        settings = _options_for(generator, options)
        rows = generator.generate_grid(names, seeds, **settings)
        for seed_value, images in zip(seeds, rows):
            for emotion, image in zip(names, images):
                image.save(folder / f"{_slug(label)}_{emotion}_seed{seed_value}.png")
        figure = sample_grid({f"seed {s}": images for s, images in zip(seeds, rows)}, names, title=label, cell=1.25)
        grid = save_figure(figure, folder / f"{_slug(label)}_grid.png", dpi=110)
        caption = f"{label} · seeds {seeds[0]}–{seeds[-1]}" if count > 1 else f"{label} · seed {first}"
        gallery.append((str(grid), caption))
        notes += _notes(label, generator, names, settings)
    what = "one identity" if count == 1 else f"{count} identities"
    message = (f"{len(models)} generator(s) × {what} × {len(names)} emotion(s); first seed **{first}** "
               f"(the same seed keeps the same identity). " + " ".join(notes))
    return gallery, _zip(folder, "fexlab-faces.zip"), message


# -- interpolation -----------------------------------------------------------------------------------
def _morph_request(start: str, end: str, seed: Any, end_seed: Any, frames: Any) -> tuple[list[str], int, int, int]:
    """The checked (emotions, first seed, last seed, frames) of an interpolation; an empty end
    seed keeps the first."""
    emotions = []
    for which, name in (("start", start), ("end", end)):
        emotion = canonical_emotion(name or "")
        if emotion is None:
            raise InputError(f"choose the {which} emotion (one of {', '.join(EMOTIONS)})")
        emotions.append(emotion)
    frames = number(frames or 0, "the number of frames", whole=True)
    if not 2 <= frames <= MAX_FRAMES:
        raise InputError(f"choose between 2 and {MAX_FRAMES} frames, got {frames}")
    first = _seed(seed)
    last = first if end_seed is None or str(end_seed).strip() == "" else _seed(str(end_seed).strip())
    return emotions, first, last, frames


def interpolate_faces(registry: Registry, generators: list[str] | str | None, checkpoint: str | None,
                      start: str, end: str, seed: Any, end_seed: Any, frames: int,
                      options: dict[str, Any] | None = None):
    """Handler: returns (strip image, frames state, frame slider, gallery of the frame shown).

    Each generator morphs from (``start``, ``seed``) to (``end``, ``end_seed``; empty keeps
    ``seed``, so only the expression changes) in ``frames`` images, kept in the state so the
    slider browses them without recomputing. The slider counts frames (1 to ``frames``) and
    starts on the middle one, the frame shown.
    """
    from fexlab.eval.plots import sample_grid

    emotions, first, last, frames = _morph_request(start, end, seed, end_seed, frames)
    options = options if options is not None else ui_options()
    models = load_plugins(registry, "generator", generators, checkpoint)
    state: dict[str, Any] = {"labels": [], "frames": {}, "path": f"{emotions[0]} → {emotions[1]}"}
    rows = {}
    for label, generator in models.items():
        images = generator.interpolate((emotions[0], first), (emotions[1], last), frames,
                                       **_options_for(generator, options))
        rows[label] = images
        state["labels"].append(label)
        state["frames"][label] = [image_file(image) for image in images]
    ticks = [f"{t:.2f}" for t in np.linspace(0, 1, frames)]
    who = f"seed {first}" if first == last else f"seed {first} → {last}"
    strip = sample_grid(rows, ticks, title=f"{emotions[0]} → {emotions[1]}, {who}", cell=1.1)
    middle = (frames + 1) // 2
    slider = gr.Slider(minimum=1, maximum=frames, value=middle, step=1)
    return figure_file(strip), state, slider, interpolation_frame(state, middle)


def interpolation_frame(state: dict[str, Any] | None, frame: float):
    """Handler: frame number ``frame`` (1 = the start emotion, the last = the end) of every
    generator, captioned with that number and its place between the two emotions (0 to 1)."""
    if not state or not state.get("labels"):
        raise InputError("press Interpolate first")
    shown = []
    for label in state["labels"]:
        frames = state["frames"][label]
        index = min(len(frames), max(1, round(float(frame or 1)))) - 1
        where = f"frame {index + 1} of {len(frames)} ({index / (len(frames) - 1):.2f})"
        shown.append((frames[index], f"{label} · {state['path']}, {where}"))
    return shown


def animate_faces(registry: Registry, generators: list[str] | str | None, checkpoint: str | None, mode: str,
                  start: str, end: str, seed: Any, end_seed: Any, frames: int, fps: float,
                  options: dict[str, Any] | None = None):
    """Handler: returns (gallery of one animated GIF per generator, their GIF and WebM files, message).

    ``interpolate`` goes from ``start`` to ``end`` (and from ``seed`` to ``end_seed`` when one is
    typed); ``all`` shows the identity of ``seed`` through the seven emotions. Either way
    ``frames`` are drawn from one emotion to the next, played at ``fps`` frames per second.
    """
    from fexlab.pipeline.animation import animate, check_fps, path_emotions

    emotions, first, last, frames = _morph_request(start, end, seed, end_seed, frames)
    if mode != "interpolate":
        emotions, last = path_emotions(mode), first
    rate = check_fps(fps)
    options = options if options is not None else ui_options()
    models = load_plugins(registry, "generator", generators, checkpoint)
    folder = output_folder("animate")
    who = f"seed {first}" if first == last else f"seed {first} → {last}"
    shown, files, faded = [], [], []
    for label, generator in models.items():
        animation = animate(generator, emotions, first, frames, end_seed=last, **_options_for(generator, options))
        gif, webm = animation.save(folder / animation.stem(_slug(label)), rate)
        shown.append((str(gif), f"{label} · {' → '.join(emotions)}, {who}"))
        files += [str(gif), str(webm)]
        if not animation.morphed:
            faded.append(label)
    message = (f"{len(models)} animation(s) of {len(animation.frames)} frames ({frames} from one emotion to the "
               f"next) at {rate:g} frames per second, as GIF and WebM.")
    if faded:
        message += (f" {', '.join(faded)} cannot interpolate on its own: between two emotions its frames are "
                    "cross-fades of the faces it draws.")
    return shown, files, message


# -- expression editing --------------------------------------------------------------------------------
def offered_units(registry: Registry, editors: list[str]) -> list[str]:
    """The action units some editor of ``editors`` takes one by one (its ``auN`` options), in number order."""
    found = {key.upper() for name in editors for key in _class(registry, name).options if re.fullmatch(r"au\d+", key)}
    return sorted(found, key=lambda unit: int(unit[2:]))


def unit_name(unit: str) -> str:
    """FACS's name of an action unit ("AU12" -> "lip corner puller"), "" for a unit fexlab does not list."""
    from fexlab.plugins.face_mesh.action_units import ACTION_UNITS

    return ACTION_UNITS.get(unit, ("",))[0]


def unit_options(units: list[str], chosen: Any, values: Any) -> dict[str, float]:
    """Editor options (``{"au12": 0.8}``) for the ticked units ``chosen`` of ``units``, from the
    sliders' ``values`` in ``units`` order."""
    chosen = [chosen] if isinstance(chosen, str) else list(chosen or [])
    unknown = sorted(set(chosen) - set(units))
    if unknown:
        raise InputError(f"no action unit {', '.join(unknown)} can be set; units: {', '.join(units)}")
    return {unit.lower(): number(value, unit) for unit, value in zip(units, values) if unit in chosen}


def edit_expression(registry: Registry, generators: list[str] | str | None, checkpoint: str | None, image: Any,
                    emotions: Any, seed: Any, strength: float, options: dict[str, Any] | None = None,
                    detector: str | None = None, paste: bool = True, fps: float = 6.0, animated: Any = 0):
    """Handler: returns (gallery of every face as it is then edited to each emotion by each editing
    generator, gallery of the photo as it is then with the edits pasted back, the PNG zip and
    animations, message).

    The faces are found by ``detector`` (default :data:`registry.DEFAULT_DETECTOR`; ``full_frame``
    when the upload is already a face crop), aligned on the eyes, cropped, edited, and carried back
    at the photo's resolution (:mod:`editing`). Generators that cannot edit are skipped and named.
    ``animated`` is the number of the face animated, left to right from 1 (0: the largest).
    """
    from fexlab.pipeline.animation import check_fps
    from fexlab.pipeline.editing import animate_face, edit_photo

    path, name = upload_path(image), upload_name(image)
    if not path:
        raise InputError("upload a face photo (or take a webcam snapshot) to edit first")
    names = _emotions(emotions)
    strength = number(strength, "strength")
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise InputError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    rate = check_fps(fps)
    chosen = _face_number(animated)
    from fexlab.preprocessing.images import load_image

    photo = load_image(path, name=name)  # a bad file is a one-line error before any model is loaded
    options = options if options is not None else ui_options()
    models = load_plugins(registry, "generator", generators, checkpoint)
    editors = {label: g for label, g in models.items() if g.edits()}
    if not editors:
        raise InputError(f"none of {', '.join(models)} can edit a face; choose stargan (or a diffusion generator "
                         "such as sd_lora, see the Plugins tab for what it needs)")
    finder = registry.detector(detector_name(detector))
    seed = _seed(seed)
    folder = output_folder("edit")
    faces, photos, files, notes = [], [], [], []
    for label, generator in editors.items():
        slug = _slug(label)
        settings = {k: v for k, v in _options_for(generator, options).items() if k not in ("image", "strength")}
        own = generator.own_strength(strength)  # past 1: mesh_warp's most intense faces
        if own < strength:
            notes.append(f"**{label}** goes up to strength {own:g}, so it edited at {own:g}.")
        result = edit_photo(photo, generator, finder, names, strength=own, seed=seed, **settings)
        for index, face in enumerate(result.faces, start=1):
            who = f" · face {index}" if len(result.faces) > 1 else ""
            faces.append((image_file(face.crop), f"{label}{who} · original"))
            for emotion in names:
                file = folder / f"{slug}_face{index}_{emotion}.png"
                Image.fromarray(face.edits[emotion]).save(file)
                faces.append((str(file), f"{label}{who} · {emotion}"))
        if paste:
            if not photos:
                photos.append((image_file(photo), "original"))
            for emotion in names:
                file = folder / f"{slug}_photo_{emotion}.png"
                Image.fromarray(result.photos[emotion]).save(file)
                photos.append((str(file), f"{label} · {emotion}"))
        if len(names) >= 2 or generator.edits_photos:  # an editor of whole photos starts from the face's own
            if chosen > len(result.faces):
                raise InputError(f"there is no face {chosen} to animate: {label} edited {len(result.faces)} face(s); "
                                 "give a number from 1 to that, or 0 for the largest")
            index = chosen - 1 if chosen else result.largest()
            animation = animate_face(result, generator, index, frames=8, strength=own, seed=seed, **settings)
            files += [str(f) for f in animation.save(folder / animation.stem(f"{slug}_face{index + 1}"), rate)]
        notes += _notes(label, generator, names, settings, trained=False)
        notes.append(f"**{label}**: {result.limit_note()}." if result.limit_note()
                     else f"**{label}** found {len(result.faces)} face(s).")
        if result.skipped:
            notes.append(f"It finds no face in {len(result.skipped)} more of the detector's region(s), left as they "
                         "are.")
    skipped = [label for label in models if label not in editors]
    message = (f"Edited with strength {strength:g}: each face in {len(names)} emotion(s), the photo's own detail "
               "kept where the editor changed nothing. " + " ".join(notes))
    if len(names) >= 2 or any(g.edits_photos for g in editors.values()):
        message += (f" The animation goes through the ticked emotions ({rate:g} frames per second), for "
                    f"{f'face {chosen}' if chosen else 'the largest face'} (mesh_warp's from the face's own "
                    "expression).")
    if skipped:
        message += f" Skipped (they cannot edit a face): {', '.join(skipped)}."
    return faces, photos, [_zip(folder, "fexlab-edits.zip"), *files], message


# -- layout ------------------------------------------------------------------------------------------
def editing_note(registry: Registry) -> str:
    """Why no installed generator can edit a face here ("" when one can): the generators with an
    ``image`` option and what each needs."""
    waiting = []
    for info in registry.infos("generator"):
        if info.status == BROKEN or not registry.plugin_class("generator", info.name).edits():
            continue
        if info.status == READY:
            return ""
        waiting.append(f"**{info.name}** {info.status}: {info.detail}")
    if not waiting:
        return "No installed generator can edit a face (none takes an image)."
    return "No generator that edits faces is ready here. " + " ".join(waiting)


def _class(registry: Registry, choice: str) -> type[Generator]:
    """The plugin class of a generator choice (``cgan`` or ``cgan.synthetic``)."""
    return registry.plugin_class("generator", choice.split(".")[0])


def _drawing(registry: Registry, choices: list[str]) -> list[str]:
    """The choices that draw faces from a seed (not the editors that need a face to start from)."""
    return [c for c in choices if not _class(registry, c).needs_image]


#: The editors shown first, in this order: the one at the photo's resolution, then the translator.
FIRST_EDITORS = ("mesh_warp", "stargan")


def _editors(registry: Registry, choices: list[str]) -> list[str]:
    """The choices that edit a given face, ``mesh_warp`` then ``stargan`` first."""
    found = [c for c in choices if _class(registry, c).edits()]
    rank = {name: k for k, name in enumerate(FIRST_EDITORS)}
    return sorted(found, key=lambda c: (rank.get(c.split(".")[0], len(rank)), found.index(c)))


def _default_generators(registry: Registry, ready: list[str]) -> list[str]:
    """Ready generators that are quick on a CPU (not the diffusion ones): the first view."""
    quick = [name for name in ready if "." not in name and "steps" not in _class(registry, name).options]
    return quick or ready[:1]


def build(registry: Registry) -> None:
    """Lay out the Generate tab inside the current ``gr.Blocks`` context."""
    every = plugin_choices(registry, "generator")
    ready, editors = _drawing(registry, every), _editors(registry, every)
    frames_state = gr.State({})
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            chosen = gr.Dropdown(ready, value=_default_generators(registry, ready), multiselect=True,
                                 label="Generators", info="choose several to see them side by side",
                                 elem_id="generate-generators")
            checkpoint = checkpoint_box("Your generator (optional)", "runs/cgan")
            emotions = gr.CheckboxGroup(list(EMOTIONS), value=list(EMOTIONS), label="Emotions",
                                        elem_id="generate-emotions")
            count = gr.Slider(1, MAX_IDENTITIES, value=3, step=1, label="Identities (rows; one seed each)")
            seed = gr.Number(0, precision=0, label="First seed", minimum=0,
                             info="the same seed draws the same identity, whatever the emotion")
            with gr.Accordion("Model options", open=False):
                truncation = gr.Slider(0.1, 1.0, value=1.0, step=0.05, label="Truncation (cgan)",
                                       info="lower: more typical, less varied faces")
                intensity = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Expression intensity (facs_renderer)")
                variation = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="Pose and light variation (facs_renderer)")
                steps = gr.Slider(1, MAX_STEPS, value=30, step=1, label="Diffusion steps (sd_lora)")
                guidance = gr.Slider(1.0, 15.0, value=7.5, step=0.5, label="Guidance scale (sd_lora)")
                negative = gr.Textbox("blurry, deformed, disfigured, cartoon, text, watermark",
                                      label="Negative prompt (sd_lora)")
                lora_scale = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="LoRA scale (sd_lora)")
            unavailable_accordion(registry, "generator")
        with gr.Column(scale=3):
            with gr.Row():
                grid_button = gr.Button("Generate grid", variant="primary")
                identity_button = gr.Button("One identity, all seven emotions")
            message = gr.Markdown("Choose generators and emotions, then **Generate grid**: each row is one identity "
                                  "(one seed), each column one emotion.", label="Summary", elem_id="generate-message")
            grids = gr.Gallery(label="Generated faces, one grid per generator", show_label=False, columns=1,
                               height="auto", object_fit="contain", preview=False, elem_classes=["fexlab-whole"],
                               elem_id="generate-gallery",
                               buttons=["download", "fullscreen"])
            download = gr.File(label="Download every face as PNG (zip)")
    with gr.Accordion("Interpolate between two emotions", open=False):
        with gr.Row():
            start = gr.Dropdown(list(EMOTIONS), value="neutral", label="From")
            end = gr.Dropdown(list(EMOTIONS), value="happy", label="To")
            end_seed = gr.Textbox("", label="End seed", placeholder="empty: the same identity")
            frames = gr.Slider(2, MAX_FRAMES, value=8, step=1, label="Frames")
            morph_button = gr.Button("Interpolate", variant="primary")
        strip = gr.Image(label="Every frame, per generator", show_label=False, type="filepath", height="auto",
                         interactive=False)
        position = gr.Slider(1, 8, value=4, step=1, label="Frame shown", elem_id="generate-frame-slider",
                             info="1 is the first emotion, the last frame the second")
        frame = gr.Gallery(label="The frame shown", columns=4, height="auto", object_fit="contain",
                           fit_columns=False, preview=False, elem_classes=["fexlab-whole"])
        with gr.Row(equal_height=True):
            animation_mode = gr.Radio(ANIMATIONS, value="interpolate", label="Animation",
                                      info="the frames above, or the first seed through every emotion")
            fps = gr.Slider(1, 25, value=8, step=1, label="Frames per second")
            animate_button = gr.Button("Animate (GIF and WebM)")
        animation_message = gr.Markdown(elem_id="generate-animation-message")
        animations = gr.Gallery(label="Animations, one per generator", columns=4, height="auto", object_fit="contain",
                                fit_columns=False, preview=False, elem_classes=["fexlab-whole"])
        animation_files = gr.File(label="Download the animations (GIF and WebM)", file_count="multiple")
    cannot_edit = editing_note(registry)
    title = "Edit a face: the same person in every emotion (mesh_warp and stargan work offline)"
    with gr.Accordion(title + (": not available here" if cannot_edit else ""), open=False, elem_id="generate-edit"):
        if cannot_edit:
            gr.Markdown(cannot_edit, elem_classes=["fexlab-note"], elem_id="generate-edit-note")
        with gr.Row():
            with gr.Column(min_width=260):
                face = gr.Image(label="Photo with a face", type="filepath", sources=["upload", "clipboard", "webcam"],
                                height=260, interactive=not cannot_edit, elem_id="generate-edit-photo",
                                webcam_options=WEBCAM)
                editor = gr.Dropdown(editors, value=editors[:1], multiselect=True, label="Editing generators",
                                     interactive=not cannot_edit, elem_id="generate-editors")
                edit_emotions = gr.CheckboxGroup(list(EMOTIONS), value=list(EMOTIONS), label="Emotions to edit into",
                                                 interactive=not cannot_edit, elem_id="generate-edit-emotions")
                edit_detector = detector_dropdown(registry, interactive=not cannot_edit)
                strength = gr.Slider(0.0, MAX_STRENGTH, value=1.0, step=0.05, label="Strength",
                                     info="0 keeps the face as it is, 1 a typical real face of the emotion; "
                                          "up to 2 (mesh_warp) on toward its most intense real faces",
                                     interactive=not cannot_edit, elem_id="generate-edit-strength")
                units = offered_units(registry, editors)
                with gr.Accordion("Action units one by one (mesh_warp)", open=False, elem_id="generate-edit-units",
                                  visible=bool(units)):
                    gr.Markdown("Tick a unit to set it to its slider's intensity on top of the emotion (with "
                                "strength 0, only the ticked units change). Estimates through the face mesh's "
                                "blendshapes.", elem_classes=["fexlab-note"])
                    units_set = gr.CheckboxGroup(units, value=[], label="Units to set",
                                                 interactive=not cannot_edit, elem_id="generate-edit-units-set")
                    unit_sliders = [gr.Slider(0.0, 1.0, value=0.5, step=0.05, label=f"{unit} {unit_name(unit)}",
                                              interactive=not cannot_edit, elem_id=f"generate-edit-{unit.lower()}")
                                    for unit in units]
                    texture = gr.Slider(0.0, 2.0, value=0.5, step=0.1, label="Learned shading (texture)",
                                        info="0 moves the face only; 1 adds the folds and wrinkles learned from real "
                                             "faces", interactive=not cannot_edit, elem_id="generate-edit-texture")
                paste = gr.Checkbox(True, label="Paste the edited faces back into the photo",
                                    interactive=not cannot_edit)
                animated_face = gr.Number(0, precision=0, minimum=0, label="Face to animate",
                                          info="numbered left to right from 1, as in the gallery; 0: the largest",
                                          interactive=not cannot_edit, elem_id="generate-edit-animated-face")
                edit_button = gr.Button("Edit into these emotions", variant="primary",
                                        interactive=not cannot_edit, elem_id="generate-edit-button")
            with gr.Column(scale=2):
                edit_message = gr.Markdown(label="Summary of the edit", elem_id="generate-edit-message")
                edited = gr.Gallery(label="Each face as it is, then in each emotion", columns=4, height="auto",
                                    object_fit="contain",
                                    fit_columns=False, preview=False, elem_classes=["fexlab-whole"],
                                    elem_id="generate-edited")
                pasted = gr.Gallery(label="The photo as it is, then with the edits pasted back", columns=4,
                                    height="auto",
                                    object_fit="contain", fit_columns=False, preview=False,
                                    elem_classes=["fexlab-whole"], elem_id="generate-pasted")
                edit_files = gr.File(label="Download: every edit as PNG (zip), and the animated face as GIF and WebM",
                                     file_count="multiple", elem_id="generate-edit-files")

    option_inputs = [truncation, intensity, variation, steps, guidance, negative, lora_scale]

    @user_errors
    def grid(generators, checkpoint, emotions, count, seed, truncation, intensity, variation, steps, guidance,
             negative_prompt, lora_scale):
        options = ui_options(truncation, intensity, variation, steps, guidance, negative_prompt, lora_scale)
        return generate_faces(registry, generators, checkpoint, emotions, count, seed, options)

    @user_errors
    def identity(generators, checkpoint, seed, truncation, intensity, variation, steps, guidance, negative_prompt,
                 lora_scale):
        options = ui_options(truncation, intensity, variation, steps, guidance, negative_prompt, lora_scale)
        return generate_faces(registry, generators, checkpoint, list(EMOTIONS), 1, seed, options)

    @user_errors
    def morph(generators, checkpoint, start, end, seed, end_seed, frames, truncation, intensity, variation, steps,
              guidance, negative_prompt, lora_scale):
        options = ui_options(truncation, intensity, variation, steps, guidance, negative_prompt, lora_scale)
        return interpolate_faces(registry, generators, checkpoint, start, end, seed, end_seed, frames, options)

    @user_errors
    def animated(generators, checkpoint, mode, start, end, seed, end_seed, frames, fps, truncation, intensity,
                 variation, steps, guidance, negative_prompt, lora_scale):
        options = ui_options(truncation, intensity, variation, steps, guidance, negative_prompt, lora_scale)
        return animate_faces(registry, generators, checkpoint, mode, start, end, seed, end_seed, frames, fps, options)

    @user_errors
    def edit(generators, checkpoint, face, emotions, seed, strength, detector, paste, fps, animated, truncation,
             intensity, variation, steps, guidance, negative_prompt, lora_scale, chosen_units, texture, *unit_values):
        options = {**ui_options(truncation, intensity, variation, steps, guidance, negative_prompt, lora_scale),
                   **unit_options(units, chosen_units, unit_values),
                   "texture": number(texture, "the learned shading")}
        return edit_expression(registry, generators, checkpoint, face, emotions, seed, strength, options, detector,
                               paste, fps, animated)

    # the sliders' API parameters named after their units (au1, au12, ...), not param_18, param_19, ...
    named = [p for p in inspect.signature(edit).parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    edit.__signature__ = inspect.Signature(
        named + [inspect.Parameter(unit.lower(), inspect.Parameter.POSITIONAL_OR_KEYWORD) for unit in units])

    grid_outputs, morph_outputs = [grids, download, message], [strip, frame]
    edit_outputs = [edited, pasted, edit_files, edit_message]
    clear_on_error(grid_button.click(grid, [chosen, checkpoint, emotions, count, seed, *option_inputs], grid_outputs,
                                     api_name="generate", show_progress_on=[grids]), grid_outputs)
    clear_on_error(identity_button.click(identity, [chosen, checkpoint, seed, *option_inputs], grid_outputs,
                                         api_name="identity_grid", show_progress_on=[grids]), grid_outputs)
    clear_on_error(morph_button.click(morph, [chosen, checkpoint, start, end, seed, end_seed, frames, *option_inputs],
                                      [strip, frames_state, position, frame], api_name="interpolate",
                                      show_progress_on=[strip]), morph_outputs)
    clear_on_error(position.input(user_errors(interpolation_frame), [frames_state, position], frame,
                                  api_name="interpolation_frame", show_progress="hidden", trigger_mode="always_last"),
                   [frame])
    animate_outputs = [animations, animation_files, animation_message]
    animate_inputs = [chosen, checkpoint, animation_mode, start, end, seed, end_seed, frames, fps, *option_inputs]
    clear_on_error(animate_button.click(animated, animate_inputs, animate_outputs, api_name="animate",
                                        show_progress_on=[animations]), animate_outputs)
    clear_on_error(edit_button.click(edit, [editor, checkpoint, face, edit_emotions, seed, strength, edit_detector, paste,
                                            fps, animated_face, *option_inputs, units_set, texture, *unit_sliders],
                                     edit_outputs, api_name="edit_expression", preprocess=False,
                                     show_progress_on=[edited]), edit_outputs)
