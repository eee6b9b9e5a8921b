"""The ensemble classifier: the weighted mean of its members, members resolved through the registry,
status naming a member without weights, a checkpoint of just its config, scored by the harness."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fexlab.eval.harness import evaluate
from fexlab.plugins.ensemble import Ensemble
from fexlab.plugins.mini_xception import MiniXception
from fexlab.preprocessing.readers import ArrayDataset
from fexlab.registry import InputError, NeedsWeightsError, Registry
from fexlab.registry.plugin import NEEDS_WEIGHTS


@pytest.fixture(scope="module")
def reg():
    return Registry()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A second, different classifier as a checkpoint folder: a small seeded mini-Xception."""
    import torch

    torch.manual_seed(3)
    folder = tmp_path_factory.mktemp("tiny") / "tiny"
    MiniXception.from_config(widths=[8, 16]).save_pretrained(folder, training_data="noise (a test)")
    return str(folder)


def _faces(n=5):
    return [np.random.default_rng([1, i]).integers(0, 256, (40, 44, 3), dtype=np.uint8) for i in range(n)]


def test_weighted_mean_of_the_members(reg, tiny):
    faces = _faces()
    a, b = reg.classifier("mini_xception"), reg.classifier(tiny)
    ensemble = Ensemble({"members": ["mini_xception", tiny], "weights": [3, 1]}, registry=reg)
    np.testing.assert_allclose(ensemble.predict(faces), 0.75 * a.predict(faces) + 0.25 * b.predict(faces), rtol=1e-5)
    equal = Ensemble({"members": ["mini_xception", tiny]}, registry=reg)
    np.testing.assert_allclose(equal.predict(faces), (a.predict(faces) + b.predict(faces)) / 2, rtol=1e-5)
    assert ensemble.embed(faces).shape == (5, a.embed(faces).shape[1] + b.embed(faces).shape[1])
    assert "mini_xception (FER2013" in ensemble.metadata["training_data"] and "noise (a test)" in \
        ensemble.metadata["training_data"]
    with pytest.raises(InputError, match="one non-negative number per member"):
        Ensemble({"members": ["mini_xception"], "weights": [1, 2]}, registry=reg)
    with pytest.raises(InputError, match="no members"):
        Ensemble.from_config().predict(faces)


def test_save_writes_only_the_config_and_a_card_naming_the_members(reg, tiny, tmp_path):
    ensemble = Ensemble({"members": ["mini_xception+flip", tiny], "weights": [1, 1]}, registry=reg)
    folder = ensemble.save_pretrained(tmp_path / "ens")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json"]
    saved = json.loads((folder / "config.json").read_text())
    assert saved["config"] == {"members": ["mini_xception+flip", tiny], "weights": [1, 1]}
    card = (folder / "README.md").read_text()
    assert "`mini_xception+flip`" in card and f"`{tiny}`" in card and "noise (a test)" in card
    loaded = reg.classifier(f"ensemble:{folder}")
    assert list(loaded.members) == ["mini_xception+flip", tiny] and loaded.members["mini_xception+flip"].test_time_flip
    np.testing.assert_allclose(loaded.predict(_faces()), ensemble.predict(_faces()), rtol=1e-5)


def test_status_names_the_member_that_needs_weights(monkeypatch, tmp_path, without_fexlab_tags):
    folder = tmp_path / "default"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"plugin": "ensemble", "config": {
        "members": ["mini_xception.fer2013", "convnext"], "weights": []}}))
    monkeypatch.setattr(Ensemble, "pretrained", {"test": str(folder)})
    status = Ensemble.status()
    assert status.state == NEEDS_WEIGHTS and status.detail.startswith("ensemble member convnext needs weights")
    with pytest.raises(NeedsWeightsError, match="ensemble member convnext needs weights"):
        Ensemble.load_default()
    (folder / "config.json").write_text(json.dumps({"plugin": "ensemble", "config": {
        "members": ["mini_xception.fer2013", "mini_xception+flip"], "weights": []}}))
    assert Ensemble.status().ready
    (folder / "config.json").write_text(json.dumps({"plugin": "ensemble", "config": {
        "members": ["mini_xception.ferplus_typo"], "weights": []}}))
    assert "no pretrained tag 'ferplus_typo'" in Ensemble.status().detail


def test_the_harness_scores_an_ensemble_like_any_classifier(reg, tiny, tmp_path):
    folder = Ensemble({"members": ["mini_xception", tiny]}, registry=reg).save_pretrained(tmp_path / "ens")
    data = ArrayDataset(np.stack(_faces(14)), np.arange(14) % 7, ["test"] * 14, name="noise faces")
    report = evaluate(["mini_xception", f"ensemble:{folder}"], data=data, out=tmp_path / "eval", n_resamples=20,
                      plots=False)
    result = report.results[1]
    assert result["plugin"] == "ensemble" and result["metrics"]["n"] == 14
    assert result["parameters"] == report.results[0]["parameters"] + sum(
        p.numel() for p in reg.classifier(tiny).torch_module().parameters())
    assert "ensemble of mini_xception" in result["training_data"]


