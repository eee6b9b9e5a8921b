"""Face analyzers in the prediction pipeline, the CLI and the avatar: per-face analysis, faces
dropped for low presence, video tracking from the previous mesh, exports and the avatar command."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from fexlab.cli import main
from fexlab.pipeline.avatar import avatar_of, side_by_side
from fexlab.pipeline.predict import Predictor, read_video
from fexlab.preprocessing.images import load_image
from fexlab.registry import Face, FaceDetector
from tests.videos import face_video


@dataclass
class _NoConfig:
    pass


class CountingDetector(FaceDetector):
    """Another detector's faces, counting the frames it was asked to look at."""

    name: ClassVar[str] = "counting"
    config_class: ClassVar[type] = _NoConfig

    def __init__(self, inner: FaceDetector, extra: list[Face] | None = None):
        super().__init__()
        self.inner, self.extra, self.calls = inner, list(extra or []), 0

    def detect(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        return self.inner.detect(image) + self.extra


@pytest.fixture(scope="module")
def mesh(registry):
    return registry.analyzer("face_mesh")


@pytest.fixture(scope="module")
def classifier(registry):
    return registry.classifier("mini_xception")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_faces_carry_their_analysis(registry, mesh, classifier, astronaut_path):
    predictor = Predictor([classifier], registry.detector("blazeface"), analyzers=[mesh])
    [face] = predictor.predict_image(astronaut_path).faces
    assert set(face.analysis) == {"mesh", "presence", "blendshapes", "action_units", "head_pose"}
    assert face.analysis["action_units"]["AU12"] > 0.5  # she smiles
    record = face.to_dict()
    assert {"blendshapes", "action_units", "head_pose", "mesh", "presence"} <= set(record)
    assert len(record["mesh"]) == 478 and len(record["mesh"][0]) == 3
    assert set(record["head_pose"]) == {"yaw", "pitch", "roll"}
    json.dumps(record)
    # the mesh lies on the face: its nose tip inside the detector's box
    x, y, w, h = face.box
    assert x < record["mesh"][1][0] < x + w and y < record["mesh"][1][1] < y + h


def test_a_scaled_down_photo_reports_the_mesh_in_its_own_pixels(registry, mesh, classifier, astronaut_path, tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.open(astronaut_path).resize((4096, 4096)).save(big)
    predictor = Predictor([classifier], registry.detector("blazeface"), analyzers=[mesh])
    [small] = predictor.predict_image(astronaut_path).faces
    [large] = predictor.predict_image(big).faces
    assert np.allclose(np.asarray(large.analysis["mesh"])[:, :2] / 8, small.analysis["mesh"][:, :2], atol=3)


def test_faces_without_presence_are_dropped(registry, mesh, classifier, astronaut_path):
    import cv2

    image = np.full((512, 1024, 3), 30, np.uint8)
    image[:, :512] = load_image(astronaut_path)
    cv2.putText(image, "FIN", (560, 330), cv2.FONT_HERSHEY_TRIPLEX, 5, (235, 235, 235), 10, cv2.LINE_AA)
    detector = CountingDetector(registry.detector("blazeface"), [Face((560, 160, 200, 200), 0.7, None)])
    assert len(Predictor([classifier], detector).predict_frames([image])[0]) == 2
    [kept] = Predictor([classifier], detector, analyzers=[mesh]).predict_frames([image])[0]
    assert kept.box[0] < 512 and kept.analysis["presence"] > 0.9


def test_video_follows_faces_from_the_previous_mesh(registry, mesh, classifier, astronaut_path, tmp_path):
    path = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=10)
    detector = CountingDetector(registry.detector("blazeface"))
    predictor = Predictor([classifier], detector, analyzers=[mesh], redetect=0)
    frames = list(predictor.predict_video(path, batch_frames=4))
    assert detector.calls == 1  # the first frame only: the mesh gives each next region
    assert all(len(frame.faces) == 1 and "blendshapes" in frame.faces[0].analysis for frame in frames)
    assert {frame.faces[0].track for frame in frames} == {1}
    noses = [frame.faces[0].analysis["mesh"][1, 0] for frame in frames]
    assert np.diff(noses) == pytest.approx(np.full(9, 2.0), abs=1.0)  # the face drifts 2 px a frame
    # with redetect, the detector also runs every few frames
    detector.calls = 0
    list(Predictor([classifier], detector, analyzers=[mesh], redetect=3).predict_video(path))
    assert detector.calls == 4  # frames 0, 3, 6, 9


def test_the_follower_smooths_a_still_face_and_refuses_a_bad_amount(registry, mesh, classifier, astronaut_path):
    from fexlab.pipeline.predict import FaceFollower
    from fexlab.registry import InputError

    predictor = Predictor([classifier], registry.detector("blazeface"), analyzers=[mesh], redetect=0)
    rng = np.random.default_rng(0)
    photo = load_image(astronaut_path)
    frames = [np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8) for _ in range(12)]

    def spread(smoothing):
        follower = FaceFollower.of(predictor, smoothing=smoothing)
        found = [follower.step(frame)[0][1] for frame in frames]
        meshes = np.stack([analysis["mesh"][:, :2] for analysis in found])
        smile = [analysis["action_units"]["AU12"] for analysis in found]
        return np.linalg.norm(meshes - meshes.mean(axis=0), axis=2).mean(), smile

    (raw, raw_smile), (smooth, smooth_smile) = spread(0.0), spread(0.8)
    assert smooth < raw * 0.8 and np.std(smooth_smile) < np.std(raw_smile)
    assert smooth_smile[0] == pytest.approx(raw_smile[0])  # the first frame is the detector's, as it is
    with pytest.raises(InputError, match="smoothing must lie in"):
        FaceFollower.of(predictor, smoothing=1.0)

