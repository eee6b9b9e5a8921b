"""mesh_warp's reach: how much further the brows are asked to move so the Face
Landmarker reads, in the edited photo, the change the edit aimed at."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from fexlab.pipeline.editing import edit_photo
from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES
from fexlab.plugins.mesh_warp import MeshWarp
from fexlab.plugins.mesh_warp.model import CODE_SIZE
from fexlab.plugins.mesh_warp.reach import (
    CORRECTED,
    FILE,
    TOP,
    load_reach,
    reach_factors,
    save_reach,
    scaled_target,
)
from fexlab.registry import EMOTIONS, CheckpointError

N = len(ARKIT_NAMES)
INDEX = {name: k for k, name in enumerate(ARKIT_NAMES)}


def _edits(reach: dict[str, float], n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Asked changes and what a landmarker reads of them: each blendshape ``reach`` of the way (1 by default)."""
    rng = np.random.default_rng(seed)
    asked = rng.normal(0.0, 0.3, size=(n, N))
    share = np.array([reach.get(name, 1.0) for name in ARKIT_NAMES])
    return asked, asked * share + rng.normal(0.0, 0.01, size=asked.shape)


def test_only_the_brows_are_corrected():
    assert {"browInnerUp", "browDownLeft", "browOuterUpRight"} <= set(CORRECTED)
    assert not {"mouthSmileLeft", "jawOpen", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownLeft"} & set(CORRECTED)


def test_a_blendshape_read_at_half_is_asked_twice_over_and_the_rest_stay():
    asked, read = _edits({"browInnerUp": 0.5, "mouthSmileLeft": 0.5, "eyeWideLeft": 0.3, "browDownLeft": 1.2,
                          "browDownRight": 1.2})
    factors = reach_factors(asked, read)
    assert factors[INDEX["browInnerUp"]] == pytest.approx(2.0, rel=0.05)
    assert factors[INDEX["mouthSmileLeft"]] == 1.0 and factors[INDEX["eyeWideLeft"]] == 1.0  # not corrected
    assert factors[INDEX["browDownLeft"]] == 1.0  # read past what was asked: never asked for less
    assert factors[INDEX["jawOpen"]] == 1.0 and factors.shape == (N,)


def test_both_sides_alike_within_the_top():
    asked, read = _edits({"browDownLeft": 0.25, "browDownRight": 0.5, "browOuterUpLeft": 0.1, "browOuterUpRight": 0.1})
    factors = reach_factors(asked, read)
    # each side at most TOP (left 1 / 0.25 -> 3, right 1 / 0.5 -> 2), then the two averaged
    assert factors[INDEX["browDownLeft"]] == factors[INDEX["browDownRight"]] == pytest.approx(2.5, rel=0.05)
    assert factors[INDEX["browOuterUpLeft"]] == factors[INDEX["browOuterUpRight"]] == TOP


def test_a_second_round_builds_on_the_first_and_unasked_blendshapes_keep_theirs():
    asked, read = _edits({"browInnerUp": 0.8})
    previous = np.ones(N)
    previous[INDEX["browInnerUp"]] = 2.0
    previous[INDEX["browDownLeft"]] = previous[INDEX["browDownRight"]] = 1.5
    asked[:, [INDEX["browDownLeft"], INDEX["browDownRight"]]] = 0.0  # not asked for this round
    factors = reach_factors(asked, read, previous)
    assert factors[INDEX["browInnerUp"]] == pytest.approx(2.5, rel=0.05)
    assert factors[INDEX["browDownLeft"]] == factors[INDEX["browDownRight"]] == 1.5


def test_the_target_scales_the_blendshapes_change_and_keeps_the_emotion_weights():
    rng = np.random.default_rng(1)
    current, target = rng.uniform(size=CODE_SIZE), rng.uniform(size=CODE_SIZE)
    factors = np.ones(N)
    factors[INDEX["browInnerUp"]] = 2.0
    aimed = scaled_target(current, target, factors)
    change = target - current
    assert aimed[INDEX["browInnerUp"]] == pytest.approx(current[INDEX["browInnerUp"]] + 2 * change[INDEX["browInnerUp"]])
    np.testing.assert_allclose(np.delete(aimed, INDEX["browInnerUp"]), np.delete(target, INDEX["browInnerUp"]))
    assert scaled_target(current, target, None) is target or np.array_equal(scaled_target(current, target, None), target)


def test_round_trip_a_missing_file_and_damaged_ones(tmp_path):
    assert load_reach(tmp_path) is None
    factors = np.ones(N)
    factors[INDEX["browOuterUpLeft"]] = factors[INDEX["browOuterUpRight"]] = 2.25
    save_reach(factors, tmp_path)
    np.testing.assert_allclose(load_reach(tmp_path), factors)
    save_reach(np.full(N, 0.5), tmp_path)
    with pytest.raises(CheckpointError, match="between 1 and"):
        load_reach(tmp_path)
    (tmp_path / FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_reach(tmp_path)


def test_the_editor_asks_further_and_the_landmarker_reads_more_raised_brows(registry, astronaut_path):
    plain = MeshWarp.load_default()
    plain.reach = None
    further = copy.copy(plain)
    further.reach = np.ones(N)
    for name in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"):
        further.reach[INDEX[name]] = 2.0
    detector = registry.detector("yunet")
    read = {}
    for label, editor in (("plain", plain), ("further", further)):
        result = edit_photo(astronaut_path, editor, detector, ["surprise"], strength=1.0, texture=0.0)
        analysis = editor.analyse(result.photos["surprise"], [result.faces[0].face])[0]
        read[label] = analysis["blendshapes"]["browInnerUp"]
    own = plain.analyse(result.image, [result.faces[0].face])[0]["blendshapes"]["browInnerUp"]
    assert read["further"] - own > 1.3 * (read["plain"] - own) > 0


def test_the_shipped_weights_hold_fitted_factors():
    factors = MeshWarp.load_default().reach
    assert factors is not None and factors.shape == (N,) and factors.max() > 1.0
    assert all(factors[INDEX[name]] == 1.0 for name in ARKIT_NAMES if name not in CORRECTED)
    assert len(EMOTIONS) + N == CODE_SIZE


def test_a_scaled_blendshape_stays_in_the_range_the_model_learnt_from():
    current, target = np.zeros(CODE_SIZE), np.zeros(CODE_SIZE)
    current[INDEX["browInnerUp"]], target[INDEX["browInnerUp"]] = 0.1, 0.9  # an intense face
    current[INDEX["browDownLeft"]], target[INDEX["browDownLeft"]] = 0.4, 0.0
    factors = np.ones(N)
    factors[INDEX["browInnerUp"]] = factors[INDEX["browDownLeft"]] = 3.0
    aimed = scaled_target(current, target, factors)
    assert aimed[INDEX["browInnerUp"]] == 1.0 and aimed[INDEX["browDownLeft"]] == 0.0
