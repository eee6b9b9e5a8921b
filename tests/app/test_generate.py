import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from fexlab.app.generate import (
    animate_faces,
    edit_expression,
    editing_note,
    generate_faces,
    interpolate_faces,
    interpolation_frame,
    ui_options,
)
from fexlab.registry import EMOTIONS, FexlabError, InputError


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_grid_of_identities_and_emotions_with_every_face_in_the_zip(registry):
    gallery, archive, message = generate_faces(registry, ["facs_renderer"], "", ["happy", "sad", "surprise"], 2, 5)
    assert [caption for _, caption in gallery] == ["facs_renderer · seeds 5–6"]
    with zipfile.ZipFile(archive) as files:
        names = set(files.namelist())
        assert names == {f"facs_renderer_{e}_seed{s}.png" for e in ("happy", "sad", "surprise") for s in (5, 6)} | {
            "facs_renderer_grid.png"}
        again = generate_faces(registry, ["facs_renderer"], "", ["sad"], 1, 6)[1]
        with zipfile.ZipFile(again) as other:  # the same seed draws the same face
            assert files.read("facs_renderer_sad_seed6.png") == other.read("facs_renderer_sad_seed6.png")
    assert "first seed **5**" in message and "SYNTHETIC" in message


def test_one_identity_in_all_seven_emotions_differs_only_in_expression(registry):
    _, archive, _ = generate_faces(registry, ["facs_renderer"], None, list(EMOTIONS), 1, 11)
    with zipfile.ZipFile(archive) as files:
        faces = {e: np.asarray(Image.open(files.open(f"facs_renderer_{e}_seed11.png"))) for e in EMOTIONS}
    background = faces["happy"][:6, :6].astype(int)  # the same identity: same backdrop, same corner
    for emotion, face in faces.items():
        assert np.abs(face[:6, :6].astype(int) - background).max() < 8, emotion
    assert len({face.tobytes() for face in faces.values()}) == 7


@pytest.mark.parametrize("args, error", [
    (dict(emotions=[]), "tick at least one emotion"),
    (dict(emotions=["joy!"]), "joy"),
    (dict(count=0), "between 1 and 8 identities"),
    (dict(count=9), "between 1 and 8 identities"),
    (dict(seed=-1), "seed must be between"),
    (dict(seed="abc"), "whole number"),
    (dict(generators=[]), "choose at least one generator"),
    (dict(generators=["nope"]), "no generator named 'nope'"),
])
def test_bad_generate_requests(registry, args, error):
    call = dict(generators=["facs_renderer"], checkpoint="", emotions=["happy"], count=1, seed=0) | args
    with pytest.raises(FexlabError, match=error):
        generate_faces(registry, **call)


def test_bad_options():
    with pytest.raises(InputError, match="steps must be between 1 and 100"):
        ui_options(steps=0)
    with pytest.raises(InputError, match="truncation"):
        ui_options(truncation=0)


def test_interpolation_ends_on_the_generated_faces_and_the_slider_browses_it(registry):
    strip, state, slider, shown = interpolate_faces(registry, ["facs_renderer"], "", "neutral", "surprise", 3, None,
                                                    5)
    assert (slider.minimum, slider.maximum, slider.step, slider.value) == (1, 5, 1, 3)
    assert len(state["frames"]["facs_renderer"]) == 5
    assert _pixels(strip).shape[1] > _pixels(strip).shape[0]  # one row of frames
    start, end = registry.generator("facs_renderer").generate(["neutral", "surprise"], seed=3)
    [(first, caption)] = interpolation_frame(state, 1)
    np.testing.assert_array_equal(_pixels(first), np.asarray(start))
    np.testing.assert_array_equal(_pixels(interpolation_frame(state, 5)[0][0]), np.asarray(end))
    assert caption.endswith("neutral → surprise, frame 1 of 5 (0.00)")
    assert shown[0][1].endswith("frame 3 of 5 (0.50)") and shown[0][0] == interpolation_frame(state, 3)[0][0]
    middle = _pixels(interpolation_frame(state, 3)[0][0])
    assert not np.array_equal(middle, np.asarray(start)) and not np.array_equal(middle, np.asarray(end))