def test_video_finds_a_lost_face_again_with_the_detector(registry, mesh, classifier, astronaut_path, tmp_path):
    path = face_video(tmp_path / "blinks.mp4", load_image(astronaut_path), count=8, blank_every=4)
    detector = CountingDetector(registry.detector("blazeface"))
    frames = list(Predictor([classifier], detector, analyzers=[mesh], redetect=0).predict_video(path))
    assert [len(frame.faces) for frame in frames] == [1, 1, 1, 0, 1, 1, 1, 0]
    # frame 0; 3 (lost, grey); 4 (nothing followed); 7 (lost again)
    assert detector.calls == 4


def test_cli_predict_adds_analysis_and_writes_exports(capsys, astronaut_path, tmp_path):
    csv_path, json_path = tmp_path / "take.csv", tmp_path / "take.json"
    code, out, err = run(capsys, "predict", astronaut_path, "--analyzer", "face_mesh", "--json",
                         "--blendshapes-csv", csv_path, "--blendshapes-json", json_path, "--mesh-obj", tmp_path / "obj")
    assert code == 0, err
    [face] = json.loads(out)[0]["faces"]
    assert len(face["blendshapes"]) == 51 and "_neutral" not in face["blendshapes"]
    assert face["action_units"]["AU12"] == pytest.approx(
        (face["blendshapes"]["mouthSmileLeft"] + face["blendshapes"]["mouthSmileRight"]) / 2, abs=1e-5)
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 1 and float(rows[0]["MouthSmileLeft"]) == pytest.approx(face["blendshapes"]["mouthSmileLeft"], abs=1e-5)
    [entry] = json.loads(json_path.read_text())["faces"]
    assert entry["face"] == 1 and entry["head_pose"] == face["head_pose"]
    obj = (tmp_path / "obj" / "astronaut.face1.obj").read_text().splitlines()
    assert sum(line.startswith("f ") for line in obj) == 898


def test_cli_video_csv_has_one_row_per_frame(capsys, astronaut_path, tmp_path):
    path = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=6)
    code, out, err = run(capsys, "predict", path, "--blendshapes-csv", tmp_path / "clip.csv", "--json")
    assert code == 0, err
    faces = json.loads(out)[0]["faces"]
    assert [f["frame"] for f in faces] == list(range(6)) and all("head_pose" in f for f in faces)
    rows = list(csv.reader((tmp_path / "clip.csv").open()))
    assert len(rows) == 7 and rows[2][0] == "00:00:00:01.000"  # 10 frames a second


def test_cli_unknown_analyzer_is_one_line(capsys, astronaut_path):
    code, out, err = run(capsys, "predict", astronaut_path, "--analyzer", "face_msh")
    assert code == 2 and "no analyzer named 'face_msh'" in err and "did you mean 'face_mesh'" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_lists_analyzers(capsys):
    code, out, _ = run(capsys, "plugins", "--kind", "analyzer", "--json")
    assert code == 0 and {"name": "face_mesh", "kind": "analyzer"}.items() <= json.loads(out)[0].items()


