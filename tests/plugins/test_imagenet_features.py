"""ImageNet features of faces (EfficientNet-Lite0 from the offline wheel) and Frechet distances in them."""

import numpy as np
import pytest

from fexlab.eval.generation import feature_distances, frechet_distances
from fexlab.plugins.efficientnet.features import ImageNetFeatures


@pytest.fixture(scope="module")
def imagenet():
    return ImageNetFeatures(batch_size=8)


def smooth_faces(n, seed=0, side=48):
    """Face-sized smooth gray images (blurred noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.GaussianBlur(rng.integers(0, 256, (side, side)).astype(np.uint8), (7, 7), 2.0) for _ in range(n)]


def test_features_are_1280_wide_and_the_same_face_gives_the_same_features(imagenet):
    faces = smooth_faces(10)
    features = imagenet.embed(faces)
    assert features.shape == (10, 1280) and features.dtype == np.float32 and np.isfinite(features).all()
    # the same face alone, in another batch, or in colour (gray repeated) reads the same
    again = imagenet.embed([faces[9], np.repeat(faces[3][..., None], 3, axis=2)])
    assert np.allclose(again, features[[9, 3]], atol=1e-4)
    assert not np.allclose(features[0], features[1], atol=1e-2)  # another face, other features
    assert "efficientnet-lite0" in imagenet.description and "224 px" in imagenet.description
    assert imagenet.embed([]).shape == (0, 1280)


def test_the_frechet_distance_of_a_set_with_itself_is_zero_and_grows_for_another_set(imagenet):
    faces = smooth_faces(16)
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 25, f.shape), 0, 255).astype(np.uint8) for f in faces]
    flat = [np.full_like(f, 40 + 10 * k) for k, f in enumerate(faces)]
    real, near, far = (imagenet.embed(s) for s in (faces, noisy, flat))
    d = frechet_distances({"a": real, "b": real}, {"a": real, "b": near}, kid_subsets=0)
    assert abs(d.fid["a"]) < 1e-3 * d.fid["b"]
    assert frechet_distances({"a": real}, {"a": far}, kid_subsets=0).fid["a"] > d.fid["b"] > 1.0
    assert d.kid == {"a": None, "b": None, "overall": None}  # KID left out when not asked for
    # the same distances from the faces, embedded by the extractor itself
    assert feature_distances({"b": faces}, {"b": noisy}, imagenet, kid_subsets=0).fid["b"] == pytest.approx(
        d.fid["b"], rel=1e-4)


def test_a_group_with_fewer_than_two_faces_has_no_distance_and_still_counts_overall():
    rng = np.random.default_rng(0)
    real = {"a": rng.normal(size=(5, 4)), "b": rng.normal(size=(1, 4))}
    fake = {"a": rng.normal(size=(5, 4)), "b": rng.normal(3.0, size=(4, 4))}
    d = frechet_distances(real, fake, kid_subsets=0)
    assert d.fid["b"] is None and d.fid["a"] is not None
    alone = frechet_distances({"a": real["a"]}, {"a": fake["a"]}, kid_subsets=0).fid["overall"]
    assert d.fid["overall"] > alone  # b's shifted fakes enter the overall distance