def test_the_frame_shown_is_the_one_the_slider_says(registry):
    _, state, slider, shown = interpolate_faces(registry, ["facs_renderer"], "", "neutral", "happy", 0, None, 8)
    assert slider.value == 4 and shown[0][1].endswith("frame 4 of 8 (0.43)")
    assert [caption.rsplit(", ", 1)[1] for _, caption in (interpolation_frame(state, k)[0] for k in (0, 1, 8, 99))] == [
        "frame 1 of 8 (0.00)", "frame 1 of 8 (0.00)", "frame 8 of 8 (1.00)", "frame 8 of 8 (1.00)"]


def test_bad_interpolations(registry):
    with pytest.raises(InputError, match="between 2 and 16 frames"):
        interpolate_faces(registry, ["facs_renderer"], "", "happy", "sad", 0, None, 1)
    with pytest.raises(InputError, match="choose the end emotion"):
        interpolate_faces(registry, ["facs_renderer"], "", "happy", "", 0, None, 4)
    with pytest.raises(InputError, match="press Interpolate first"):
        interpolation_frame({}, 0.3)


def test_editing_needs_an_editing_generator_and_a_face(registry, astronaut_path, tmp_path):
    with pytest.raises(InputError, match="none of facs_renderer can edit a face; choose stargan"):
        edit_expression(registry, ["facs_renderer"], "", str(astronaut_path), ["happy"], 0, 0.5)
    with pytest.raises(InputError, match="upload a face photo"):
        edit_expression(registry, ["facs_renderer"], "", None, ["happy"], 0, 0.5)
    (tmp_path / "note.png").write_text("not an image")
    with pytest.raises(InputError, match="note.png is not an image"):
        edit_expression(registry, ["facs_renderer"], "", {"path": str(tmp_path / "note.png"), "orig_name": "note.png"},
                        ["happy"], 0, 0.5)
    with pytest.raises(InputError, match="strength must be between 0 and 2, got 2.5"):
        edit_expression(registry, ["facs_renderer"], "", str(astronaut_path), ["happy"], 0, 2.5)


@pytest.fixture
def tiny_editor(folders):
    from tests.stargan_tiny import tiny_stargan

    tiny_stargan().save_pretrained(folders["runs"] / "tiny-stargan", training_data="random weights (test)")
    return "runs/tiny-stargan"


def test_editing_shows_each_face_in_each_emotion_pasted_back_with_downloads(registry, tiny_editor, two_faces,
                                                                            tmp_path):
    photo = tmp_path / "two.png"
    Image.fromarray(two_faces).save(photo)
    faces, photos, files, note = edit_expression(registry, ["facs_renderer"], tiny_editor, str(photo),
                                                 ["happy", "sad"], 0, 0.8)
    label = "stargan: runs/tiny-stargan"
    # each face as it is, beside its edits; the photo as it is, beside the photo with the edits
    assert [c for _, c in faces] == [f"{label} · face {n} · {e}" for n in (1, 2) for e in ("original", "happy", "sad")]
    assert [c for _, c in photos] == ["original", f"{label} · happy", f"{label} · sad"]
    assert np.array_equal(_pixels(photos[0][0]), two_faces)
    assert _pixels(faces[0][0]).shape == _pixels(faces[1][0]).shape
    assert _pixels(photos[1][0]).shape == two_faces.shape
    assert _pixels(faces[0][0]).shape[0] > 16  # at the photo's resolution
    archive, gif, webm = files
    with zipfile.ZipFile(archive) as zipped:
        assert len([n for n in zipped.namelist() if "_face" in n]) == 4
    assert gif.endswith(".gif") and webm.endswith(".webm")
    with Image.open(gif) as animation:
        assert animation.n_frames == 8
    assert "strength 0.8" in note and "found 2 face(s)" in note and "Skipped (they cannot edit a face): facs_renderer" in note
    _, none, files, _ = edit_expression(registry, [], tiny_editor, str(photo), ["fear"], 0, 1.0, paste=False)
    assert none == [] and len(files) == 1  # one emotion: no animation


