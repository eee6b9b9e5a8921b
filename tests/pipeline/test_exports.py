"""Live Link Face CSV, JSON and OBJ exports of face analyses."""

import csv
import json

import numpy as np
import pytest

from fexlab.pipeline.exports import (
    LIVE_LINK_BLENDSHAPES,
    LIVE_LINK_HEADER,
    face_series,
    photo_series,
    timecode,
    write_blendshapes_json,
    write_live_link_csv,
    write_mesh_obj,
)
from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES
from fexlab.plugins.face_mesh.bundle import canonical_face
from fexlab.registry import InputError


def _analysis(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"blendshapes": {name: float(v) for name, v in zip(ARKIT_NAMES, rng.random(len(ARKIT_NAMES)))},
            "head_pose": {"yaw": 10.0 * seed, "pitch": -5.0, "roll": 2.0},
            "action_units": {"AU12": 0.5}}


def test_header_is_live_link_faces():
    assert LIVE_LINK_HEADER[:3] == ("Timecode", "BlendShapeCount", "EyeBlinkLeft")
    assert len(LIVE_LINK_BLENDSHAPES) == 52 and LIVE_LINK_BLENDSHAPES[-1] == "TongueOut"
    assert LIVE_LINK_HEADER[-9:-6] == ("HeadYaw", "HeadPitch", "HeadRoll") and len(LIVE_LINK_HEADER) == 63
    # every ARKit name the face mesh gives has its column, by the same name in PascalCase
    assert {n[0].upper() + n[1:] for n in ARKIT_NAMES} <= set(LIVE_LINK_BLENDSHAPES)


def test_timecode_counts_frames_at_the_rate():
    assert timecode(0.0, 60) == "00:00:00:00.000"
    assert timecode(1.5, 60) == "00:00:01:30.000"
    assert timecode(3661.0 + 1 / 30 + 0.5 / 30, 30) == "01:01:01:01.500"


def test_csv_rows_carry_each_frames_values(tmp_path):
    series = [(i / 30, _analysis(i)) for i in range(3)]
    path = write_live_link_csv(tmp_path / "take.csv", series, fps=30)
    rows = list(csv.reader(path.open()))
    assert tuple(rows[0]) == LIVE_LINK_HEADER and len(rows) == 4
    for (seconds, analysis), row in zip(series, rows[1:]):
        values = dict(zip(rows[0], row))
        assert values["Timecode"] == timecode(seconds, 30) and values["BlendShapeCount"] == "61"
        assert float(values["EyeBlinkLeft"]) == pytest.approx(analysis["blendshapes"]["eyeBlinkLeft"], abs=1e-6)
        assert float(values["MouthSmileRight"]) == pytest.approx(analysis["blendshapes"]["mouthSmileRight"], abs=1e-6)
        assert float(values["TongueOut"]) == 0.0
        assert float(values["HeadYaw"]) == pytest.approx(np.radians(analysis["head_pose"]["yaw"]), abs=1e-6)


def test_json_has_frames_with_blendshapes_pose_and_units(tmp_path):
    series = [(0.0, _analysis(1)), (0.5, _analysis(2))]
    data = json.loads(write_blendshapes_json(tmp_path / "take.json", series, fps=10).read_text())
    assert data["fps"] == 10 and [f["time"] for f in data["frames"]] == [0.0, 0.5]
    assert data["frames"][1]["timecode"] == "00:00:00:05.000"
    assert data["frames"][0]["blendshapes"]["jawOpen"] == pytest.approx(series[0][1]["blendshapes"]["jawOpen"], abs=1e-6)
    assert data["frames"][1]["head_pose"]["yaw"] == 20.0 and data["frames"][0]["action_units"] == {"AU12": 0.5}


def test_face_series_picks_the_longest_track_in_time_order():
    faces = [{"time": 0.2, "track": 1, **_analysis(1)}, {"time": 0.1, "track": 1, **_analysis(2)},
             {"time": 0.1, "track": 2, **_analysis(3)}, {"time": 0.0, "track": 3}]
    series = face_series(faces)
    assert [t for t, _ in series] == [0.1, 0.2]
    assert [t for t, _ in face_series(faces, track=2)] == [0.1]
    assert face_series([{"time": 0.0, "track": 1}]) == []
    with pytest.raises(InputError, match="track 9"):
        face_series(faces, track=9)


