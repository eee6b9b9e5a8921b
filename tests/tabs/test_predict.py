import numpy as np
import pytest
from PIL import Image

from registry import FexlabError, InputError
from tabs.predict import EXAMPLES_DIR, predict_photo


def test_faces_are_numbered_left_to_right_on_the_image_and_in_the_message(registry):
    gallery, _, payload, message = predict_photo(registry, str(EXAMPLES_DIR / "two_people.jpg"), ["mini_xception"],
                                                 "haar")
    boxes = [face["box"] for face in payload["faces"]]
    assert len(boxes) == 2 and boxes[0][0] < boxes[1][0]
    assert [face["emotion"] for face in payload["faces"]] == ["happy", "neutral"]
    assert "face 1: **happy**; face 2: **neutral**" in message
    annotated = np.asarray(Image.open(gallery[0][0]).convert("RGB"))
    x, y, w, h = boxes[0]  # the number badge is white in the box's lower-left corner
    assert (annotated[y + h - 8, x + 3] > 240).all()


def test_a_checkpoint_folder_is_compared_beside_the_installed_classifiers(registry, folders, astronaut_path):
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "fer-copy" / "best")
    gallery, figure, payload, message = predict_photo(registry, str(astronaut_path), ["mini_xception"], "haar",
                                                      "runs/fer-copy")
    assert [caption for _, caption in gallery] == ["mini_xception", "mini_xception: runs/fer-copy"]
    verdicts = payload["faces"][0]["classifiers"]
    assert {v["emotion"] for v in verdicts.values()} == {"happy"}
    first, second = (list(v["probabilities"].values()) for v in verdicts.values())
    np.testing.assert_allclose(first, second, atol=1e-6)  # the same weights, loaded from the folder
    assert "mini_xception **happy**" in message and "mini_xception: runs/fer-copy **happy**" in message
    assert len(figure.axes[0].get_legend().get_texts()) == 2


@pytest.mark.parametrize("typed, error", [
    ("/etc", "outside the folders this app may read and write"),
    ("../outside", "outside the folders"),
    ("runs/missing", "no such file or folder"),
    ("runs", "'runs' is not a fexlab checkpoint"),
])
def test_bad_checkpoint_paths_say_what_is_wrong(registry, folders, astronaut_path, typed, error):
    with pytest.raises(FexlabError, match=error):
        predict_photo(registry, str(astronaut_path), [], "haar", typed)


def test_a_generator_checkpoint_is_not_a_classifier(registry, folders, astronaut_path):
    registry.generator("facs_renderer").save_pretrained(folders["runs"] / "renderer")
    with pytest.raises(FexlabError, match="'runs/renderer' is a generator checkpoint, not a classifier"):
        predict_photo(registry, str(astronaut_path), [], "haar", "runs/renderer")


def test_no_classifier_and_no_checkpoint(registry, astronaut_path):
    with pytest.raises(InputError, match="choose at least one classifier"):
        predict_photo(registry, str(astronaut_path), [], "haar", "")


def test_a_checkpoint_path_cannot_ride_in_on_a_classifier_name(registry, astronaut_path):
    """The API receives names unchecked: a ``name:path`` spec must not bypass the folder check."""
    with pytest.raises(InputError, match="choose classifiers by name"):
        predict_photo(registry, str(astronaut_path), ["mini_xception:/etc"], "haar")


def test_old_output_files_are_swept_when_a_request_writes_new_ones(monkeypatch, tmp_path):
    import os
    import time

    from tabs import common

    monkeypatch.setattr(common, "OUTPUT_DIR", tmp_path)
    old_folder, old_file, fresh = tmp_path / "zip-old", tmp_path / "old.png", tmp_path / "fresh.png"
    old_folder.mkdir()
    for path in (old_file, fresh):
        path.write_bytes(b"png")
    hour_ago = time.time() - 2 * common.KEEP_SECONDS
    for path in (old_folder, old_file):
        os.utime(path, (hour_ago, hour_ago))
    new = common.output_folder("zip")
    assert new.is_dir() and fresh.exists() and not old_file.exists() and not old_folder.exists()


def test_show_keypoints_draws_the_detectors_landmarks(tmp_path):
    from predict import KEYPOINT_COLOR
    from tests.landmark_detector import KEYPOINT_NAMES, dots_registry

    registry = dots_registry()
    Image.new("RGB", (400, 300), (128, 128, 128)).save(tmp_path / "two.png")
    plain, _, payload, message = predict_photo(registry, str(tmp_path / "two.png"), ["mini_xception"], "dots")
    dotted, _, _, message = predict_photo(registry, str(tmp_path / "two.png"), ["mini_xception"], "dots", "", True)
    plain, dotted = (np.asarray(Image.open(g[0][0]).convert("RGB")) for g in (plain, dotted))
    assert [face["box"][0] for face in payload["faces"]] == [40, 240] and "face 2" in message
    for face in payload["faces"]:
        assert list(face["keypoints"]) == list(KEYPOINT_NAMES)
        for x, y in face["keypoints"].values():
            assert tuple(dotted[round(y), round(x)]) == KEYPOINT_COLOR
            assert tuple(plain[round(y), round(x)]) != KEYPOINT_COLOR
    assert "gives no keypoints" not in message


def test_show_keypoints_says_when_the_detector_gives_none(registry, astronaut_path):
    *_, message = predict_photo(registry, str(astronaut_path), ["mini_xception"], "haar", "", True)
    assert message.endswith("The haar detector gives no keypoints.")


def test_labels_and_numbers_stay_readable_on_a_large_photo():
    from predict import FacePrediction, annotate
    from registry.emotions import EMOTION_COLORS

    image = np.zeros((3840, 7120, 3), np.uint8)  # a 7120x3840 photo with two small faces
    happy = {"c": np.array([0, 0, 0, 1, 0, 0, 0], np.float32)}
    faces = [FacePrediction((3000, 1500, 120, 120), 1.0, happy), FacePrediction((4000, 1500, 120, 120), 1.0, happy)]
    drawn = annotate(image, faces, numbers=True)
    column = drawn[:1500, 3001]  # above the first box: its label
    label = int(np.all(column == EMOTION_COLORS["happy"], axis=1).sum())
    badge = int(np.all(drawn[1500:1620, 3001] == 255, axis=1).sum())  # the number in the box's corner
    assert label >= 0.02 * 3840 and badge >= 0.02 * 3840, (label, badge)
    small = annotate(np.zeros((300, 400, 3), np.uint8), [FacePrediction((100, 100, 60, 60), 1.0, happy)])
    assert int(np.all(small[:100, 101] == EMOTION_COLORS["happy"], axis=1).sum()) < 30  # a small photo: small text
