"""``fexlab generate``: PNG files per emotion and seed, byte-identical for the same arguments."""

import re

import pytest
import torch

from cli import main
from plugins.cgan import CGAN


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
    (["--option", "steps=3"], "KEY one of \\['truncation'\\]"),
    (["--option", "truncation=high"], "truncation must be a float"),
    (["--image", "face.png"], "cannot edit an image"),
    (["--n", "0"], "--n must be at least 1"),
])
def test_bad_arguments_are_one_line_errors(checkpoint, tmp_path, capsys, extra, message):
    assert _generate(checkpoint, tmp_path / "out", *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fexlab: ")
    assert re.search(message, err)
