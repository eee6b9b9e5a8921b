"""What every ``fexlab`` command does at its end: one exit-status rule, a last line that says what
was skipped, a quiet end when its output pipe closes, and messages in the CLI's own terms."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fexlab.cli import main
from tests.conftest import EXAMPLES, ROOT
from tests.docs_text import docs_text


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
    readme = " ".join(docs_text().split())  # the README and the docs pages
    assert "A flat folder of unlabelled photos is refused" in readme and "`fexlab predict photos/ --annotate out/`" in readme
    assert "**Exit status**, the same for every command" in readme and "**One face order.**" in readme


@pytest.mark.parametrize("command", [["predict"], ["avatar", "--out", "{tmp}/avatars"]])
def test_one_exit_rule_a_file_that_is_no_image_exits_1_and_a_photo_without_a_face_0(capsys, tmp_path, command):
    note, blank = tmp_path / "note.jpg", tmp_path / "blank.png"
    note.write_text("not a photo")
    Image.new("RGB", (160, 120), (200, 200, 200)).save(blank)
    argv = [arg.format(tmp=tmp_path) for arg in command]
    code, _, err = run(capsys, *argv[:1], str(note), *argv[1:])
    assert code == 1 and "is not an image" in err and err.strip().splitlines()[-1].endswith("exit status 1")
    code, out, err = run(capsys, *argv[:1], str(blank), *argv[1:])
    assert code == 0 and f"{blank}: no face found" in out and err == ""


def test_an_avatar_of_a_video_without_a_face_says_so_and_writes_nothing(capsys, tmp_path):
    from tests.videos import write_video

    clip = tmp_path / "empty.mp4"
    write_video(clip, [np.full((96, 128, 3), 200, np.uint8)] * 6, fps=6)
    code, out, err = run(capsys, "avatar", str(clip), "--out", str(tmp_path / "avatars"))
    assert code == 0 and "no face found in its 6 analysed frames, so no avatar video written" in out
    assert not list((tmp_path / "avatars").iterdir())


@pytest.mark.parametrize("argv", [
    ["generate", "--plugin", "facs_renderer", "--emotion", "bored", "--out", "{out}"],
    ["generate", "--plugin", "facs_renderer", "--option", "nope=1", "--out", "{out}"],
    ["generate", "--plugin", "facs_renderer", "--animate", "interpolate", "--frames", "0", "--out", "{out}"],
    ["generate", "--plugin", "facs_renderer", "--image", "{photo}", "--emotion", "bored", "--out", "{out}"],
    ["avatar", "{photo}", "--analyzer", "nope", "--out", "{out}"],
    ["predict", "{photo}", "--classifier", "nope", "--annotate", "{out}"],
    ["evaluate", "--data", "synthetic:n=70", "--out", "{out}"],
], ids=lambda argv: " ".join(argv[:2] if argv[0] != "generate" else argv[3:5]))
def test_a_usage_error_leaves_no_output_folder_behind(capsys, tmp_path, astronaut_path, argv):
    out = tmp_path / "x7" / "out"
    code, _, err = run(capsys, *(arg.format(out=out, photo=astronaut_path) for arg in argv))
    assert code == 2 and err.count("\n") == 1
    assert not (tmp_path / "x7").exists()


def test_an_extra_argument_is_said_with_the_commands_own_usage(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["avatar", "a.jpg", "b.jpg", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage: fexlab avatar ") and "PHOTO_OR_VIDEO" in err
    assert err.strip().endswith("fexlab avatar: error: unrecognized arguments: b.jpg")
    assert not (tmp_path / "out").exists()
