"""The synthetic FACS-style face set: deterministic, identity-disjoint, labelled, plainly synthetic."""

from __future__ import annotations

import numpy as np
import pytest

from fexlab.preprocessing.readers import open_dataset
from fexlab.preprocessing.synthetic import (
    ACTION_UNITS,
    PROTOTYPES,
    SyntheticSpec,
    render_identity,
    render_morph,
    render_samples,
)
from fexlab.registry import EMOTIONS, InputError


def test_open_dataset_synthetic_is_balanced_split_and_says_synthetic():
    data = open_dataset("synthetic:n=280,size=48,seed=1,gray=0")
    assert data.synthetic and "SYNTHETIC" in data.name and "not real" in data.name
    assert len(data) == 280 and data.class_counts() == dict.fromkeys(EMOTIONS, 40)
    sample = data[9]
    assert sample.image.shape == (48, 48, 3) and sample.image.dtype == np.uint8
    assert sample.label == 9 % 7 and sample.split in ("train", "val", "test")
    assert all(len(data.split(s)) > 0 for s in ("train", "val", "test"))


def test_identities_are_disjoint_across_splits():
    data = open_dataset("synthetic", n=700, size=48, seed=2)
    identity = {s: {sid.split("/")[2] for sid in data.split(s).source_ids()} for s in ("train", "val", "test")}
    assert identity["train"].isdisjoint(identity["val"]) and identity["train"].isdisjoint(identity["test"])
    assert identity["val"].isdisjoint(identity["test"])
    assert len(identity["train"]) == 40 and len(identity["val"]) == len(identity["test"]) == 5


def test_rendering_is_seeded_and_independent_of_the_batch():
    spec = SyntheticSpec(n=100, size=64, seed=5)
    batch = render_samples(spec, [3, 40, 77])
    np.testing.assert_array_equal(render_samples(spec, [77])[0], batch[2])
    np.testing.assert_array_equal(render_samples(spec, range(0, 41))[40], batch[1])
    other_seed = render_samples(SyntheticSpec(n=100, size=64, seed=6), [3])[0]
    assert np.abs(other_seed.astype(int) - batch[0]).mean() > 10


def test_sizes_and_gray():
    for size in (48, 256):
        assert render_samples(SyntheticSpec(n=14, size=size), [0])[0].shape == (size, size, 3)
    gray = open_dataset("synthetic:n=14,gray=1")[0].image
    assert np.array_equal(gray[:, :, 0], gray[:, :, 1]) and np.array_equal(gray[:, :, 1], gray[:, :, 2])
    colour = open_dataset("synthetic:n=14,gray=0")[0].image
    assert not np.array_equal(colour[:, :, 0], colour[:, :, 2])


def test_each_emotion_changes_the_face_of_one_identity():
    faces = np.stack(render_identity("all", seed=3, size=96)).astype(int)
    neutral = faces[EMOTIONS.index("neutral")]
    for emotion in EMOTIONS[:-1]:
        changed = np.abs(faces[EMOTIONS.index(emotion)] - neutral).max(axis=2) > 40
        assert changed.sum() > 40, emotion  # the expression is visible ...
        assert not changed[:, :8].any() and not changed[:8].any()  # ... and the background is untouched
    assert np.abs(faces[3] - faces[5]).max(axis=2).astype(bool).sum() > 100  # happy != surprise
    np.testing.assert_array_equal(render_identity(["happy"], seed=3, size=96)[0], faces[3])


def test_intensity_scales_the_expression():
    neutral, weak, strong = (render_identity(["surprise"], 4, size=96, intensity=i)[0].astype(int) for i in (0.0, 0.3, 1.0))
    assert 0 < np.abs(weak - neutral).sum() < np.abs(strong - neutral).sum()


def test_morph_runs_from_start_to_end():
    frames = render_morph(("neutral", 1), ("happy", 1), frames=5, size=64)
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[0], render_identity(["neutral"], 1, size=64)[0])
    np.testing.assert_array_equal(frames[-1], render_identity(["happy"], 1, size=64)[0])


def test_prototypes_use_only_known_action_units():
    assert set(PROTOTYPES) == set(EMOTIONS)
    assert {au for units in PROTOTYPES.values() for au in units} <= set(ACTION_UNITS)
    assert PROTOTYPES["neutral"] == {}


@pytest.mark.parametrize("source, message", [
    ("synthetic:n=0", "n must be >= 1"),
    ("synthetic:size=32", "between 48 and 256"),
    ("synthetic:colour=1", "bad synthetic option 'colour=1'"),
    ("synthetic:n=ten", "must be a int"),
])
def test_bad_synthetic_options(source, message):
    with pytest.raises(InputError, match=message):
        open_dataset(source)