def test_the_trainer_refuses_an_ensemble(tmp_path, capsys):
    from fexlab.cli import main

    code = main(["train", "classifier", "--plugin", "ensemble", "--data", "synthetic:n=70,size=48",
                 "--out", str(tmp_path / "run")])
    assert code == 2 and "ensemble has no weights of its own to train" in capsys.readouterr().err


def test_fit_weights_finds_the_weights_that_fix_a_member_and_writes_the_ensemble(tmp_path):
    from fexlab.plugins.ensemble.fit_weights import best_weights

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 200)
    right = np.eye(7)[labels] * 0.6 + 0.4 / 7  # always right, not very sure
    wrong = np.eye(7)[(labels + 1) % 7]  # always wrong and sure
    noisy = rng.dirichlet(np.ones(7), 200)
    weights, accuracy, _ = best_weights({"right": right, "wrong": wrong, "noisy": noisy}, labels, grid=(0, 1, 2))
    assert weights[1] == 0 and weights[0] > 0 and accuracy == 1.0
    weights, accuracy, _ = best_weights({"wrong": wrong, "right": right}, labels, grid=(0, 1))
    assert weights == (0.0, 1.0)


def test_fit_weights_command_writes_an_ensemble_of_the_kept_members(tmp_path, tiny, monkeypatch):
    import fexlab.plugins.ensemble.fit_weights as fit
    labels = np.arange(14) % 7
    probs = {"mini_xception": np.eye(7)[labels], tiny: np.eye(7)[(labels + 3) % 7]}
    monkeypatch.setattr(fit, "member_probabilities", lambda members, data, split: (probs, labels))
    fit.main(["--member", "mini_xception", "--member", tiny, "--data", "x.csv", "--out", str(tmp_path / "ens")])
    saved = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert saved["config"]["members"] == ["mini_xception"] and saved["config"]["weights"] == [1.0]
    assert "chosen on the val split of x.csv" in saved["training_data"]


def test_weighted_mean_leaves_out_a_member_that_abstains():
    from fexlab.plugins.ensemble import weighted_mean

    a = np.array([[0.7, 0.1, 0.1, 0.1, 0, 0, 0], [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1]])
    b = np.array([[0, 0, 0, 1.0, 0, 0, 0], [np.nan] * 7])
    mixed = weighted_mean([a, b], [3, 1])
    np.testing.assert_allclose(mixed[0], 0.75 * a[0] + 0.25 * b[0], rtol=1e-6)
    np.testing.assert_allclose(mixed[1], a[1], rtol=1e-6)  # b abstained: a alone
    assert np.allclose(mixed.sum(axis=1), 1)
    np.testing.assert_allclose(weighted_mean([b[1:], b[1:]], [1, 1]), np.full((1, 7), 1 / 7), rtol=1e-6)


def test_fitted_weights_score_faces_a_member_abstains_on_with_the_others():
    from fexlab.plugins.ensemble.fit_weights import best_weights

    labels = np.array([1, 2, 3, 4])
    right = np.eye(7)[labels]
    wrong = np.eye(7)[[0, 0, 0, 0]]  # a tie goes to the first emotion: the geometry must weigh more
    # geometry is right where it reads the face and abstains on the last two faces, where appearance is right
    geometry = np.vstack([right[:2], np.full((2, 7), np.nan)])
    appearance = np.vstack([wrong[:2], right[2:]])
    weights, accuracy, _ = best_weights({"appearance": appearance, "geometry": geometry}, labels)
    assert accuracy == 1.0 and weights[1] > weights[0] > 0


def test_a_fused_ensemble_falls_back_to_appearance_where_no_mesh_is_found(reg, astronaut_path, tmp_path):
    from fexlab.plugins.geometry import Geometry

    geometry = Geometry.from_config(hidden=8).save_pretrained(tmp_path / "geo", training_data="random (a test)")
    fused = Ensemble({"members": ["mini_xception", f"geometry:{geometry}"], "weights": [2, 1]}, registry=reg)
    blank = np.full((64, 64, 3), 128, np.uint8)
    appearance = fused.members["mini_xception"].predict([blank])
    np.testing.assert_allclose(fused.predict([blank]), appearance, rtol=1e-5)
    face = _faces(1)[0]
    assert np.allclose(fused.predict([face]).sum(axis=1), 1, atol=1e-5)