def test_avatar_wears_the_expression_and_pose():
    neutral = avatar_of(None, size=128)
    smile = avatar_of({"action_units": {"AU6": 1.0, "AU12": 1.0}}, size=128)
    turned = avatar_of({"head_pose": {"yaw": 20.0, "pitch": 0.0, "roll": 0.0}}, size=128)
    assert neutral.shape == (128, 128, 3) and neutral.dtype == np.uint8
    change = np.abs(smile.astype(int) - neutral).sum(axis=2)
    assert change.mean() > 1 and change[64:].sum() > 1.5 * change[:64].sum()  # mostly the mouth and cheeks
    assert np.abs(turned.astype(int) - neutral).mean() > 0.5
    # yaw > 0 turns the face toward the image's right: its eyes, brows, nose and mouth move right
    def features_x(image):
        dark = 255.0 - image[40:100, 20:108].mean(axis=2)
        dark = np.clip(dark - np.median(dark), 0, None)
        return (dark * np.arange(dark.shape[1])).sum() / dark.sum()

    left = avatar_of({"head_pose": {"yaw": -20.0}}, size=128)
    assert features_x(left) + 3 < features_x(neutral) < features_x(turned) - 3
    both = side_by_side(np.zeros((240, 320, 3), np.uint8), neutral)
    assert both.shape == (128, 128 + 170, 3)


def test_cli_avatar_of_a_photo_and_a_video(capsys, astronaut_path, tmp_path):
    from PIL import Image

    code, out, err = run(capsys, "avatar", astronaut_path, "--out", tmp_path, "--size", 128)
    assert code == 0, err
    image = np.asarray(Image.open(tmp_path / "astronaut.avatar.png"))
    assert image.shape == (128, 128, 3)
    # she smiles, so her avatar differs from the neutral cartoon, most of all below the eyes
    change = np.abs(image.astype(int) - avatar_of(None, size=128)).sum(axis=2)
    assert change.mean() > 1 and change[64:].sum() > change[:64].sum()
    path = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=5)
    code, out, err = run(capsys, "avatar", path, "--out", tmp_path, "--size", 96)
    assert code == 0, err
    frames = [frame for _, _, frame in read_video(tmp_path / "clip.avatar.webm")]
    assert len(frames) == 5 and frames[0].shape[0] == 96
    code, _, err = run(capsys, "avatar", astronaut_path, "--out", tmp_path, "--size", 1000)
    assert code == 2 and "--size" in err
    code, _, err = run(capsys, "avatar", tmp_path / "missing.jpg", "--out", tmp_path)
    assert code == 2 and "no such file" in err


def test_cli_text_output_names_action_units_and_pose(capsys, astronaut_path):
    code, out, err = run(capsys, "predict", astronaut_path, "--analyzer", "face_mesh")
    assert code == 0, err
    line = next(l for l in out.splitlines() if "action units" in l)
    assert "AU12" in line and "estimated from blendshapes" in line and "yaw" in line


def test_mesh_is_drawn_and_video_frames_export(registry, mesh, classifier, astronaut_path, tmp_path):
    from fexlab.pipeline.exports import face_series, video_faces
    from fexlab.pipeline.predict import draw_mesh

    predictor = Predictor([classifier], registry.detector("blazeface"), analyzers=[mesh])
    result = predictor.predict_image(astronaut_path, keep_image=True)
    triangles = mesh.mesh_faces()[0]
    drawn, dots = draw_mesh(result.image, result.faces, triangles), draw_mesh(result.image, result.faces)
    x, y, w, h = result.faces[0].box
    changed = np.any(drawn != result.image, axis=2)
    assert changed[y : y + h, x : x + w].mean() > 0.2 and changed.sum() == changed[y - 20 : y + h + 20, x - 20 : x + w + 20].sum()
    assert 0 < np.any(dots != result.image, axis=2).sum() < changed.sum()
    path = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=4)
    series = face_series(video_faces(predictor.predict_video(path)))
    assert [round(t, 2) for t, _ in series] == [0.0, 0.1, 0.2, 0.3] and "blendshapes" in series[0][1]
