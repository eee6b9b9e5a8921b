"""``fexlab generate``: PNG files per emotion and seed, byte-identical for the same arguments, and
``--animate``: a GIF and a WebM per seed."""

import re

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from fexlab.cli import main
from fexlab.plugins.cgan import CGAN
from tests.cgan_tiny import tiny_cgan


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cgan") / "ckpt"
    CGAN.from_config(g_width=8, z_dim=16).save_pretrained(folder, training_data="random weights (test)")
    return folder


def _generate(folder, out, *extra):
    return main(["generate", "--plugin", "cgan", "--checkpoint", str(folder), "--emotion", "happy",
                 "--emotion", "sad", "--n", "2", "--seed", "5", "--out", str(out), *extra])


def test_the_same_arguments_write_the_same_bytes(checkpoint, tmp_path, capsys):
    assert _generate(checkpoint, tmp_path / "a", "--option", "truncation=0.7") == 0
    assert _generate(checkpoint, tmp_path / "b", "--option", "truncation=0.7") == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["cgan_happy_seed5.png", "cgan_happy_seed6.png", "cgan_sad_seed5.png", "cgan_sad_seed6.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert str(tmp_path / "a" / "cgan_sad_seed6.png") in capsys.readouterr().out
    _generate(checkpoint, tmp_path / "c")  # no truncation: other faces
    assert (tmp_path / "c" / names[0]).read_bytes() != (tmp_path / "a" / names[0]).read_bytes()


@pytest.mark.parametrize("extra, message", [
    (["--option", "steps=3"], "KEY one of truncation, got 'steps=3'"),
    (["--option", "truncation=high"], "truncation must be a float"),
    (["--image", "face.png"], "cannot edit an image"),
    (["--n", "0"], "--n must be at least 1"),
])
def test_bad_arguments_are_one_line_errors(checkpoint, tmp_path, capsys, extra, message):
    assert _generate(checkpoint, tmp_path / "out", *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fexlab: ")
    assert re.search(message, err)


@pytest.fixture(scope="module")
def expressive(tmp_path_factory):
    """A tiny cGAN whose emotions draw different faces, saved as a checkpoint."""
    folder = tmp_path_factory.mktemp("cgan") / "expressive"
    tiny_cgan().save_pretrained(folder, training_data="random weights (test)")
    return folder


def _gif(path):
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB"), dtype=int) for frame in ImageSequence.Iterator(image)]


def _webm_frames(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    return count, size


def test_animate_interpolate_writes_a_gif_and_a_webm_per_seed(expressive, tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(expressive), "--emotion", "sad", "--emotion", "happy", "--n", "2",
                 "--seed", "5", "--animate", "interpolate", "--frames", "5", "--fps", "10", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"cgan_sad-happy_seed{s}.{x}" for s in (5, 6) for x in ("gif", "png", "webm")]
    assert sorted(capsys.readouterr().out.split()) == [str(tmp_path / name) for name in names]
    strip = np.asarray(Image.open(tmp_path / "cgan_sad-happy_seed6.png"))
    assert strip.shape[1] > 3 * strip.shape[0]  # five frames side by side
    generator = CGAN.from_pretrained(expressive)
    sad, happy = (np.asarray(face, dtype=int) for face in generator.generate(["sad", "happy"], seed=6))
    frames = _gif(tmp_path / "cgan_sad-happy_seed6.gif")
    assert len(frames) == 5 and frames[0].shape == (64, 64, 3)
    assert np.abs(frames[0] - sad).mean() < 2 and np.abs(frames[-1] - happy).mean() < 2
    assert _webm_frames(tmp_path / "cgan_sad-happy_seed6.webm") == (5, (64, 64))


def test_animate_all_walks_one_identity_through_the_seven_emotions(expressive, tmp_path):
    assert main(["generate", "--checkpoint", str(expressive), "--animate", "all", "--frames", "3",
                 "--out", str(tmp_path)]) == 0
    assert len(_gif(tmp_path / "cgan_all_seed0.gif")) == 6 * 2 + 1
    assert not list(tmp_path.glob("*.png"))  # a strip only for an interpolation between two emotions
    assert _webm_frames(tmp_path / "cgan_all_seed0.webm") == (13, (64, 64))


@pytest.mark.parametrize("extra, message", [
    (["--frames", "4"], "--frames and --fps go with --animate"),
    (["--animate", "interpolate", "--emotion", "fear"], "give two, got 3"),
    (["--animate", "interpolate", "--fps", "0"], "between 1 and 50"),
    (["--animate", "all", "--frames", "1"], "at least 2 frames"),
])
def test_bad_animation_arguments_are_one_line_errors(expressive, tmp_path, capsys, extra, message):
    code = main(["generate", "--checkpoint", str(expressive), "--emotion", "happy", "--emotion", "sad",
                 "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and re.search(message, err), err
    assert not list(tmp_path.iterdir())


def test_the_help_of_image_names_every_installed_editor(capsys, registry):
    from fexlab.cli.generate import EDITORS

    editors = {name for name in registry.names("generator") if registry.plugin_class("generator", name).edits()}
    assert editors == set(EDITORS)
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"edit: {', '.join(EDITORS)})" in help_text


def test_option_keys_are_listed_in_natural_order_without_image():
    from fexlab.cli.generate import _generator_options
    from fexlab.plugins.mesh_warp import MeshWarp
    from fexlab.registry import InputError

    with pytest.raises(InputError) as error:
        _generator_options(MeshWarp, ["au99=1"], None)
    keys = str(error.value).split("one of ")[1].split(", got")[0].split(", ")
    assert keys[:4] == ["au1", "au2", "au4", "au5"] and keys.index("au10") == keys.index("au9") + 1
    assert "image" not in keys
    with pytest.raises(InputError, match="the photo to edit is --image PATH"):
        _generator_options(MeshWarp, ["image=face.png"], None)
