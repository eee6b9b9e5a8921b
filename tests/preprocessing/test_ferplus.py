"""FER+ votes: FER+'s own majority rule, vote distributions, contempt as a declared mapping, and
both layouts (the votes table with image paths, and fer2013new.csv beside Kaggle's fer2013.csv)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fexlab.preprocessing.ferplus import VOTE_COLUMNS, ferplus_labels
from fexlab.preprocessing.readers import open_dataset
from fexlab.registry import EMOTIONS, InputError

E = {name: i for i, name in enumerate(EMOTIONS)}


def votes(**counts: int) -> list[int]:
    return [counts.get(column, 0) for column in VOTE_COLUMNS]


#: (votes, majority label or drop reason, soft target over the seven emotions or drop reason)
CASES = [
    (votes(happiness=6, surprise=2, sadness=1, unknown=1), "happy", {"happy": 0.75, "surprise": 0.25}),
    # single votes are outliers: 5 of the 5 remaining votes is a majority, 5 of 10 would not be
    (votes(neutral=5, happiness=1, sadness=1, anger=1, surprise=1, fear=1), "neutral", {"neutral": 1.0}),
    (votes(neutral=4, sadness=4, anger=2), "no majority", {"neutral": 0.4, "sad": 0.4, "angry": 0.2}),
    (votes(unknown=8, neutral=2), "unknown wins", "unknown wins"),
    (votes(NF=10), "not a face wins", "not a face wins"),
    (votes(contempt=6, disgust=3, anger=1), "contempt wins", "contempt wins"),
    (votes(unknown=4, neutral=3, happiness=3), "no majority", {"neutral": 0.5, "happy": 0.5}),
]


def _expected_soft(spec: dict[str, float]) -> np.ndarray:
    target = np.zeros(len(EMOTIONS), dtype=np.float32)
    for emotion, share in spec.items():
        target[E[emotion]] = share
    return target


def test_majority_labels_follow_ferplus_rule_and_count_what_is_dropped():
    keep, labels, targets, dropped = ferplus_labels(np.array([c[0] for c in CASES]), mode="majority")
    wanted = [c[1] for c in CASES]
    assert keep.tolist() == [w in E for w in wanted] and targets is None
    assert [EMOTIONS[i] for i in labels] == [w for w in wanted if w in E]
    assert dropped == {"unknown wins": 1, "not a face wins": 1, "contempt wins": 1, "no majority": 2}


def test_soft_targets_are_the_remaining_votes_over_the_seven_emotions():
    keep, labels, targets, dropped = ferplus_labels(np.array([c[0] for c in CASES]), mode="soft")
    kept = [c[2] for c in CASES if isinstance(c[2], dict)]
    assert keep.tolist() == [isinstance(c[2], dict) for c in CASES]
    np.testing.assert_allclose(targets, np.stack([_expected_soft(s) for s in kept]), atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    # the label is the most voted emotion; a tie goes to the first in EMOTIONS order (sad before neutral)
    assert [EMOTIONS[i] for i in labels] == ["happy", "neutral", "sad", "happy"]
    assert dropped == {"unknown wins": 1, "not a face wins": 1, "contempt wins": 1}


def test_contempt_is_dropped_or_counted_for_the_emotion_named():
    face = np.array([votes(contempt=6, disgust=3, anger=1), votes(contempt=3, disgust=2, neutral=5)])
    keep, labels, _, dropped = ferplus_labels(face, contempt="drop")
    assert keep.tolist() == [False, False] and dropped == {"contempt wins": 1, "no majority": 1}
    keep, labels, _, dropped = ferplus_labels(face, contempt="disgust")
    assert keep.tolist() == [True, False] and [EMOTIONS[i] for i in labels] == ["disgust"]
    _, _, targets, _ = ferplus_labels(face, mode="soft", contempt="disgust")
    np.testing.assert_allclose(targets[1], _expected_soft({"disgust": 0.5, "neutral": 0.5}))
    with pytest.raises(InputError, match="contempt='smirk'"):
        ferplus_labels(face, contempt="smirk")
    with pytest.raises(InputError, match="unknown FER.* votes mode 'vote'"):
        ferplus_labels(face, mode="vote")


def _write_votes_table(root, rng):
    """A votes table in ../shared/data's layout: image paths under train/ and val/, named by the
    original FER2013 label (which FER+ overrides)."""
    rows = ["image," + ",".join(VOTE_COLUMNS)]
    for split in ("train", "val"):
        for k, (counts, _, _) in enumerate(CASES * 2):
            name = f"{split}/angry/{split}_{k}.jpg"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / name)
            rows.append(name + "," + ",".join(map(str, counts)))
    rows.append("train/angry/missing.jpg," + ",".join(map(str, votes(happiness=10))))
    (root / "ferplus_votes.csv").write_text("\n".join(rows) + "\n")
    return root / "ferplus_votes.csv"


def test_votes_table_with_image_paths(tmp_path):
    path = _write_votes_table(tmp_path, np.random.default_rng(0))
    data = open_dataset(path)
    assert "FER+ majority labels" in data.name and "contempt dropped" in data.name
    assert len(data) == 2 * 2 * 2 and data.soft_targets() is None  # 2 of the 7 cases, twice, in 2 folders
    assert data.info["dropped"] == {"no image file": 1, "unknown wins": 4, "not a face wins": 4,
                                    "contempt wins": 4, "no majority": 8}
    assert int((data.split_names() == "val").sum()) == 4 and {"train", "val"} <= set(data.split_names())
    assert data.class_counts()["happy"] == 4 and data.class_counts()["angry"] == 0  # the folder's label is ignored
    sample = data.split("val")[0]
    assert sample.source_id == "val/angry/val_0.jpg" and sample.image.shape == (48, 48, 3)
    np.testing.assert_array_equal(sample.image[:, :, 0], np.asarray(Image.open(tmp_path / sample.source_id)))

    soft = open_dataset(path, votes="soft", contempt="disgust")
    assert "vote distributions" in soft.name and "contempt counted as disgust" in soft.name
    targets = soft.soft_targets()
    assert targets.shape == (len(soft), 7) and np.allclose(targets.sum(axis=1), 1)
    np.testing.assert_array_equal(targets.argmax(axis=1), soft.labels())
    # targets follow their faces through split / subset / materialize
    val = soft.split("val").materialize()
    first = int(np.flatnonzero(soft.split_names() == "val")[0])
    np.testing.assert_allclose(val.soft_targets()[0], targets[first])
    np.testing.assert_allclose(soft.subset([3, 1]).soft_targets(), targets[[3, 1]])


def test_kaggle_csv_beside_fer2013new(tmp_path):
    rng = np.random.default_rng(1)
    usage = ["Training"] * 8 + ["PublicTest"] * 4 + ["PrivateTest"] * 4
    counts = [votes(happiness=8, neutral=2), votes(sadness=7, anger=3), votes(NF=10), votes(surprise=9, fear=1)] * 4
    pixels = [" ".join(map(str, rng.integers(0, 256, 48 * 48))) for _ in usage]
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(
        f"0,{p},{u}" for p, u in zip(pixels, usage)) + "\n")
    names = [f"fer{i:07d}.png" if i != 5 else "" for i in range(len(usage))]  # row 5 has no FER+ votes
    (tmp_path / "fer2013new.csv").write_text("Usage,Image name," + ",".join(VOTE_COLUMNS) + "\n" + "\n".join(
        f"{u},{n}," + ",".join(map(str, c)) for u, n, c in zip(usage, names, counts)) + "\n")
    data = open_dataset(tmp_path / "fer2013new.csv")
    assert data.info["dropped"] == {"no FER+ votes": 1, "not a face wins": 4}
    assert len(data) == 11
    assert [int((data.split_names() == s).sum()) for s in ("train", "val", "test")] == [5, 3, 3]
    assert [EMOTIONS[i] for i in data.labels()[:3]] == ["happy", "sad", "surprise"]
    sample = data[3]  # the 5th row of fer2013.csv (rows 2 and 5 are left out)
    assert sample.source_id == "fer2013.csv:6"
    np.testing.assert_array_equal(sample.image[:, :, 0].ravel(), np.array(pixels[4].split(), dtype=np.uint8))

    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n0,1 2 3 4,Training\n")
    with pytest.raises(InputError, match="same 16 rows"):
        open_dataset(tmp_path / "fer2013new.csv")
    (tmp_path / "fer2013.csv").unlink()
    with pytest.raises(InputError, match="put that file beside it"):
        open_dataset(tmp_path / "fer2013new.csv")


def test_agreement_is_the_share_of_all_ten_votes_the_top_emotion_got(tmp_path):
    path = _write_votes_table(tmp_path, np.random.default_rng(0))
    data = open_dataset(path, votes="soft")
    agreement = data.label_agreement()
    # kept cases: happiness 6 of 10, neutral 5 of 10, neutral / sadness 4 of 10, neutral 3 of 10 (unknown 4)
    np.testing.assert_allclose(np.unique(np.round(agreement, 4)), [0.3, 0.4, 0.5, 0.6], rtol=1e-5)
    assert int((agreement >= 0.6 - 1e-6).sum()) == 4  # the happiness=6 case: twice in each of two folders
    np.testing.assert_allclose(data.split("val").materialize().label_agreement(),
                               agreement[data.split_names() == "val"])
