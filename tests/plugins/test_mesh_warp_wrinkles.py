"""The ratio images of expression detail (mesh_warp's wrinkles): fitting, mixing, saving, on tiny seeded textures."""

from __future__ import annotations

import numpy as np
import pytest

from fexlab.plugins.mesh_warp.model import CODE_SIZE
from fexlab.plugins.mesh_warp.wrinkles import FILE, Wrinkles, detail, fit_ratios, load_wrinkles
from fexlab.registry import EMOTIONS, CheckpointError

SIZE = 32
HAPPY, ANGRY, NEUTRAL = EMOTIONS.index("happy"), EMOTIONS.index("angry"), EMOTIONS.index("neutral")
FOLD = (slice(10, 22), 20)  # a vertical dark line: rows 10-21 of column 20


def _faces(rng: np.random.Generator, label: int, count: int, *, fold: bool) -> list[np.ndarray]:
    """Log luminance of ``count`` faces: each its own light (a level and a slope across the face)
    and skin noise, and a dark fold at :data:`FOLD` when ``fold``; laid through :func:`detail`."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    valid = np.ones((SIZE, SIZE), bool)
    valid[:3], valid[-3:] = False, False  # the mesh does not reach the square's edge
    out = []
    for _ in range(count):
        light = rng.uniform(3.0, 5.0) + rng.uniform(-1.0, 1.0) * xs + rng.uniform(-1.0, 1.0) * ys
        if label == ANGRY:  # angry faces are lit from one side more strongly, which is no fold
            light = light + 0.8 * xs
        logs = light + rng.normal(0.0, 0.03, (SIZE, SIZE))
        if fold:
            logs[FOLD] -= 0.3
        out.append(detail(logs, valid))
    return out


def _fitted(seed: int = 0, gate: float = 3.0):
    rng = np.random.default_rng(seed)
    textures, labels = [], []
    for label, fold in ((NEUTRAL, False), (HAPPY, True), (ANGRY, False)):
        faces = _faces(rng, label, 40, fold=fold)
        textures += faces
        labels += [label] * len(faces)
    return fit_ratios(np.asarray(textures), np.asarray(labels), gate=gate)


def test_a_fold_the_emotions_faces_share_is_recovered_where_it_is_and_nothing_elsewhere():
    ratios, t = _fitted()
    happy = ratios[HAPPY]
    assert happy[FOLD].mean() < -0.2  # most of the fold's -0.3
    elsewhere = np.ones((SIZE, SIZE), bool)
    elsewhere[8:24, 15:26] = False  # the fold and the high-pass's halo beside it
    assert np.abs(happy[elsewhere]).max() < 0.02
    assert np.abs(t[HAPPY][FOLD]).min() > 10
    assert np.all(ratios[NEUTRAL] == 0)
    for k in range(len(EMOTIONS)):
        if k not in (HAPPY, ANGRY, NEUTRAL):  # no faces: no ratio image
            assert np.all(ratios[k] == 0)


def test_the_faces_own_light_does_not_leak_into_the_ratio():
    ratios, _ = _fitted()
    # angry faces differ from neutral ones only by their light (a slope of 0.8 across the face)
    assert np.abs(ratios[ANGRY]).max() < 0.02


def test_detail_that_faces_do_not_share_is_shrunk_toward_zero():
    rng = np.random.default_rng(3)
    neutral = _faces(rng, NEUTRAL, 12, fold=False)
    happy = _faces(rng, HAPPY, 12, fold=True)
    for k, face in enumerate(happy):  # each face's own crease at column 8: darker or lighter, no rule
        face[10:22, 8] += 0.15 * (1 if k % 3 == 0 else -1) * rng.uniform(0.5, 1.5)
    labels = np.array([NEUTRAL] * 12 + [HAPPY] * 12)
    raw, _ = fit_ratios(np.asarray(neutral + happy), labels, gate=0.0)
    gated, _ = fit_ratios(np.asarray(neutral + happy), labels, gate=3.0)
    assert np.abs(gated[HAPPY][10:22, 8]).mean() < 0.35 * np.abs(raw[HAPPY][10:22, 8]).mean()
    assert gated[HAPPY][FOLD].mean() < 0.9 * raw[HAPPY][FOLD].mean()  # the shared fold stays


def test_sources_are_compared_each_with_its_own_neutral_faces():
    rng = np.random.default_rng(4)
    photos = _faces(rng, NEUTRAL, 20, fold=False) + _faces(rng, HAPPY, 20, fold=True)
    crops = [face + 0.5 * (np.arange(SIZE) % 2)[None, :] for face in  # another camera's own pattern
             _faces(rng, NEUTRAL, 20, fold=False) + _faces(rng, HAPPY, 20, fold=True)]
    labels = np.array(([NEUTRAL] * 20 + [HAPPY] * 20) * 2)
    sources = np.repeat([0, 1], 40)
    ratios, _ = fit_ratios(np.asarray(photos + crops), labels, sources)
    assert ratios[HAPPY][FOLD].mean() < -0.2
    assert np.abs(ratios[HAPPY][:, :16]).max() < 0.02


def test_the_mask_keeps_only_the_skin():
    mask = np.ones((SIZE, SIZE))
    mask[:, 18:] = 0.0  # the fold's column is an eye
    rng = np.random.default_rng(5)
    textures = _faces(rng, NEUTRAL, 10, fold=False) + _faces(rng, HAPPY, 10, fold=True)
    ratios, _ = fit_ratios(np.asarray(textures), np.array([NEUTRAL] * 10 + [HAPPY] * 10), mask=mask)
    assert np.all(ratios[HAPPY][:, 18:] == 0)


def _code(weights: dict[str, float]) -> np.ndarray:
    code = np.zeros(CODE_SIZE)
    for name, value in weights.items():
        code[CODE_SIZE - len(EMOTIONS) + EMOTIONS.index(name)] = value
    return code


def _wrinkles(seed: int = 1) -> Wrinkles:
    rng = np.random.default_rng(seed)
    ratios = rng.normal(0.0, 0.05, (len(EMOTIONS), 16, 16)).astype(np.float32)
    ratios[NEUTRAL] = 0.0
    return Wrinkles(ratios, rng.integers(0, 100, (len(EMOTIONS), 2)))


def test_the_emotion_weights_of_the_codes_mix_the_ratio_images():
    wrinkles = _wrinkles()
    own = np.random.default_rng(2).uniform(size=CODE_SIZE)
    own[-len(EMOTIONS):] = 0.0  # a face's own code: blendshapes, no emotion weight
    assert np.all(wrinkles.shade(own, own) == 0)
    blendshapes_only = own.copy()
    blendshapes_only[:5] += 0.3
    assert np.all(wrinkles.shade(own, blendshapes_only) == 0)
    np.testing.assert_allclose(wrinkles.shade(own, own + _code({"happy": 1.0})), wrinkles.ratios[HAPPY])
    np.testing.assert_allclose(wrinkles.shade(own, own + _code({"angry": 0.5})), 0.5 * wrinkles.ratios[ANGRY])
    np.testing.assert_allclose(wrinkles.shade(own + _code({"angry": 1.0}), own + _code({"happy": 1.0})),
                               wrinkles.ratios[HAPPY] - wrinkles.ratios[ANGRY], atol=1e-12)


def test_round_trip_and_clear_errors(tmp_path):
    wrinkles = _wrinkles()
    wrinkles.save(tmp_path)
    back = Wrinkles.load(tmp_path)
    np.testing.assert_allclose(back.ratios, wrinkles.ratios, atol=1e-3)  # fp16
    np.testing.assert_array_equal(back.faces, wrinkles.faces)
    assert back.texture_size == 16
    assert load_wrinkles(tmp_path) is not None
    assert load_wrinkles(tmp_path / "nothing") is None  # the editor falls back to its linear shading
    with pytest.raises(CheckpointError, match="has no wrinkles.safetensors"):
        Wrinkles.load(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        Wrinkles.load(tmp_path / "bad")
    with pytest.raises(CheckpointError, match="shape"):
        Wrinkles(np.zeros((3, 16, 16)), np.zeros((len(EMOTIONS), 2)))


def test_the_editor_shades_emotion_edits_with_the_ratio_images(tmp_path):
    from fexlab.plugins.mesh_warp.plugin import MeshWarp

    editor = MeshWarp()
    own = np.zeros(CODE_SIZE)
    smile = own.copy()
    smile[:3] = 0.5
    linear = editor.model.shade(own, smile)
    np.testing.assert_array_equal(editor.shade(own, smile), linear)  # no wrinkles: the linear shading
    editor.wrinkles = _wrinkles()
    np.testing.assert_array_equal(editor.shade(own, smile), linear)  # blendshapes alone: still linear
    happy = smile + _code({"happy": 1.0})
    np.testing.assert_allclose(editor.shade(own, happy), editor.wrinkles.ratios[HAPPY])
    editor.save_weights(tmp_path)
    assert (tmp_path / FILE).is_file()
