"""The classifier trainer's objective: soft targets, distillation and mixup / cutmix, each against a
value computed by hand, and soft targets and a teacher end to end through ``fexlab train classifier``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fexlab.cli import main
from fexlab.preprocessing.ferplus import VOTE_COLUMNS
from fexlab.trainers.classifier.objectives import ClassifierLoss, mix_batch, soften

IDENTITY = torch.arange(7)


def _logits(seed=0, n=5, k=7):
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed))


def _soft(seed=1, n=5):
    return torch.softmax(3 * torch.randn(n, 7, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_soft_target_loss_is_the_cross_entropy_against_the_distribution():
    logits, soft = _logits(), _soft()
    labels = soft.argmax(1)
    by_hand = -(soft * torch.log_softmax(logits, 1)).sum(1).mean()
    loss = ClassifierLoss(IDENTITY, 7)(logits, labels, {"soft": soft})
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    weight = torch.linspace(0.5, 2.0, 7)
    weighted = ClassifierLoss(IDENTITY, 7, weight=weight)(logits, labels, {"soft": soft})
    by_hand = -(soft * weight * torch.log_softmax(logits, 1)).sum() / (soft * weight).sum()
    assert weighted.item() == pytest.approx(by_hand.item(), rel=1e-5)
    # a one-hot distribution gives exactly the loss of its label, weights and smoothing included
    one_hot = torch.nn.functional.one_hot(labels, 7).float()
    loss = ClassifierLoss(IDENTITY, 7, weight=weight, label_smoothing=0.1)
    assert loss(logits, labels, {"soft": one_hot}).item() == pytest.approx(loss(logits, labels).item(), rel=1e-5)


def test_targets_reach_a_model_with_its_own_label_order_and_fewer_labels():
    # the model's outputs are (neutral, happy, sad, angry): the outputs of canonical 6, 3, 4, 0; no disgust, fear, surprise
    lookup = torch.tensor([3, -1, -1, 1, 2, -1, 0])
    soft = torch.tensor([[0.5, 0.1, 0.1, 0.2, 0.0, 0.0, 0.1]])
    mapped = ClassifierLoss(lookup, 4).to_outputs(soft)
    np.testing.assert_allclose(mapped.numpy(), [[0.1 / 0.8, 0.2 / 0.8, 0.0, 0.5 / 0.8]], rtol=1e-6)


def test_distillation_is_t_squared_kl_of_the_softened_outputs():
    logits, teacher, labels, t = _logits(), _soft(2), torch.zeros(5, dtype=torch.long), 3.0
    soft_teacher = torch.softmax(torch.log(teacher) / t, 1)
    student = torch.log_softmax(logits / t, 1)
    kl = (soft_teacher * (torch.log(soft_teacher) - student)).sum(1).mean() * t * t
    loss = ClassifierLoss(IDENTITY, 7, distill_weight=0.25, temperature=t)
    assert loss.distill_loss(logits, teacher).item() == pytest.approx(kl.item(), rel=1e-5)
    label = torch.nn.functional.cross_entropy(logits, labels)
    total = loss(logits, labels, {"teacher": teacher})
    assert total.item() == pytest.approx((0.75 * label + 0.25 * kl).item(), rel=1e-5)
    # softening probabilities is softening their logits
    raw = _logits(3)
    np.testing.assert_allclose(soften(torch.softmax(raw, 1), t), torch.softmax(raw / t, 1), rtol=1e-5)


def test_distillation_pulls_the_student_toward_the_teacher():
    torch.manual_seed(0)
    inputs = torch.randn(32, 10)
    teacher = torch.softmax(torch.randn(32, 7) * 2, 1)
    labels = torch.randint(0, 7, (32,))

    def kl_after(distill_weight):
        torch.manual_seed(1)
        student = torch.nn.Linear(10, 7)
        optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
        loss_fn = ClassifierLoss(IDENTITY, 7, distill_weight=distill_weight, temperature=2.0)
        for _ in range(50):
            optimizer.zero_grad()
            loss_fn(student(inputs), labels, {"teacher": teacher}).backward()
            optimizer.step()
        with torch.no_grad():
            return torch.nn.functional.kl_div(torch.log_softmax(student(inputs), 1), teacher, reduction="batchmean").item()

    assert kl_after(0.9) < 0.5 * kl_after(0.0)


def test_mixup_blends_the_batch_and_the_loss_of_both_targets():
    inputs = torch.arange(4 * 3 * 8 * 8, dtype=torch.float32).reshape(4, 3, 8, 8)
    mixed, mix = mix_batch(inputs, "mixup", 0.4, (0, 1, 2, 0))
    assert not torch.equal(mixed, inputs) and 0 < mix.lam < 1 and sorted(mix.perm.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(mixed, mix.lam * inputs + (1 - mix.lam) * inputs[mix.perm])
    again, same = mix_batch(inputs, "mixup", 0.4, (0, 1, 2, 0))
    assert torch.equal(again, mixed) and same.lam == mix.lam  # seeded per batch
    assert mix_batch(inputs, "none", 0.4, (0,)) == (inputs, None)
    logits, labels = _logits(n=4), torch.tensor([0, 1, 2, 3])
    loss = ClassifierLoss(IDENTITY, 7)
    blended = mix.lam * loss(logits, labels) + (1 - mix.lam) * loss(logits, labels[mix.perm])
    assert loss(logits, labels, mix=mix).item() == pytest.approx(blended.item(), rel=1e-6)


def test_cutmix_pastes_a_box_whose_share_is_one_minus_lam():
    inputs = torch.stack([torch.full((1, 16, 16), float(i)) for i in range(6)])
    for seed in range(5):
        mixed, mix = mix_batch(inputs, "cutmix", 1.0, (seed,))
        own = (mixed == inputs).float().mean(dim=(1, 2, 3))
        moved = mix.perm != torch.arange(6)
        assert torch.allclose(own[moved], torch.tensor(mix.lam)) and (own[~moved] == 1).all()


def _write_votes(root, rng, n=14):
    rows = ["image," + ",".join(VOTE_COLUMNS)]
    for split in ("train", "val"):
        for k in range(n):
            name = f"{split}/{k}.png"
            (root / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / name)
            counts = np.zeros(len(VOTE_COLUMNS), dtype=int)
            counts[k % 7] += 6
            counts[(k + 1) % 7] += 4
            rows.append(name + "," + ",".join(map(str, counts)))
    (root / "ferplus_votes.csv").write_text("\n".join(rows) + "\n")
    return root / "ferplus_votes.csv"


def _write_legend(root, rng, n=21):
    (root / "images").mkdir(parents=True)
    rows = ["user.id,image,emotion"]
    for k in range(n):
        Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(root / "images" / f"{k}.jpg")
        rows.append(f"1,{k}.jpg,{['anger', 'happiness', 'sadness'][k % 3]}")
    (root / "legend.csv").write_text("\n".join(rows) + "\n")
    return root / "legend.csv"


@pytest.mark.slow
def test_two_sources_soft_targets_cutmix_and_a_teacher_through_the_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    votes, legend = _write_votes(tmp_path / "fer", rng), _write_legend(tmp_path / "mux", rng)
    source = f"{votes}+{legend}"
    run = tmp_path / "run"
    code = main(["train", "classifier", "--plugin", "mini_xception", "--model", "widths=[8,16]", "--data", source,
                 "--data-options", "votes=soft", "--epochs", "1", "--batch-size", "8", "--out", str(run),
                 "--no-augment", "--mix", "cutmix", "--distill", "mini_xception.fer2013", "--distill-weight", "0.3"])
    out = capsys.readouterr().out
    assert code == 0 and "soft targets" in out and "distilled from mini_xception.fer2013" in out
    resolved = json.loads((run / "train_config.json").read_text())["resolved"]
    assert "cutmix (alpha 0.2)" in resolved["objective"] and "teacher's val accuracy" in resolved["objective"]
    assert [s["votes"] for s in resolved["data_info"]["sources"][:1]] == ["soft"]
    assert "--distill mini_xception.fer2013" in resolved["command"] and "votes=" in resolved["command"]
    assert resolved["split_sizes"]["train"] == 14 + 15 and resolved["split_sizes"]["val"] == 14 + 3
    card = (run / "best" / "README.md").read_text()
    assert f"FER+ vote distributions {votes}" in card and f"image list {legend}" in card
