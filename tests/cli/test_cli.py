"""``fexlab predict`` and ``fexlab plugins``: the JSON contract and one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fexlab.cli import main
from fexlab.preprocessing.images import load_image
from fexlab.registry import EMOTIONS
from tests.conftest import EXAMPLES
from tests.landmark_detector import KEYPOINT_NAMES, dots_registry
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
    assert code == 1 and err.strip().splitlines()[-1].startswith("fexlab: skipped 3 of 5 inputs")
    records = {os.path.basename(r["file"]): r for r in json.loads(out)}
    assert "not an image" in records["notes.jpg"]["error"]
    assert "empty" in records["empty.jpg"]["error"]
    assert "no such file" in records["missing.jpg"]["error"]
    assert records["wall.png"]["error"] is None and records["wall.png"]["faces"] == []
    assert records["astronaut.jpg"]["faces"][0]["emotion"] == "happy"
    assert len(err.strip().splitlines()) == 4 and "Traceback" not in err


def test_human_output_and_no_face_hint(capsys, astronaut_path, bad_inputs):
    code, out, err = run(capsys, "predict", str(astronaut_path), bad_inputs["wall.png"])
    assert code == 0
    assert "happy" in out and "no face found" in out and "--detector full_frame" in out


def test_annotate_writes_images_and_videos_browsers_play(capsys, astronaut_path, tmp_path):
    import cv2

    from fexlab.pipeline.predict import BROWSER_CODECS, playable_suffix, video_codec

    video = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=6)  # MPEG-4 part 2
    webm = tmp_path / "pan.webm"
    webm.write_bytes((EXAMPLES / "two_people_pan.webm").read_bytes())
    out_dir = tmp_path / "annotated"
    code, out, _ = run(capsys, "predict", str(astronaut_path), str(video), str(webm), "--json", "--annotate",
                       str(out_dir), "--every", "2")
    assert code == 0
    image_record, video_record, _ = json.loads(out)
    assert [f["frame"] for f in video_record["faces"]] == [0, 2, 4]
    drawn = np.asarray(Image.open(out_dir / "astronaut.annotated.png"))
    assert drawn.shape == (512, 512, 3) and not np.array_equal(drawn, load_image(astronaut_path))
    written = {path.name: path for path in out_dir.iterdir() if path.suffix != ".png"}
    # the .mp4 keeps its container only where H.264 can be encoded; a .webm stays a .webm
    assert set(written) == {f"clip.annotated{playable_suffix(video)}", "pan.annotated.webm"}
    for path in written.values():
        assert video_codec(path) in BROWSER_CODECS, (path, video_codec(path))
    capture = cv2.VideoCapture(str(written[f"clip.annotated{playable_suffix(video)}"]))
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
    from fexlab.plugins.mini_xception import MiniXception

    MiniXception.load_default().save_pretrained(tmp_path / "run" / "best")
    code, out, _ = run(capsys, "predict", str(astronaut_path), "--classifier", "mini_xception",
                       "--checkpoint", str(tmp_path / "run"), "--json")
    assert code == 0 and json.loads(out)[0]["faces"][0]["emotion"] == "happy"


def test_text_output_names_each_classifiers_answer(capsys, astronaut_path, tmp_path):
    from fexlab.plugins.convnext import ConvNeXt

    ConvNeXt.from_config(input_size=32).save_pretrained(tmp_path / "convnext")
    code, out, _ = run(capsys, "predict", str(astronaut_path), "--classifier", "mini_xception",
                       "--classifier", f"convnext:{tmp_path / 'convnext'}")
    [line] = [line for line in out.splitlines() if line.startswith("  face 1 box")]
    assert code == 0 and "mini_xception happy (" in line and f"convnext:{tmp_path / 'convnext'} " in line


@pytest.fixture
def dots(monkeypatch):
    """``fexlab`` with the test detector ``dots`` (two faces with six keypoints each) installed."""
    from fexlab.cli import predict
    registry = dots_registry()
    monkeypatch.setattr(predict, "default_registry", lambda: registry)
    return registry


def test_faces_come_left_to_right_numbered_from_1_with_their_keypoints(capsys, dots, tmp_path):
    Image.new("RGB", (400, 300), (128, 128, 128)).save(tmp_path / "two.png")
    code, out, _ = run(capsys, "predict", str(tmp_path / "two.png"), "--detector", "dots")
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("2 faces")
    assert lines[1].startswith("  face 1 box (40, 60, 90, 90)")
    assert lines[2].startswith("  face 2 box (240, 60, 90, 90)")
    code, out, _ = run(capsys, "predict", str(tmp_path / "two.png"), "--detector", "dots", "--json")
    first, second = json.loads(out)[0]["faces"]
    assert first["box"][0] < second["box"][0]
    assert list(first["keypoints"]) == list(KEYPOINT_NAMES)
    assert first["keypoints"]["right_eye"] == [67.0, 96.0] and first["keypoints"]["left_ear_tragion"] == [125.5, 100.5]


def test_keypoints_are_in_the_pixels_of_the_image_as_given(capsys, dots, tmp_path):
    Image.new("RGB", (6000, 3000), (128, 128, 128)).save(tmp_path / "large.jpg")  # scaled down to detect
    code, out, _ = run(capsys, "predict", str(tmp_path / "large.jpg"), "--detector", "dots", "--json")
    face = json.loads(out)[0]["faces"][0]
    x, y, side, _ = face["box"]
    assert code == 0 and abs(x - 600) <= 3 and abs(side - 900) <= 6
    nose_x, nose_y = face["keypoints"]["nose_tip"]
    assert abs(nose_x - (x + 0.5 * side)) <= 4 and abs(nose_y - (y + 0.6 * side)) <= 4


def test_no_keypoints_key_when_the_detector_gives_none(capsys, astronaut_path):
    code, out, _ = run(capsys, "predict", str(astronaut_path), "--json", "--detector", "haar")
    assert code == 0 and "keypoints" not in json.loads(out)[0]["faces"][0]


def test_a_video_is_summed_up_in_frames_detections_and_tracks_with_progress(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # the progress bar is drawn on a terminal
    video = str(EXAMPLES / "two_people_pan.webm")
    code, out, err = run(capsys, "predict", video, "--every", "4")
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"{video}: Analysed 10 frames (every 4): 20 face detections in 2 tracks"
    assert lines[1].startswith("  frame 0 track 1 box") and lines[2].startswith("  frame 0 track 2 box")
    first, second = (tuple(int(v) for v in line.split("box (")[1].split(")")[0].split(", ")) for line in lines[1:3])
    assert first[0] < second[0]  # track 1 is the face on the left
    assert "predict two_people_pan.webm" in err and "frame" in err  # the progress bar
    code, out, _ = run(capsys, "predict", video, "--every", "4", "--json")
    assert {face["track"] for face in json.loads(out)[0]["faces"]} == {1, 2}


def test_a_folder_gives_its_images_and_videos_in_sorted_order(capsys, tmp_path, astronaut_path):
    (tmp_path / "album" / "later").mkdir(parents=True)
    for name in ("b.jpg", "a.png", "later/c.jpg"):
        Image.open(astronaut_path).save(tmp_path / "album" / name)
    (tmp_path / "album" / "notes.txt").write_text("not a photo")
    code, out, _ = run(capsys, "predict", str(tmp_path / "album"), "--json")
    assert code == 0 and [Path(r["file"]).name for r in json.loads(out)] == ["a.png", "b.jpg"]
    code, out, _ = run(capsys, "predict", str(tmp_path / "album"), "--json", "--recursive")
    assert [Path(r["file"]).name for r in json.loads(out)] == ["a.png", "b.jpg", "c.jpg"]
    assert all(r["faces"][0]["emotion"] == "happy" for r in json.loads(out))
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "predict", str(tmp_path / "empty"))
    assert code == 2 and "is a folder with no images or videos" in err and "--recursive" in err


def test_plugins_json(capsys):
    code, out, _ = run(capsys, "plugins", "--json")
    rows = json.loads(out)
    assert code == 0 and all(set(r) == {"name", "kind", "status", "detail", "tags", "options"} for r in rows)
    assert {"name": "mini_xception", "kind": "classifier", "status": "ready"}.items() <= next(
        r for r in rows if r["name"] == "mini_xception").items()


def test_plugins_lists_tags_and_options(capsys):
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    assert "mini_xception.ferplus" in out and "cgan.synthetic" in out and "blazeface.short" in out
    assert "mini_xception.fer2013 (default)" in out
    assert "truncation=1.0" in out and "steps=30" in out
    assert "texture=0.5, au1=(unset)" in out  # mesh_warp's units are unset until given
    _, out, _ = run(capsys, "plugins", "--json")
    cgan = next(r for r in json.loads(out) if r["name"] == "cgan")
    assert "cgan.synthetic" in cgan["tags"] and cgan["options"] == {"truncation": 1.0}


def test_installed_console_script(astronaut_path):
    exe = os.path.join(os.path.dirname(sys.executable), "fexlab")
    done = subprocess.run([exe, "predict", str(astronaut_path), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["faces"][0]["emotion"] == "happy"


def test_predict_json_has_the_detector_score_and_min_score_filters(capsys):
    photo = str(EXAMPLES / "two_people.jpg")
    code, out, _ = run(capsys, "predict", photo, "--json")
    faces = json.loads(out)[0]["faces"]
    assert code == 0 and len(faces) == 2 and all(0.5 <= face["score"] <= 1 for face in faces)
    middle = (faces[0]["score"] + faces[1]["score"]) / 2
    code, out, _ = run(capsys, "predict", photo, "--json", "--min-score", f"{middle:.4f}")
    kept = json.loads(out)[0]["faces"]
    assert code == 0 and [face["score"] for face in kept] == [max(face["score"] for face in faces)]
    code, _, err = run(capsys, "predict", photo, "--min-score", "1.5")
    assert code == 2 and err.strip() == "fexlab: --min-score must lie between 0 and 1, got 1.5"


def test_a_jpeg_named_mp4_is_called_what_it_is(capsys, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes((EXAMPLES / "astronaut.jpg").read_bytes())
    code, out, err = run(capsys, "predict", str(fake))
    assert code == 1 and out == ""
    assert f"{fake} is a JPEG image, not a video" in err and "(.jpg)" in err


def test_predict_uses_the_default_classifier_and_it_ships_ready(astronaut_path, capsys):
    from fexlab.registry import DEFAULT_CLASSIFIER, Registry

    assert Registry().plugin_class("classifier", DEFAULT_CLASSIFIER.split(".")[0]).status().ready
    assert main(["predict", str(astronaut_path), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)[0]["faces"][0]["probabilities"]
    assert main(["predict", str(astronaut_path), "--json", "--classifier", DEFAULT_CLASSIFIER]) == 0
    named = json.loads(capsys.readouterr().out)[0]["faces"][0]["probabilities"]
    assert main(["predict", str(astronaut_path), "--json", "--classifier", "mini_xception"]) == 0
    other = json.loads(capsys.readouterr().out)[0]["faces"][0]["probabilities"]
    assert default == named != other
