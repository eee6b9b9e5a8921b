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
    with pytest.raises(InputError, match="is a generator checkpoint, not a classifier"):
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