def test_editing_a_photo_without_a_face_says_what_to_try(registry, tiny_editor, tmp_path):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((100, 140, 3), 180, np.uint8)).save(blank)
    with pytest.raises(InputError, match="no face found.*full_frame"):
        edit_expression(registry, [], tiny_editor, str(blank), ["happy"], 0, 1.0)
    faces, *_ = edit_expression(registry, [], tiny_editor, str(blank), ["happy"], 0, 1.0, detector="full_frame")
    assert [caption.rsplit(" · ", 1)[1] for _, caption in faces] == ["original", "happy"]


@pytest.mark.slow
def test_a_stable_diffusion_checkpoint_generates_shows_its_prompts_and_edits_a_face(registry, folders, astronaut_path):
    """A tiny Stable Diffusion base model saved as an sd_lora checkpoint in the runs folder."""
    from fexlab.plugins.sd_lora import SDLoRA
    from tests.sd_tiny import RESOLUTION, write_tiny_base_model

    base = write_tiny_base_model(folders["data"] / "tiny-sd")
    SDLoRA.from_config(base_model=str(base), resolution=RESOLUTION).save_pretrained(folders["runs"] / "tiny-sd-lora")
    options = ui_options(steps=2, guidance=3.0, negative_prompt="blurry")
    gallery, archive, message = generate_faces(registry, [], "runs/tiny-sd-lora", ["happy", "sad"], 1, 4, options)
    assert gallery[0][1] == "sd_lora: runs/tiny-sd-lora · seed 4"
    assert "*a close-up photo of a happy face*; *a close-up photo of a sad face*" in message
    assert "Negative prompt: *blurry*; 2 steps, guidance 3.0" in message
    with zipfile.ZipFile(archive) as files:
        face = np.asarray(Image.open(files.open("sd_lora-runs-tiny-sd-lora_happy_seed4.png")))
    assert face.shape == (RESOLUTION, RESOLUTION, 3)
    edited, _, _, note = edit_expression(registry, ["facs_renderer"], "runs/tiny-sd-lora", str(astronaut_path),
                                         ["surprise", "neutral"], 1, 0.5, options)
    assert [caption for _, caption in edited] == ["sd_lora: runs/tiny-sd-lora · original",
                                                  "sd_lora: runs/tiny-sd-lora · surprise",
                                                  "sd_lora: runs/tiny-sd-lora · neutral"]
    assert "Skipped (they cannot edit a face): facs_renderer" in note and "strength 0.5" in note


def test_editing_is_ready_offline_and_says_why_when_it_is_not(registry, monkeypatch):
    assert editing_note(registry) == ""  # the shipped mesh_warp and stargan edit offline
    from fexlab.plugins.mesh_warp import MeshWarp
    from fexlab.plugins.stargan import StarGAN
    from fexlab.registry import Registry

    monkeypatch.setattr(StarGAN, "pretrained", {})
    assert editing_note(Registry()) == ""  # mesh_warp alone is enough
    monkeypatch.setattr(MeshWarp, "pretrained", {})
    note = editing_note(Registry())  # offline, sd_lora has no base model either
    assert note.startswith("No generator that edits faces is ready here.")
    assert "**stargan** needs weights" in note and "**sd_lora** needs weights" in note
    assert "**mesh_warp** needs weights" in note and "python -m fexlab.plugins.mesh_warp.fit" in note


