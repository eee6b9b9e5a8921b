import numpy as np
import pytest

from preprocessing.images import load_image
from registry import InputError
from tabs.live import live_frame


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
    from predict import KEYPOINT_COLOR
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
