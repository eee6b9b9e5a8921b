"""The yunet detector: OpenCV's decoding reproduced, the image never enlarged, no face on drawn text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fexlab.plugins.detectors.yunet import YuNet
from fexlab.plugins.detectors.yunet.plugin import MODEL_FILE, WEIGHTS_DIR
from fexlab.preprocessing import load_image
from fexlab.preprocessing.align import eye_angle
from fexlab.registry import default_registry
from fexlab.registry.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((ROOT / "tests" / "golden" / "yunet_detections.json").read_text())


@pytest.fixture(scope="module")
def yunet():
    return YuNet.load_default()


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["image"] for c in GOLDEN["cases"]])
def test_faces_equal_opencv_face_detector_yn(yunet, case):
    """The golden file holds cv2.FaceDetectorYN's faces, computed once and stored."""
    boxes, scores, points = yunet.detect_arrays(load_image(ROOT / case["image"]))
    order = np.argsort(-scores)
    assert len(boxes) == len(case["boxes"]) >= 1
    golden_order = np.argsort(-np.asarray(case["scores"]))
    np.testing.assert_allclose(boxes[order], np.asarray(case["boxes"])[golden_order], atol=0.05)
    np.testing.assert_allclose(points[order], np.asarray(case["keypoints"])[golden_order], atol=0.05)
    np.testing.assert_allclose(scores[order], np.asarray(case["scores"])[golden_order], atol=1e-4)


def test_keypoints_carry_the_project_names_and_level_the_eyes(yunet, astronaut_path):
    [face] = yunet.detect(load_image(astronaut_path))
    assert {"right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left", "mouth_center"} <= set(face.landmarks)
    assert face.landmarks["right_eye"][0] < face.landmarks["left_eye"][0]  # the subject's right is the image's left
    assert abs(eye_angle(face.landmarks)) < 10
    x, y, w, h = face.box
    cx, cy = face.landmarks["nose_tip"]
    assert x < cx < x + w and y < cy < y + h


class _Spy(YuNet):
    """Records the size of every input the network reads."""

    def raw_outputs(self, image_bgr):
        self.inputs.append(image_bgr.shape[:2])
        return super().raw_outputs(image_bgr)


def _spy() -> _Spy:
    spy = _Spy.from_pretrained(WEIGHTS_DIR / "s")
    spy.inputs = []
    return spy


def test_a_small_image_is_read_as_it_is_never_enlarged(astronaut_path):
    spy = _spy()
    image = load_image(astronaut_path)[100:300, 100:400]  # 300 x 200
    spy.detect(image)
    assert spy.inputs == [(200, 300)]


def test_a_large_image_is_scaled_down_and_its_large_face_found(astronaut_path):
    image = load_image(astronaut_path)
    big = cv2.resize(image, (2048, 2048), interpolation=cv2.INTER_CUBIC)  # the face about 400 px wide
    spy = _spy()
    faces = spy.detect(big)
    # more than twice 640 px: a second pass at twice the first's resolution, still below the photo's
    assert spy.inputs == [(640, 640), (1280, 1280)]
    assert len(faces) == 1 and faces[0].box[2] > 300


def test_the_finer_pass_finds_faces_too_small_for_the_first(astronaut_path):
    # the astronaut's head and some background at 96 x 108 px: a face of about 55 px, 11 px once
    # the photo is scaled to 640 px wide, 22 px in the finer pass
    face = cv2.resize(load_image(astronaut_path)[40:220, 150:310], (96, 108), interpolation=cv2.INTER_AREA)
    scene = np.full((2400, 3200, 3), 90, np.uint8)
    scene[1200:1308, 1600:1696] = face
    coarse = YuNet.from_pretrained(WEIGHTS_DIR / "s")
    coarse.config.fine_pass = False
    fine = YuNet.load_default()
    assert coarse.detect(scene) == []
    [found] = fine.detect(scene)
    x, y, w, h = found.box
    assert abs(x + w / 2 - 1645) < 25 and abs(y + h / 2 - 1250) < 25


def title_card(width: int = 960, height: int = 540) -> np.ndarray:
    """A drawn title card: big letters, outlines and shapes on a coloured ground, no face."""
    card = np.zeros((height, width, 3), np.uint8)
    card[:] = (40, 90, 160)
    cv2.circle(card, (150, 140), 70, (250, 220, 60), -1)
    cv2.rectangle(card, (620, 330), (900, 500), (230, 80, 60), -1)
    for row, text in enumerate(["THE OOPS SHOW", "Episode 8: Oh No!", "oo OO @@ 88"]):
        cv2.putText(card, text, (60, 250 + 110 * row), cv2.FONT_HERSHEY_DUPLEX, 2.4 - 0.4 * row, (255, 255, 255), 8,
                    cv2.LINE_AA)
        cv2.putText(card, text, (60, 250 + 110 * row), cv2.FONT_HERSHEY_DUPLEX, 2.4 - 0.4 * row, (20, 20, 20), 3,
                    cv2.LINE_AA)
    return card


def test_no_face_on_a_drawn_title_card(yunet):
    assert yunet.detect(title_card()) == []
    assert yunet.detect(cv2.resize(title_card(), (1920, 1080))) == []


def test_a_checkpoint_with_another_model_is_refused(tmp_path):
    folder = tmp_path / "yunet"
    shutil.copytree(WEIGHTS_DIR / "s", folder)
    (folder / MODEL_FILE).write_bytes(b"not yunet")
    with pytest.raises(CheckpointError, match="is not YuNet's model"):
        YuNet.from_pretrained(folder)


def test_it_is_broken_with_a_clear_reason_without_onnx_runtime(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    status = YuNet.status()
    assert status.state == "broken" and "pip install onnxruntime" in status.detail


def test_the_registry_lists_it_ready():
    info = {i.name: i for i in default_registry().infos("detector")}["yunet"]
    assert info.status == "ready"


def test_the_face_mesh_and_eye_alignment_work_on_its_faces(astronaut_path, two_faces):
    from fexlab.pipeline.predict import Predictor

    registry = default_registry()
    predictor = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector("yunet"),
                          analyzers=[registry.analyzer("face_mesh")], align=True)
    faces = predictor.predict_image(two_faces).faces
    assert len(faces) == 2
    for face in faces:
        assert len(face.analysis["mesh"]) == 478 and face.analysis["blendshapes"]
        x, y, w, h = face.box
        mesh = np.asarray(face.analysis["mesh"])[:, :2]
        assert (np.abs(mesh.mean(axis=0) - (x + w / 2, y + h / 2)) < (w / 4, h / 4)).all()  # the mesh is on the face


def test_the_bundle_command_checks_the_file_and_rebuilds_a_tag_only_from_yunet(tmp_path, capsys):
    from fexlab.plugins.detectors.yunet import bundle

    assert bundle.main([]) == 0 and "is YuNet-s" in capsys.readouterr().out
    assert bundle.main(["--from", str(WEIGHTS_DIR / "s" / MODEL_FILE), "--out", str(tmp_path / "s")]) == 0
    assert YuNet.from_pretrained(tmp_path / "s").detect(title_card()) == []
    (tmp_path / "other.onnx").write_bytes(b"something else")
    with pytest.raises(SystemExit, match="not YuNet's"):
        bundle.main(["--from", str(tmp_path / "other.onnx"), "--out", str(tmp_path / "t")])
    assert not (tmp_path / "t").exists()
