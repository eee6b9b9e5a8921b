"""Alignment levels tilted eyes, then crops to a fixed size, gray or RGB."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from fexlab.preprocessing.align import align_face, eye_angle
from fexlab.preprocessing.images import load_image
from fexlab.registry import Face


def _tilted_eyes(angle: float) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """A light image with two dark 'eyes' 60 px apart, their line tilted by ``angle`` degrees."""
    image = np.full((200, 240, 3), 220, np.uint8)
    centre, half = np.array([120.0, 100.0]), 30.0
    offset = half * np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    left, right = centre - offset, centre + offset
    for x, y in (left, right):
        cv2.circle(image, (int(round(x)), int(round(y))), 6, (20, 20, 20), -1, cv2.LINE_AA)
    return image, {"left_eye": tuple(left), "right_eye": tuple(right)}


def _dark_blobs(image: np.ndarray) -> list[tuple[float, float]]:
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    count, _, _, centroids = cv2.connectedComponentsWithStats((gray < 100).astype(np.uint8))
    return sorted((float(x), float(y)) for x, y in centroids[1:count])


def test_eye_angle():
    assert eye_angle({"left_eye": (0, 0), "right_eye": (10, 10)}) == pytest.approx(45.0)
    assert eye_angle({"left_eye": (10, 10), "right_eye": (0, 0)}) == pytest.approx(45.0)  # order-proof
    assert eye_angle(None) is None and eye_angle({"left_eye": (0, 0)}) is None


@pytest.mark.parametrize("angle", [-25.0, -8.0, 12.0, 30.0])
def test_levels_tilted_eyes_from_landmarks(angle):
    image, landmarks = _tilted_eyes(angle)
    face = Face((60, 40, 120, 120), 1.0, landmarks)
    crop = align_face(image, face, size=96, margin=0.0)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    (lx, ly), (rx, ry) = _dark_blobs(crop)
    assert abs(ly - ry) < 1.0, (angle, ly, ry)
    assert rx - lx == pytest.approx(60 * 96 / 120, abs=1.5)  # the crop scale is kept
    unaligned = align_face(image, face.box, size=96, margin=0.0)
    (_, uy), (_, vy) = _dark_blobs(unaligned)
    assert abs(uy - vy) > 5


def test_gray_crop_is_one_channel():
    image, landmarks = _tilted_eyes(10.0)
    crop = align_face(image, Face((60, 40, 120, 120), 1.0, landmarks), size=48, gray=True)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8


def test_real_photo_tilted_is_levelled_with_the_eye_cascade(hopper_path):
    from fexlab.plugins.detectors.haar import HaarCascade

    detector = HaarCascade.from_config(eyes=True)
    photo = load_image(hopper_path)
    upright = align_face(photo, detector.detect(photo)[0], size=64, gray=True).astype(float)
    height, width = photo.shape[:2]
    tilted = cv2.warpAffine(photo, cv2.getRotationMatrix2D((width / 2, height / 2), -10, 1.0), (width, height),
                            borderMode=cv2.BORDER_REPLICATE)
    face = detector.detect(tilted)[0]
    assert abs(eye_angle(face.landmarks)) > 6  # the eye cascade sees the tilt
    aligned = align_face(tilted, face, size=64, gray=True).astype(float)
    plain = align_face(tilted, face.box, size=64, gray=True).astype(float)
    found = align_face(tilted, face.box, size=64, gray=True, eye_finder=detector.find_eyes).astype(float)
    similarity = lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]  # noqa: E731
    assert similarity(aligned, upright) > 0.75 > similarity(plain, upright) + 0.1
    assert similarity(found, aligned) > 0.99  # the eye finder passed in gives the same eyes


def test_keypoints_of_blazeface_level_a_tilted_real_face(hopper_path, registry):
    detector = registry.detector("blazeface")
    photo = load_image(hopper_path)
    upright = align_face(photo, detector.detect(photo)[0], size=64, gray=True).astype(float)
    height, width = photo.shape[:2]
    tilted = cv2.warpAffine(photo, cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0), (width, height),
                            borderMode=cv2.BORDER_REPLICATE)
    face = detector.detect(tilted)[0]
    assert abs(eye_angle(face.landmarks) + 20) < 6  # subject-side names, in either order
    aligned = align_face(tilted, face, size=64, gray=True).astype(float)
    plain = align_face(tilted, face.box, size=64, gray=True).astype(float)
    similarity = lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]  # noqa: E731
    assert similarity(aligned, upright) > similarity(plain, upright) + 0.1