def _gif(path):
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def _webm_frame_count(path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_the_interpolation_is_offered_as_a_gif_and_a_webm(registry):
    shown, files, message = animate_faces(registry, ["facs_renderer"], "", "interpolate", "neutral", "surprise", 3,
                                          "", 5, 10)
    [(gif, caption)] = shown
    assert caption == "facs_renderer · neutral → surprise, seed 3" and gif == files[0]
    assert [Path(f).name for f in files] == ["facs_renderer_neutral-surprise_seed3.gif",
                                             "facs_renderer_neutral-surprise_seed3.webm"]
    frames = _gif(gif)
    start, end = (np.asarray(face, dtype=int) for face in
                  registry.generator("facs_renderer").generate(["neutral", "surprise"], seed=3))
    assert len(frames) == 5 == _webm_frame_count(files[1])
    assert np.abs(frames[0] - start).mean() < 3 and np.abs(frames[-1] - end).mean() < 3
    assert "5 frames (5 from one emotion to the next) at 10 frames per second" in message
    assert "cross-fade" not in message


def test_one_identity_through_all_seven_emotions_from_each_generator(folders):
    from tests.flat_generator import flat_registry

    registry = flat_registry()
    shown, files, message = animate_faces(registry, ["facs_renderer", "flat"], "", "all", "neutral", "happy", 4,
                                          "9", 3, 5)
    assert [caption for _, caption in shown] == [
        f"{label} · {' → '.join(EMOTIONS)}, seed 4" for label in ("facs_renderer", "flat")]
    assert [Path(f).name for f in files] == [f"{label}_all_seed4.{x}" for label in ("facs_renderer", "flat")
                                             for x in ("gif", "webm")]
    for gif, webm in (files[:2], files[2:]):
        assert len(_gif(gif)) == 13 == _webm_frame_count(webm)
    assert message.startswith("2 animation(s) of 13 frames (3 from one emotion to the next) at 5 frames per second")
    assert message.endswith(" flat cannot interpolate on its own: between two emotions its frames are cross-fades of "
                            "the faces it draws.") and "facs_renderer, flat" not in message


@pytest.mark.parametrize("args, error", [
    (dict(fps=0), "between 1 and 50"),
    (dict(frames=1), "between 2 and 16 frames"),
    (dict(start=""), "choose the start emotion"),
    (dict(start="happy", end="happy"), "starts and ends on the same face"),
    (dict(mode="loop"), "one of interpolate, all"),
])
def test_bad_animation_requests(registry, args, error):
    call = dict(generators=["facs_renderer"], checkpoint="", mode="interpolate", start="neutral", end="happy", seed=0,
                end_seed="", frames=4, fps=8) | args
    with pytest.raises(InputError, match=error):
        animate_faces(registry, **call)


def test_edit_a_face_has_its_own_emotion_picker(registry):
    """The edit uses the emotions ticked beside it, not the grid's far above."""
    import gradio as gr

    from fexlab.app import generate

    with gr.Blocks() as demo:
        generate.build(registry)
    config = demo.get_config_file()
    ids = {c["id"]: c["props"].get("elem_id") for c in config["components"]}
    [edit] = [d for d in config["dependencies"] if d.get("api_name") == "edit_expression"]
    inputs = [ids[i] for i in edit["inputs"]]
    assert "generate-edit-emotions" in inputs and "generate-emotions" not in inputs


def test_what_a_generator_was_trained_on_is_said_without_server_paths(registry):
    generator = registry.generator("facs_renderer")
    generator.metadata["training_data"] = ("FER+ majority labels ../shared/data/fer2013/ferplus_votes.csv (contempt "
                                           "dropped); source '../shared/data/fer2013/ferplus_votes.csv', train split")
    try:
        _, _, message = generate_faces(registry, ["facs_renderer"], "", ["happy"], 1, 0)
    finally:
        del generator.metadata["training_data"]
    assert ("**facs_renderer** was trained on FER+ majority labels fer2013/ferplus_votes.csv (contempt dropped), "
            "train split.") in message
    assert "../" not in message


def test_past_strength_1_mesh_warp_goes_on_and_stargan_stops_at_1_and_says_so(registry, astronaut_path):
    faces, _, _, note = edit_expression(registry, ["mesh_warp", "stargan"], "", str(astronaut_path), ["surprise"],
                                        0, 1.6, paste=False)
    assert "**stargan** goes up to strength 1, so it edited at 1." in note and "mesh_warp** goes up" not in note
    assert [caption for _, caption in faces] == ["mesh_warp · original", "mesh_warp · surprise",
                                                 "stargan · original", "stargan · surprise"]


def test_mesh_warp_edits_the_photo_at_its_resolution_with_units_one_by_one(registry, astronaut_path):
    from fexlab.app.generate import offered_units, unit_options
    from fexlab.preprocessing.images import load_image

    units = offered_units(registry, ["mesh_warp", "stargan"])
    assert units[:3] == ["AU1", "AU2", "AU4"] and "AU12" in units and "AU26" in units
    assert unit_options(units, ["AU12"], [0.5] * len(units)) == {"au12": 0.5}
    with pytest.raises(InputError, match="no action unit AU99"):
        unit_options(units, ["AU99"], [0.5] * len(units))
    photo = load_image(astronaut_path)
    options = {**ui_options(), **unit_options(units, ["AU26"], [0.7] * len(units))}
    faces, photos, files, note = edit_expression(registry, ["mesh_warp"], "", str(astronaut_path), ["sad", "happy"],
                                                 0, 1.0, options)
    assert [c for _, c in photos] == ["original", "mesh_warp · sad", "mesh_warp · happy"]
    sad = _pixels(photos[1][0])
    assert sad.shape == photo.shape and not np.array_equal(sad, photo)
    assert np.array_equal(sad[:40], photo[:40])  # far from the face, the photo's own pixels
    # with strength 0 only the ticked unit moves: the mouth opens, nothing else changes much
    _, still, _, _ = edit_expression(registry, ["mesh_warp"], "", str(astronaut_path), ["sad"], 0, 0.0, options)
    opened = _pixels(still[1][0])
    assert not np.array_equal(opened, photo)
    _, untouched, _, _ = edit_expression(registry, ["mesh_warp"], "", str(astronaut_path), ["sad"], 0, 0.0,
                                         ui_options())
    assert np.array_equal(_pixels(untouched[1][0]), photo)
    assert any(f.endswith(".gif") for f in files) and any(f.endswith(".webm") for f in files)
    assert "found 1 face(s)" in note
    assert "trained on" not in note and "ferplus" not in note  # the edit, not the editor's training history
    # one emotion still animates: from the face's own expression to it
    _, _, one, _ = edit_expression(registry, ["mesh_warp"], "", str(astronaut_path), ["surprise"], 0, 1.0,
                                   ui_options())
    gif = next(f for f in one if f.endswith(".gif"))
    frames = _gif(gif)
    assert len(frames) == 8 and not np.array_equal(frames[0], frames[-1])


def test_a_region_mesh_warp_finds_no_face_in_is_skipped_and_the_chosen_face_animated(registry, two_faces, tmp_path,
                                                                                      monkeypatch):
    from PIL import Image

    from fexlab.registry import Face

    photo = tmp_path / "group.png"
    Image.fromarray(two_faces).save(photo)
    finder = registry.detector("blazeface")
    shirt = Face((0.0, two_faces.shape[0] - 50.0, 40.0, 40.0), 0.9, None)  # the first region from the left

    class WithShirt:
        def detect(self, image):
            return [*finder.detect(image), shirt]

    monkeypatch.setattr(registry, "detector", lambda name: WithShirt())
    faces, _, files, note = edit_expression(registry, ["mesh_warp"], "", str(photo), ["happy"], 0, 1.0, ui_options(),
                                            animated=2)
    assert "found 2 face(s)" in note and "finds no face in 1 more of the detector's region(s)" in note
    assert "for face 2" in note and any(f.endswith("mesh_warp_face2_happy_seed0.gif") for f in files), files
    assert [caption for _, caption in faces][::2] == ["mesh_warp · face 1 · original", "mesh_warp · face 2 · original"]
    with pytest.raises(InputError, match="there is no face 3 to animate"):
        edit_expression(registry, ["mesh_warp"], "", str(photo), ["happy"], 0, 1.0, ui_options(), animated=3)
    with pytest.raises(InputError, match="the face to animate is a number from 1"):
        edit_expression(registry, ["mesh_warp"], "", str(photo), ["happy"], 0, 1.0, ui_options(), animated="two")


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": "thirty"}, "diffusion steps must be a whole number, got 'thirty'"),
    ({"steps": "2.5"}, "diffusion steps must be a whole number, got '2.5'"),
    ({"truncation": "abc"}, "truncation must be a number, got 'abc'"),
    ({"guidance": "nan"}, "guidance must be a number, got 'nan'"),
])
def test_a_mistyped_value_is_a_one_line_message_naming_it(kwargs, message):
    """As an API call may send them: text where a number goes is said plainly, not as a ValueError."""
    import gradio as gr

    from fexlab.app.common import user_errors

    with pytest.raises(InputError, match=re.escape(message)):
        ui_options(**kwargs)
    with pytest.raises(gr.Error) as caught:
        user_errors(lambda: ui_options(**kwargs))()
    assert str(caught.value.message) == message
    assert ui_options(steps="12", truncation="0.5")["steps"] == 12  # numbers sent as text are fine
