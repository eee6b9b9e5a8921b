"""What every ``fexlab`` command does at its end: one exit-status rule, a last line that says what
was skipped, a quiet end when its output pipe closes, and messages in the CLI's own terms."""

import subprocess
import sys

import pytest
from PIL import Image

from fexlab.cli import main
from tests.conftest import EXAMPLES, ROOT


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["predict", str(EXAMPLES / "two_people_pan.webm")],
    ["predict", str(EXAMPLES / "two_people_pan.webm"), "--json"],
])
def test_a_closed_output_pipe_ends_the_command_quietly(argv):
    """As in ``fexlab predict clip.mp4 | head -1``: the reader goes away before fexlab has written."""
    process = subprocess.Popen([sys.executable, "-m", "fexlab.cli", *argv, "--every", "8"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("argv, message", [
    (["predict", str(EXAMPLES / "two_people_pan.webm"), "--every", "0"], "--every must be at least 1, got 0"),
    (["predict", str(EXAMPLES / "astronaut.jpg"), "--classifier", "nope"], "no classifier named 'nope'"),
    (["generate", "--plugin", "cgan", "--n", "0", "--out", "{tmp}/out"], "--n must be at least 1"),
])
def test_usage_errors_exit_2_with_one_line(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *(arg.format(tmp=tmp_path) for arg in argv))
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_prepare_that_skipped_unreadable_files_exits_1_and_says_so_last(capsys, tmp_path, astronaut_path):
    source = tmp_path / "photos" / "happy"
    source.mkdir(parents=True)
    Image.open(astronaut_path).save(source / "good.jpg")
    for name in ("broken.jpg", "note.jpg"):
        (source / name).write_text("not a photo")
    code, out, err = run(capsys, "prepare", str(tmp_path / "photos"), str(tmp_path / "faces"), "--split", "1,0,0")
    assert code == 1 and out.startswith("1 faces from 3 images written")
    last = err.strip().splitlines()[-1]
    assert last == "fexlab: skipped 2 of 3 images that could not be read (see above); exit status 1"
    for name in ("broken.jpg", "note.jpg"):
        (source / name).unlink()
    code, _, err = run(capsys, "prepare", str(tmp_path / "photos"), str(tmp_path / "faces"), "--split", "1,0,0")
    assert code == 0 and "skipped" not in err


def test_a_classifier_run_given_as_a_generator_is_named_as_such(capsys, tmp_path):
    from fexlab.plugins.mini_xception import MiniXception

    MiniXception.from_config().save_pretrained(tmp_path / "run" / "best")
    code, _, err = run(capsys, "generate", "--plugin", f"cgan:{tmp_path / 'run'}", "--out", str(tmp_path / "out"))
    assert code == 2 and f"'{tmp_path / 'run'}' is a classifier checkpoint, not a generator" in err
    assert "--generator" not in err


def test_serve_names_its_own_share_flag(capsys, registry):
    from fexlab import app
    demo = app.launch(port=None, registry=registry, prevent_thread_lock=True)
    try:
        out = capsys.readouterr().out
    finally:
        demo.close()
    assert f"fexlab is serving on {demo.local_url}; add --share for a public link" in out
    assert "share=True" not in out and "launch()" not in out


def test_prepare_refuses_unlabelled_photos_as_the_readme_says(capsys, tmp_path, astronaut_path):
    (tmp_path / "photos").mkdir()
    Image.open(astronaut_path).save(tmp_path / "photos" / "holiday.jpg")
    code, _, err = run(capsys, "prepare", str(tmp_path / "photos"), str(tmp_path / "faces"))
    assert code == 2 and "CLASS/*.jpg" in err
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "A flat folder of unlabelled photos is refused" in readme and "`fexlab predict photos/ --annotate out/`" in readme
    assert "**Exit status**, the same for every command" in readme and "**One face order.**" in readme
