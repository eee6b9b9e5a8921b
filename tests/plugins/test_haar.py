import numpy as np
import pytest

from fexlab.plugins.detectors import FullFrame, HaarCascade
from fexlab.preprocessing.images import load_image
from fexlab.registry import InputError


@pytest.fixture(scope="module")
def haar():
    return HaarCascade.from_config()


def test_finds_the_face_in_real_photos(haar, astronaut_path, hopper_path):
    for path, centre in ((astronaut_path, (224, 113)), (hopper_path, (265, 215))):
        faces = haar.detect(load_image(path))
        assert len(faces) == 1
        x, y, w, h = faces[0].box
        assert abs(x + w / 2 - centre[0]) < 30 and abs(y + h / 2 - centre[1]) < 30
        assert 0 < faces[0].score < 1


def test_finds_both_faces_largest_first(haar, two_faces):
    faces = haar.detect(two_faces)
    assert len(faces) == 2
    assert faces[0].box[2] >= faces[1].box[2]


def test_no_face_in_a_plain_image(haar):
    assert haar.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    assert haar.detect(np.zeros((5, 5, 3), np.uint8)) == []


def test_boxes_are_in_input_pixels_when_detection_is_downscaled(astronaut_path):
    import cv2

    image = load_image(astronaut_path)
    big = cv2.resize(image, (2048, 2048))
    small_box = HaarCascade.from_config().detect(image)[0].box
    big_box = HaarCascade.from_config(max_side=512).detect(big)[0].box
    np.testing.assert_allclose(np.array(big_box) / 4, small_box, atol=8)


def test_eye_landmarks_level_with_the_face(hopper_path):
    face = HaarCascade.from_config(eyes=True).detect(load_image(hopper_path))[0]
    assert face.landmarks is not None
    (lx, ly), (rx, ry) = face.landmarks["left_eye"], face.landmarks["right_eye"]
    assert lx < rx and abs(ly - ry) < face.box[3] * 0.15


def test_bad_config_is_refused():
    with pytest.raises(InputError, match="scale_factor must be > 1.0"):
        HaarCascade.from_config(scale_factor=1.0)


def test_full_frame_is_the_whole_image():
    assert FullFrame().detect(np.zeros((30, 40, 3), np.uint8))[0].box == (0, 0, 40, 30)
