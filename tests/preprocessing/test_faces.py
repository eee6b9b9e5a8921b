import numpy as np
import pytest

from fexlab.preprocessing.faces import crop_face, square_box


def test_square_box_grows_the_longer_side_by_the_margin():
    assert square_box((10, 20, 40, 20), margin=0.25) == (0, 0, 60)


def test_crop_inside_the_image_is_exact():
    image = np.arange(100 * 100 * 3, dtype=np.uint32).reshape(100, 100, 3).astype(np.uint8)
    crop = crop_face(image, (20, 30, 40, 40), margin=0.0)
    np.testing.assert_array_equal(crop, image[30:70, 20:60])


def test_crop_at_the_border_is_padded_and_stays_square():
    image = np.zeros((50, 80, 3), np.uint8)
    image[:, :10] = 255
    crop = crop_face(image, (0, 0, 30, 30), margin=0.5, size=32)
    assert crop.shape == (32, 32, 3)
    assert crop[16, 0, 0] == 255  # the left edge is replicated outward


def test_box_outside_the_image_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        crop_face(np.zeros((10, 10, 3), np.uint8), (100, 100, 5, 5))
