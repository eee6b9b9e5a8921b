"""The harness end to end on the synthetic set: two classifiers, one generator, results, leaderboard."""

import json

import numpy as np
import pytest

from fexlab.eval.harness import data_fingerprint, evaluate
from fexlab.eval.results import leaderboard, load_results
from fexlab.registry import EMOTIONS, InputError, Registry

DATA = "synthetic:n=280,size=48"  # 28 test faces, 4 per emotion
FAST = {"n_resamples": 100, "kid_subsets": 10}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A tiny ViT with seeded random weights, saved as a fexlab checkpoint."""
    import torch

    from fexlab.plugins.vit import ViT

    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    vit = ViT.from_config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    vit.save_pretrained(root / "vit", training_data="none: random initialisation")
    return {"vit": f"vit:{root / 'vit'}", "generator": "facs_renderer"}


@pytest.fixture(scope="module")
def first_run(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    calls = []
    report = evaluate(
        ["mini_xception", checkpoints["vit"]], [checkpoints["generator"]], data=DATA, out=out, n_per_emotion=3,
        seed=0, registry=Registry(), progress=lambda fraction, message: calls.append((fraction, message)), **FAST,
    )
    return out, report, calls


@pytest.mark.slow
def test_the_harness_scores_two_classifiers_and_a_generator_on_the_synthetic_set(first_run, checkpoints):
    out, report, calls = first_run
    by_model = {r["model"]: r for r in load_results(out / "results")}
    assert set(by_model) == {"mini_xception", checkpoints["vit"], checkpoints["generator"]}
    for result in by_model.values():
        assert result["data"]["synthetic"] is True and "SYNTHETIC" in result["data"]["name"]
        assert result["data"]["split"] == "test" and result["data"]["n"] == 28 and result["seed"] == 0
        assert {"torch", "scikit-learn", "torchmetrics", "fexlab"} <= set(result["versions"])
        assert result["speed"]["throughput_per_s"] > 0

    assert len({r["data"]["fingerprint"] for r in by_model.values()}) == 1

    mini = by_model["mini_xception"]
    assert mini["parameters"] == 56951
    assert mini["training_data"].startswith("FER2013")
    assert np.sum(mini["metrics"]["confusion"]) == 28
    assert 0 <= mini["metrics"]["accuracy"] <= 1
    low, high = mini["metrics"]["accuracy_ci"]
    assert low <= mini["metrics"]["accuracy"] <= high
    assert set(mini["metrics"]["mcnemar"]) == {checkpoints["vit"]}
    assert by_model[checkpoints["vit"]]["checkpoint"].endswith("vit")

    renderer = by_model["facs_renderer"]
    assert renderer["parameters"] is None and renderer["checkpoint"] is None  # a renderer has no weights
    assert renderer["judge"] == "mini_xception" and renderer["metrics"]["n_generated"] == 21
    assert np.sum(renderer["metrics"]["expression"]["confusion"]) == 21
    assert set(renderer["metrics"]["fid"]) == set(EMOTIONS) | {"overall"}
    assert renderer["metrics"]["fid"]["overall"] > 0 and len(renderer["seeds"]) == 3

    # leaderboard files and plots
    text = (out / "leaderboard.md").read_text()
    assert "SYNTHETIC" in text and "mini_xception" in text and checkpoints["generator"] in text
    assert len((out / "leaderboard.csv").read_text().strip().splitlines()) == 4
    for name in ("mini-xception-confusion.png", "classifiers-f1.png", "classifiers-reliability.png", "data-balance.png"):
        assert (out / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    assert any(p.name.endswith("-samples.png") for p in report.plots.values())

    # progress only moves forward and ends at 1
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0) and len(calls) > 5


@pytest.mark.slow
def test_a_rerun_repeats_the_numbers_and_earlier_results_stay_on_the_leaderboard(first_run, checkpoints, tmp_path):
    out, report, _ = first_run
    again = evaluate([], [checkpoints["generator"]], judge="mini_xception", data=DATA, out=tmp_path, n_per_emotion=3,
                     seed=0, registry=Registry(), plots=False, **FAST)
    before = next(r for r in report.results if r["kind"] == "generator")["metrics"]
    after = again.results[0]["metrics"]
    assert json.dumps(after, sort_keys=True, default=str) == json.dumps(before, sort_keys=True, default=str)

    evaluate(["mini_xception"], data=DATA, out=out, seed=1, registry=Registry(), plots=False, **FAST)
    board = leaderboard(out / "results")
    assert len(board) == 4
    assert sorted(board[board["model"] == "mini_xception"]["seed"]) == [0, 1]
    assert list(board["kind"]) == ["classifier"] * 3 + ["generator"]


def test_bad_requests_fail_before_any_work(tmp_path):
    with pytest.raises(InputError, match="nothing to evaluate"):
        evaluate([], [], data=DATA, out=tmp_path)
    with pytest.raises(InputError, match="split"):
        evaluate(["mini_xception"], data=DATA, split="holdout", out=tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write"):
        evaluate(["mini_xception"], data=DATA, out=blocker / "sub")


def test_the_data_fingerprint_changes_when_a_face_changes():
    from fexlab.preprocessing.readers import ArrayDataset

    faces = np.zeros((5, 8, 8, 3), np.uint8)
    same = data_fingerprint(ArrayDataset(faces.copy(), [0, 1, 2, 3, 4]))
    assert same == data_fingerprint(ArrayDataset(faces.copy(), [0, 1, 2, 3, 4])) and len(same) == 12
    edited = faces.copy()
    edited[2, 4, 4] = 255
    assert data_fingerprint(ArrayDataset(edited, [0, 1, 2, 3, 4])) != same
    assert data_fingerprint(ArrayDataset(faces, [0, 1, 2, 3, 3])) != same


def _band_split():
    """Band faces of every emotion in a test split; two sad-labelled faces show the happy band,
    so the band judge is right on all but those two."""
    from fexlab.preprocessing.readers import ArrayDataset
    from tests.eval.bands import band_face

    counts = [4, 3, 5, 6, 5, 4, 3]
    labels = [e for e, n in enumerate(counts) for _ in range(n)]
    sad, happy = EMOTIONS.index("sad"), EMOTIONS.index("happy")
    shown_happy = [k for k, label in enumerate(labels) if label == sad][:2]
    drawn = [happy if k in shown_happy else label for k, label in enumerate(labels)]
    images = [band_face(e, 500 + k) for k, e in enumerate(drawn)]
    return ArrayDataset(images, labels, ["test"] * len(labels), name="band faces (SYNTHETIC)", synthetic=True), counts


def test_generators_are_reported_beside_the_judge_on_the_real_faces_of_the_split(tmp_path):
    from tests.eval.bands import band_registry

    data, counts = _band_split()
    calls = []
    report = evaluate([], ["band_generator", "happy_only"], judge="band_judge", data=data, out=tmp_path,
                      n_per_emotion=3, registry=band_registry(), plots=False,
                      progress=lambda fraction, message: calls.append(fraction), **FAST)
    faithful, blind = (r["metrics"] for r in report.results)
    real = faithful["judge_on_real"]
    assert real == blind["judge_on_real"] and real["n"] == sum(counts) == 30
    assert real["accuracy"] == pytest.approx(28 / 30)
    sad_recall = (counts[EMOTIONS.index("sad")] - 2) / counts[EMOTIONS.index("sad")]
    assert real["per_class"]["sad"]["recall"] == pytest.approx(sad_recall)
    assert real["balanced_accuracy"] == pytest.approx((6 + sad_recall) / 7)
    assert faithful["expression_accuracy"] == 1.0 and blind["expression_accuracy"] == pytest.approx(1 / 7)
    assert blind["fid"]["overall"] > 10 * faithful["fid"]["overall"]  # against the split's real faces

    board = report.leaderboard.set_index("model")
    assert board.loc["band_generator", "judge_real_accuracy"] == pytest.approx(28 / 30)
    assert board.loc["happy_only", "judge_real_balanced_accuracy"] == pytest.approx((6 + sad_recall) / 7)
    assert board.loc["band_generator", "expression_min_recall"] == 1.0
    assert board.loc["happy_only", "expression_min_recall"] == 0.0
    assert "judge_real_accuracy" in report.markdown.read_text()
    assert calls == sorted(calls) and calls[-1] == pytest.approx(1.0)


def test_a_judge_also_scored_as_a_classifier_gives_the_same_real_face_figures(tmp_path):
    from tests.eval.bands import band_registry

    data, _ = _band_split()
    alone = evaluate([], ["band_generator"], judge="band_judge", data=data, out=tmp_path / "a", n_per_emotion=3,
                     registry=band_registry(), plots=False, **FAST)
    both = evaluate(["band_judge"], ["band_generator"], data=data, out=tmp_path / "b", n_per_emotion=3,
                    registry=band_registry(), plots=False, **FAST)
    classifier, generator = both.results
    assert generator["judge"] == "band_judge"
    assert generator["metrics"]["judge_on_real"] == alone.results[0]["metrics"]["judge_on_real"]
    assert generator["metrics"]["judge_on_real"]["accuracy"] == classifier["metrics"]["accuracy"]


def test_faces_most_annotators_agree_on_are_scored_apart_as_posed_like(tmp_path):
    from fexlab.eval.results import leaderboard_markdown
    from fexlab.preprocessing.readers import ArrayDataset

    rng = np.random.default_rng(0)
    labels = np.arange(60) % len(EMOTIONS)
    agreement = np.where(np.arange(60) < 20, 0.9, 0.5)  # the first 20 faces: 9 of 10 votes agree
    data = ArrayDataset(rng.integers(0, 256, (60, 48, 48, 3), dtype=np.uint8), labels, ["val"] * 60,
                        name="voted faces (a test)", agreement=agreement)
    report = evaluate(["mini_xception"], data=data, out=tmp_path, split="val", registry=Registry(), plots=False,
                      n_resamples=50)
    metrics = report.results[0]["metrics"]
    posed = metrics["posed_like"]
    predicted = report.results[0]["metrics"]["confusion"]
    assert posed["n"] == 20 and posed["min_agreement"] == 0.8 and 0 <= posed["accuracy"] <= 1
    assert sum(map(sum, predicted)) == 60
    assert "posed_like_accuracy" in leaderboard_markdown(report.leaderboard)
    plain = evaluate(["mini_xception"], data=ArrayDataset(data.stacked(), labels, ["val"] * 60), out=tmp_path / "plain",
                     split="val", registry=Registry(), plots=False, n_resamples=50)
    assert "posed_like" not in plain.results[0]["metrics"]
    assert "posed_like_accuracy" not in leaderboard_markdown(plain.leaderboard)
