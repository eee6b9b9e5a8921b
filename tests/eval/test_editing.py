"""Metrics of face editors (eval.editing) and the harness's editor path: the judge's target
accuracy on real faces edited to each other emotion, identity kept, reconstruction, leaderboard."""

import json

import numpy as np
import pytest

from fexlab.eval.editing import editing_metrics
from fexlab.eval.harness import evaluate
from fexlab.eval.results import leaderboard, leaderboard_markdown
from fexlab.registry import EMOTIONS, InputError, Registry
from tests.stargan_tiny import tiny_stargan


class TargetReader:
    """A stand-in judge that reads the emotion from the mean brightness band of the face, so
    the expected target accuracy is known from the pixels."""

    def predict(self, faces):
        probs = np.full((len(faces), 7), 0.01, np.float32)
        for i, face in enumerate(faces):
            probs[i, min(6, int(np.asarray(face).mean() // 37))] = 1.0
        return probs / probs.sum(1, keepdims=True)

    def embed(self, faces):
        return np.stack([np.asarray(f, np.float32).reshape(-1)[:16] + 1 for f in faces])


class BrightnessEditor:
    """An exact editor: the face edited to emotion k is a flat face of brightness band k."""

    name = "bands"
    options = {"image": None}

    def edits(self):
        return True

    def generate(self, emotions, seed=None, image=None):
        from PIL import Image

        return [Image.fromarray(np.full((16, 16, 3), 37 * EMOTIONS.index(e) + 18, np.uint8)) for e in emotions]


def _faces(n=14):
    labels = np.arange(n) % 7
    return [np.full((16, 16, 3), 37 * k + 18, np.uint8) for k in labels], labels


def test_a_perfect_editor_scores_every_target_and_reconstructs_exactly():
    faces, labels = _faces()
    m = editing_metrics(BrightnessEditor(), TargetReader(), faces, labels, n_resamples=50)
    assert m["judge_accuracy"] == pytest.approx(1.0) and min(m["per_target_recall"].values()) == 1.0
    assert m["n_edits"] == 14 * 6 and m["reconstruction_l1"] == pytest.approx(0.0, abs=1e-6)
    assert m["reconstruction_ssim"] == pytest.approx(1.0, abs=1e-3)
    assert m["ssim"] < 0.9  # a flat face of another brightness is not the input
    assert m["real_accuracy"] == pytest.approx(1.0)


def test_an_editor_that_changes_nothing_keeps_identity_and_misses_every_target():
    import torch

    editor = tiny_stargan()
    with torch.no_grad():
        editor.torch_module().generator.attention.bias.fill_(-60.0)
        editor.torch_module().generator.attention.weight.zero_()
    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 255, (16, 16, 3)).astype(np.uint8) for _ in range(7)]
    faces = [np.repeat(f[..., :1], 3, axis=2) for f in faces]  # gray, as the model sees them
    m = editing_metrics(editor, TargetReader(), faces, np.arange(7), n_resamples=50)
    assert m["ssim"] == pytest.approx(1.0, abs=1e-3) and m["judge_feature_distance"] == pytest.approx(0.0, abs=1e-3)
    assert m["reconstruction_l1"] == pytest.approx(0.0, abs=1e-3)
    assert len(m["examples"]) == 7 and all(len(row) == 1 + 7 for row in m["examples"].values())


def test_bad_requests_are_clear():
    faces, labels = _faces(3)
    with pytest.raises(InputError, match="as many labels as faces"):
        editing_metrics(BrightnessEditor(), TargetReader(), faces, labels[:2])
    from fexlab.plugins.cgan import CGAN

    with pytest.raises(InputError, match="does not edit faces"):
        editing_metrics(CGAN.from_config(g_width=4, z_dim=8), TargetReader(), faces, labels)


def test_the_harness_scores_an_editor_beside_the_judge_on_real_faces(tmp_path):
    folder = tmp_path / "tiny"
    tiny_stargan().save_pretrained(folder, training_data="random weights (test)")
    report = evaluate([], [f"stargan:{folder}"], data="synthetic:n=280,size=48", out=tmp_path / "out",
                      judge="mini_xception", n_per_emotion=2, registry=Registry(), n_resamples=50)
    [result] = report.results
    assert result["kind"] == "editor" and result["judge"] == "mini_xception"
    metrics = result["metrics"]
    assert metrics["n_faces"] == 14 and metrics["n_edits"] == 14 * 6
    assert 0 <= metrics["ssim"] <= 1 and metrics["judge_on_real"]["n"] == 28
    assert set(metrics["per_target_recall"]) == set(EMOTIONS)
    assert {"stargan:" + str(folder) + " judge confusion", "stargan:" + str(folder) + " edits"} <= set(report.plots)
    saved = json.loads(report.result_files[0].read_text())
    assert "edits" not in saved["metrics"]
    frame = leaderboard(tmp_path / "out" / "results")
    row = frame.iloc[0]
    assert row["kind"] == "editor" and row["target_accuracy"] == pytest.approx(metrics["judge_accuracy"])
    assert "Face editors" in leaderboard_markdown(frame)


class MissesFear(BrightnessEditor):
    """Draws every emotion's band but fear's: a face edited to fear comes out angry."""

    def generate(self, emotions, seed=None, image=None):
        return super().generate(["angry" if e == "fear" else e for e in emotions], seed, image)


def test_each_target_recall_sits_beside_the_judges_recall_of_real_faces_of_that_emotion():
    faces, labels = _faces(14)
    sad, neutral = EMOTIONS.index("sad"), EMOTIONS.index("neutral")
    faces[sad] = faces[neutral].copy()  # one of the two real sad faces looks neutral to the judge
    m = editing_metrics(MissesFear(), TargetReader(), faces, labels, n_resamples=20)
    table = m["target_recall_vs_real"]
    assert list(table) == list(EMOTIONS)
    assert table["fear"] == {"edits": 0.0, "real": 1.0, "n_edits": 12, "n_real": 2}
    assert table["sad"] == {"edits": 1.0, "real": 0.5, "n_edits": 12, "n_real": 2}
    assert table["happy"]["edits"] == table["happy"]["real"] == 1.0
    assert {e: row["edits"] for e, row in table.items()} == m["per_target_recall"]


def test_realism_compares_the_edits_to_an_emotion_with_real_faces_of_it():
    faces, labels = _faces(14)
    judge = TargetReader()
    exact = editing_metrics(BrightnessEditor(), judge, faces, labels, features=judge, n_resamples=20)
    assert exact["realism_features"] == "TargetReader"
    assert set(exact["realism_fid_per_target"]) == set(EMOTIONS)
    assert max(exact["realism_fid_per_target"].values()) == pytest.approx(0.0, abs=1e-6)  # edits look like real ones
    missed = editing_metrics(MissesFear(), judge, faces, labels, features=judge, n_resamples=20)
    assert missed["realism_fid_per_target"]["fear"] > 100
    assert missed["realism_fid_per_target"]["happy"] == pytest.approx(0.0, abs=1e-6)
    assert missed["realism_fid"] > exact["realism_fid"]
    without = editing_metrics(BrightnessEditor(), judge, faces, labels, n_resamples=20)
    assert without["realism_fid"] is None and without["realism_features"] is None


def test_realism_is_read_against_the_unedited_faces_and_two_halves_of_real_faces():
    from fexlab.eval.editing import realism_control

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (len(EMOTIONS), 16))
    labels = np.repeat(np.arange(len(EMOTIONS)), 60)
    real = centres[labels] + rng.normal(0, 1, (len(labels), 16))
    sources = np.repeat(real, len(EMOTIONS) - 1, axis=0)  # each face edited to the six other emotions
    targets = np.array([t for label in labels for t in range(len(EMOTIONS)) if t != label])
    convincing = centres[targets] + rng.normal(0, 1, sources.shape)  # edits that land among real faces
    unchanged = sources + rng.normal(0, 0.01, sources.shape)  # edits that change nothing
    good = realism_control(real, labels, convincing, sources, targets)
    bad = realism_control(real, labels, unchanged, sources, targets)
    for emotion in (*EMOTIONS, "overall"):
        assert good[emotion]["n"] == (210 if emotion == "overall" else 30)
        assert good[emotion]["fd_unedited"] > 3 * good[emotion]["fd_real_vs_real"]
        assert good[emotion]["toward_real"] > 0.8 and bad[emotion]["toward_real"] < 0.1
        assert good[emotion]["probe_auc_edited"] < 0.75 < good[emotion]["probe_auc_unedited"]
        assert bad[emotion]["probe_auc_edited"] > 0.75
    few = realism_control(real, labels, convincing, sources, targets, min_faces=31)
    assert few["happy"] is None and few["overall"] is None


def test_realism_control_comes_with_the_editing_metrics():
    faces, labels = _faces(14)
    judge = TargetReader()
    metrics = editing_metrics(BrightnessEditor(), judge, faces, labels, features=judge, n_resamples=20)
    assert set(metrics["realism_control"]) == {*EMOTIONS, "overall"}
    assert metrics["realism_control"]["happy"] is None  # two real faces of each emotion: too few to compare
    assert editing_metrics(BrightnessEditor(), judge, faces, labels, n_resamples=20)["realism_control"] is None
