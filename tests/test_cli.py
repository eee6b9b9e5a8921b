"""``fexlab predict`` and ``fexlab plugins``: the JSON contract and one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cli import main
from preprocessing.images import load_image
from registry import EMOTIONS
from tests.videos import face_video


@pytest.fixture
def bad_inputs(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is a text file")
    (tmp_path / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (320, 240), (120, 130, 140)).save(tmp_path / "wall.png")
    return {name: str(tmp_path / name) for name in ("notes.jpg", "empty.jpg", "wall.png", "missing.jpg")}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_contract(capsys, astronaut_path):
    code, out, err = run(capsys, "predict", str(astronaut_path), "--json")
    assert code == 0 and err == ""
    [record] = json.loads(out)
    assert record["file"] == str(astronaut_path) and record["error"] is None
    [face] = record["faces"]
    assert face["emotion"] == "happy" and len(face["box"]) == 4
    assert list(face["probabilities"]) == list(EMOTIONS)


def test_bad_inputs_fail_alone_with_one_line_each(capsys, astronaut_path, bad_inputs):
    code, out, err = run(capsys, "predict", *bad_inputs.values(), str(astronaut_path), "--json")
    assert code == 1
    records = {os.path.basename(r["file"]): r for r in json.loads(out)}
    assert "not an image" in records["notes.jpg"]["error"]
    assert "empty" in records["empty.jpg"]["error"]
    assert "no such file" in records["missing.jpg"]["error"]
    assert records["wall.png"]["error"] is None and records["wall.png"]["faces"] == []
    assert records["astronaut.jpg"]["faces"][0]["emotion"] == "happy"
    assert len(err.strip().splitlines()) == 3 and "Traceback" not in err


def test_human_output_and_no_face_hint(capsys, astronaut_path, bad_inputs):
    code, out, err = run(capsys, "predict", str(astronaut_path), bad_inputs["wall.png"])
    assert code == 0
    assert "happy" in out and "no face found" in out and "--detector full_frame" in out


def test_annotate_writes_images_and_videos(capsys, astronaut_path, tmp_path):
    video = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=6)
    out_dir = tmp_path / "annotated"
    code, out, _ = run(capsys, "predict", str(astronaut_path), str(video), "--json", "--annotate", str(out_dir), "--every", "2")
    assert code == 0
    image_record, video_record = json.loads(out)
    assert [f["frame"] for f in video_record["faces"]] == [0, 2, 4]
    drawn = np.asarray(Image.open(out_dir / "astronaut.annotated.png"))
    assert drawn.shape == (512, 512, 3) and not np.array_equal(drawn, load_image(astronaut_path))
    import cv2

    capture = cv2.VideoCapture(str(out_dir / "clip.annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    capture.release()


def test_unwritable_annotate_folder_fails_before_work(capsys, astronaut_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "predict", str(astronaut_path), "--annotate", str(blocker / "sub"))
    assert code == 2 and out == "" and "cannot write to the output folder" in err


def test_unknown_classifier_suggests(capsys, astronaut_path):
    code, _, err = run(capsys, "predict", str(astronaut_path), "--classifier", "mini_xceptoin")
    assert code == 2 and "did you mean 'mini_xception'" in err


def test_checkpoint_flag_loads_a_saved_classifier(capsys, astronaut_path, tmp_path):
    from plugins.mini_xception import MiniXception

    MiniXception.load_default().save_pretrained(tmp_path / "run" / "best")
    code, out, _ = run(capsys, "predict", str(astronaut_path), "--classifier", "mini_xception",
                       "--checkpoint", str(tmp_path / "run"), "--json")
    assert code == 0 and json.loads(out)[0]["faces"][0]["emotion"] == "happy"


def test_text_output_names_each_classifiers_answer(capsys, astronaut_path, tmp_path):
    from plugins.convnext import ConvNeXt

    ConvNeXt.from_config(input_size=32).save_pretrained(tmp_path / "convnext")
    code, out, _ = run(capsys, "predict", str(astronaut_path), "--classifier", "mini_xception",
                       "--classifier", f"convnext:{tmp_path / 'convnext'}")
    [line] = [line for line in out.splitlines() if line.startswith("  box")]
    assert code == 0 and "mini_xception happy (" in line and f"convnext:{tmp_path / 'convnext'} " in line


def test_plugins_json(capsys):
    code, out, _ = run(capsys, "plugins", "--json")
    rows = json.loads(out)
    assert code == 0 and all(set(r) == {"name", "kind", "status", "detail"} for r in rows)
    assert {"name": "mini_xception", "kind": "classifier", "status": "ready"}.items() <= next(
        r for r in rows if r["name"] == "mini_xception").items()


def test_installed_console_script(astronaut_path):
    exe = os.path.join(os.path.dirname(sys.executable), "fexlab")
    done = subprocess.run([exe, "predict", str(astronaut_path), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["faces"][0]["emotion"] == "happy"
