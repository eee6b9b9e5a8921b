"""``fexlab generate --plugin stargan --image PHOTO``: every face of the photo in each emotion,
the photo with the edits pasted back, and ``--animate`` for the first face; clear errors."""

import re

import numpy as np
import pytest
from PIL import Image

from fexlab.cli import main
from tests.stargan_tiny import tiny_stargan


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stargan") / "tiny"
    tiny_stargan().save_pretrained(folder, training_data="random weights (test)")
    return folder


def _edit(folder, out, image, *extra):
    return main(["generate", "--plugin", "stargan", "--checkpoint", str(folder), "--image", str(image),
                 "--out", str(out), *extra])


def test_every_face_of_the_photo_in_every_emotion_and_the_photo_pasted_back(translator, two_faces, tmp_path, capsys):
    photo = tmp_path / "two.png"
    Image.fromarray(two_faces).save(photo)
    assert _edit(translator, tmp_path / "out", photo, "--emotion", "happy", "--emotion", "sad") == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["stargan_face1_happy.png", "stargan_face1_sad.png", "stargan_face2_happy.png",
                     "stargan_face2_sad.png", "stargan_grid.png", "stargan_photo_happy.png", "stargan_photo_sad.png",
                     "stargan_sheet.png"]
    pasted = np.asarray(Image.open(tmp_path / "out" / "stargan_photo_happy.png"))
    assert pasted.shape == two_faces.shape and not np.array_equal(pasted, two_faces)
    face = np.asarray(Image.open(tmp_path / "out" / "stargan_face1_happy.png"))
    assert face.shape[0] == face.shape[1] > 16  # the crop's resolution, not the editor's
    assert "stargan_photo_sad.png" in capsys.readouterr().out
    # the sheet: each face's crop at its own resolution, as it is then in each emotion, side by side
    sheet = np.asarray(Image.open(tmp_path / "out" / "stargan_sheet.png"))
    first = np.asarray(Image.open(tmp_path / "out" / "stargan_face1_happy.png"))
    side = first.shape[0]
    assert np.array_equal(sheet[:side, side + 4:2 * side + 4], first)


def test_all_emotions_by_default_and_an_animation_of_the_first_face(translator, astronaut_path, tmp_path):
    assert _edit(translator, tmp_path / "all", astronaut_path, "--option", "strength=0.5") == 0
    assert len(list((tmp_path / "all").glob("stargan_face1_*.png"))) == 7
    assert _edit(translator, tmp_path / "anim", astronaut_path, "--animate", "all", "--frames", "3") == 0
    assert sorted(p.name for p in (tmp_path / "anim").iterdir()) == ["stargan_face1_all_seed0.gif",
                                                                     "stargan_face1_all_seed0.webm"]
    with Image.open(tmp_path / "anim" / "stargan_face1_all_seed0.gif") as gif:
        assert gif.n_frames == 13 and gif.size[0] > 16


@pytest.mark.parametrize("extra, message", [
    ([], "stargan edits a face, it does not draw one"),
    (["--detector", "haar"], "--detector goes with --image"),
])
def test_stargan_without_a_photo_says_what_to_do(translator, tmp_path, capsys, extra, message):
    assert main(["generate", "--plugin", "stargan", "--checkpoint", str(translator), "--out", str(tmp_path / "o"),
                 *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)


def test_a_photo_without_a_face_and_a_file_that_is_no_image(translator, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(blank)
    assert _edit(translator, tmp_path / "o", blank) == 0  # a photo without a face is no error, said plainly
    out = capsys.readouterr().out
    assert "no face found" in out and "nothing written" in out and not list((tmp_path / "o").iterdir())
    note = tmp_path / "note.jpg"
    note.write_text("not a photo")
    assert _edit(translator, tmp_path / "o", note) == 1  # an input that could not be read, as in predict
    assert "not an image" in capsys.readouterr().err
    crop = tmp_path / "crop.png"  # a face crop, whole: full_frame
    Image.fromarray(np.full((48, 48, 3), 90, np.uint8)).save(crop)
    assert _edit(translator, tmp_path / "c", crop, "--detector", "full_frame", "--emotion", "fear") == 0
    assert (tmp_path / "c" / "stargan_face1_fear.png").is_file()


def test_a_file_name_that_is_not_utf8_is_shown_with_replacement_characters(translator, astronaut_path, tmp_path,
                                                                             capsys):
    import json
    import os
    import shutil

    photo = tmp_path / os.fsdecode(b"caf\xe9_\xff.jpg")
    shutil.copy(astronaut_path, photo)
    assert _edit(translator, tmp_path / "out", photo, "--emotion", "happy") == 0
    assert (tmp_path / "out" / "stargan_grid.png").is_file()
    capsys.readouterr()
    assert main(["predict", str(photo), "--json"]) == 0
    out = capsys.readouterr().out
    assert "\\udc" not in out and json.loads(out)[0]["file"] == str(tmp_path / "caf\ufffd_\ufffd.jpg")
    assert main(["predict", str(photo)]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path}/caf\ufffd_\ufffd.jpg: 1 face")
    broken = tmp_path / os.fsdecode(b"note_\xff.jpg")
    broken.write_text("not a photo")
    assert main(["predict", str(broken)]) == 1
    assert "note_\ufffd.jpg is not an image" in capsys.readouterr().err


def test_face_picks_the_face_to_animate_and_needs_image_and_animate(two_faces, tmp_path, capsys):
    photo = tmp_path / "two.png"
    Image.fromarray(two_faces).save(photo)
    argv = ["generate", "--plugin", "mesh_warp", "--image", str(photo), "--emotion", "happy", "--out"]
    assert main([*argv, str(tmp_path / "a"), "--animate", "all", "--frames", "2", "--face", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mesh_warp_face2_happy_seed0.gif",
                                                                  "mesh_warp_face2_happy_seed0.webm"]
    capsys.readouterr()
    for extra, message in ([["--face", "2"], "--face goes with --image and --animate"],
                           [["--animate", "all", "--face", "0"], "--face numbers the faces from 1"],
                           [["--animate", "all", "--face", "3"], "--face 3: the photo has 2 face"]):
        assert main([*argv, str(tmp_path / "b"), *extra]) == 2
        assert message in capsys.readouterr().err


def test_a_region_with_no_face_for_mesh_warp_is_said_and_exits_0(capsys, tmp_path):
    """The detector gives a region (here the whole image) but the face mesh finds no face in it:
    a photo without a face, said plainly, not a usage error."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    code = main(["generate", "--plugin", "mesh_warp", "--image", str(tmp_path / "noise.png"), "--detector", "full_frame",
                 "--emotion", "happy", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0 and "finds no face" in out and "nothing written" in out
    assert not list(tmp_path.glob("out/*.png"))