def test_obj_has_the_canonical_triangulation(tmp_path):
    canonical = canonical_face()
    mesh = np.concatenate([canonical.vertices * [10, -10, -10] + [200, 200, 0], np.zeros((10, 3))])
    path = write_mesh_obj(tmp_path / "face.obj", mesh, canonical.triangles, canonical.uv)
    lines = path.read_text().splitlines()
    vertices = np.array([[float(v) for v in line.split()[1:]] for line in lines if line.startswith("v ")])
    faces = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert len(vertices) == 468 and len(faces) == 898
    assert sum(line.startswith("vt ") for line in lines) == 468
    indices = np.array([[int(corner.split("/")[0]) for corner in face] for face in faces])
    assert indices.min() == 1 and indices.max() == 468
    # back in the canonical face's frame (y up, z toward the viewer), up to scale and shift
    assert np.allclose(vertices - vertices.mean(0), (canonical.vertices - canonical.vertices.mean(0)) * 10, atol=1e-2)
    with pytest.raises(InputError):
        write_mesh_obj(tmp_path / "bad.obj", np.zeros((5, 3)), canonical.triangles)


def test_glb_is_a_centred_face_with_normals_toward_the_viewer(tmp_path):
    import struct

    from fexlab.pipeline.exports import GLB_FACE_WIDTH, write_mesh_glb

    canonical = canonical_face()
    mesh = np.concatenate([canonical.vertices * [10, -10, -10] + [200, 200, 0], np.zeros((10, 3))])
    data = write_mesh_glb(tmp_path / "face.glb", mesh, canonical.triangles).read_bytes()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    size, kind = struct.unpack("<I4s", data[12:20])
    document = json.loads(data[20:20 + size])
    assert kind == b"JSON" and document["asset"]["version"] == "2.0"
    binary = data[28 + size:]
    assert struct.unpack("<I4s", data[20 + size:28 + size])[1] == b"BIN\0"

    def read(accessor, dtype, width):
        view = document["bufferViews"][document["accessors"][accessor]["bufferView"]]
        return np.frombuffer(binary, dtype, offset=view["byteOffset"], count=view["byteLength"] // 4).reshape(-1, width)

    points, normals, triangles = read(0, "<f4", 3), read(1, "<f4", 3), read(2, "<u4", 3)
    assert len(points) == 468 and len(triangles) == 898 and triangles.max() == 467
    assert np.ptp(points[:, 0]) == pytest.approx(GLB_FACE_WIDTH, rel=1e-5)
    assert np.allclose(points.min(0) + points.max(0), 0, atol=1e-6)  # centred
    assert np.allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-5)
    assert normals[:, 2].mean() > 0.5  # the face looks toward +z, at the viewer
    with pytest.raises(InputError):
        write_mesh_glb(tmp_path / "bad.glb", np.zeros((5, 3)), canonical.triangles)


def test_a_photos_faces_are_numbered_rows_with_no_frame_rate(tmp_path):
    faces = [{"box": [0, 0, 10, 10], **_analysis(1)}, {"box": [20, 0, 10, 10]}, {"box": [40, 0, 10, 10], **_analysis(2)}]
    series = photo_series(faces)
    assert [analysis["face"] for _, analysis in series] == [1, 3]  # face 2 was not analysed
    rows = list(csv.DictReader(write_live_link_csv(tmp_path / "photo.csv", series, None).open()))
    assert [row["Timecode"] for row in rows] == ["00:00:00:00.000"] * 2
    assert float(rows[1]["JawOpen"]) == pytest.approx(faces[2]["blendshapes"]["jawOpen"], abs=1e-6)
    data = json.loads(write_blendshapes_json(tmp_path / "photo.json", series, None).read_text())
    assert set(data) == {"faces"} and [face["face"] for face in data["faces"]] == [1, 3]
    assert data["faces"][1]["box"] == [40, 0, 10, 10] and "time" not in data["faces"][0]
    assert data["faces"][0]["head_pose"]["yaw"] == 10.0
