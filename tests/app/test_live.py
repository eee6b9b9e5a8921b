import numpy as np
import pytest

from fexlab.app.live import live_frame
from fexlab.preprocessing.images import load_image
from fexlab.registry import InputError


def test_frames_are_analysed_then_reused_while_the_last_analysis_is_fresh(registry, astronaut_path):
    frame = load_image(astronaut_path)
    shown, state, status = live_frame(registry, frame, "mini_xception", "haar", {}, now=100.0)
    assert shown.shape == frame.shape and not np.array_equal(shown, frame)
    assert state["analysed"] == 1 and len(state["faces"]) == 1 and state["faces"][0].emotion == "happy"
    # a frame that arrives before the last analysis' cost has elapsed reuses its boxes
    _, state, status = live_frame(registry, frame, "mini_xception", "haar", state, now=100.0 + state["cost"] / 2)
    assert state["skipped"] == 1 and state["analysed"] == 1 and "1 reused" in status
    _, state, _ = live_frame(registry, frame, "mini_xception", "haar", state, now=100.0 + state["cost"] * 2)
    assert state["analysed"] == 2


def test_changing_the_classifier_forces_a_new_analysis(registry, astronaut_path):
    frame = load_image(astronaut_path)
    _, state, _ = live_frame(registry, frame, "mini_xception", "haar", {}, now=0.0)
    _, state, _ = live_frame(registry, frame, "mini_xception", "full_frame", state, now=0.0)
    assert state["analysed"] == 2 and state["faces"][0].box == (0, 0, 512, 512)


def test_no_frame_and_no_classifier(registry):
    assert live_frame(registry, None, "mini_xception", "haar", None)[0] is None
    with pytest.raises(InputError, match="choose a classifier"):
        live_frame(registry, np.zeros((10, 10, 3), np.uint8), None, "haar", {})


def test_your_model_and_keypoints_in_the_live_view(registry, folders, astronaut_path):
    from fexlab.pipeline.predict import KEYPOINT_COLOR
    from tests.landmark_detector import dots_registry

    frame = load_image(astronaut_path)
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "mine" / "best")
    _, state, status = live_frame(registry, frame, None, "haar", {}, checkpoint="runs/mine", now=0.0)
    [face] = state["faces"]
    assert face.emotion == "happy" and list(face.probabilities) == ["mini_xception: runs/mine"]
    with pytest.raises(InputError, match="choose a classifier, or type your model's folder"):
        live_frame(registry, frame, None, "haar", {}, checkpoint=" ")
    shown, state, status = live_frame(dots_registry(), frame, "mini_xception", "dots", {}, keypoints=True, now=0.0)
    x, y = state["faces"][0].landmarks["nose_tip"]
    assert tuple(shown[round(y), round(x)]) == KEYPOINT_COLOR and "no keypoints" not in status


def test_the_face_mesh_is_followed_drawn_and_recorded(registry, astronaut_path):
    import csv
    import json

    from fexlab.app.live import clear_recording, live_avatar, live_recording
    from fexlab.pipeline.exports import LIVE_LINK_HEADER

    frame = load_image(astronaut_path)
    plain, state, _ = live_frame(registry, frame, "mini_xception", "blazeface", {}, now=0.0)
    assert live_avatar(state) is None  # no analysis without the mesh
    state = {}
    for second in range(4):
        shown, state, status = live_frame(registry, frame, "mini_xception", "blazeface", state, mesh=True,
                                          now=float(second))
    assert state["analysed"] == 4 and state["follower"].detections == 1  # the detector ran once: the mesh follows
    assert status.endswith("· 4 frames recorded")
    assert (shown != plain).any(axis=2).sum() > 2000  # the mesh drawn over the face
    avatar = live_avatar(state)
    assert avatar.shape == (256, 456, 3)
    csv_path, json_path = live_recording(state)
    with open(csv_path) as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == LIVE_LINK_HEADER and len(rows) == 5
    assert [row[0] for row in rows[1:]] == ["00:00:00:00.000", "00:00:01:00.000", "00:00:02:00.000", "00:00:03:00.000"]
    smile = float(rows[1][LIVE_LINK_HEADER.index("MouthSmileLeft")])
    assert smile > 0.5
    frames = json.loads(open(json_path).read())["frames"]
    assert len(frames) == 4 and frames[0]["action_units"]["AU12"] > 0.5 and set(frames[0]["head_pose"]) == {
        "yaw", "pitch", "roll"}
    state, message = clear_recording(state)
    assert message == "Cleared 4 recorded frames." and "recorded" not in state
    assert clear_recording(state)[1] == "Nothing was recorded."
    with pytest.raises(InputError, match="nothing is recorded yet: tick Face mesh"):
        live_recording(state)
    _, state, _ = live_frame(registry, frame, "mini_xception", "blazeface", state, mesh=True, now=10.0)
    assert len(state["recorded"]) == 1 and state["recorded"][0][0] == 0.0  # a new take starts at 0 s


def test_action_unit_bars_of_the_live_view():
    from fexlab.app.live import unit_bars

    panel = unit_bars({"AU1": 0.0, "AU12": 1.0}, height=40, width=100)
    assert panel.shape == (40, 100, 3)
    blue = (panel == (41, 128, 185)).all(axis=2)
    assert not blue[:20, 50:].any() and blue[25:35, 50:90].all()
