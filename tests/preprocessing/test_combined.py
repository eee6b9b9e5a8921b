"""Several sources as one data set: every face keeps its own source's split, its image and its
label; soft targets where one source has them, one-hot labels for the others."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fexlab.preprocessing.combined import combine_datasets
from fexlab.preprocessing.ferplus import VOTE_COLUMNS
from fexlab.preprocessing.readers import ArrayDataset, open_dataset
from fexlab.registry import EMOTIONS, InputError


def _votes_table(root, rng):
    rows = ["image," + ",".join(VOTE_COLUMNS)]
    for split in ("train", "val"):
        for k in range(7):
            name = f"{split}/{k}.png"
            (root / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / name)
            counts = [0] * len(VOTE_COLUMNS)
            counts[k], counts[(k + 1) % 7] = 7, 3
            rows.append(name + "," + ",".join(map(str, counts)))
    (root / "votes.csv").write_text("\n".join(rows) + "\n")
    return root / "votes.csv"


def _legend(root, rng):
    (root / "images").mkdir(parents=True)
    rows = ["user.id,image,emotion"]
    for k in range(21):
        Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(root / "images" / f"{k}.jpg")
        rows.append(f"1,{k}.jpg,{EMOTIONS[k % 7]}")
    (root / "legend.csv").write_text("\n".join(rows) + "\n")
    return root / "legend.csv"


def test_sources_joined_by_plus_keep_their_own_splits_images_and_targets(tmp_path):
    rng = np.random.default_rng(0)
    votes, legend = _votes_table(tmp_path / "fer", rng), _legend(tmp_path / "mux", rng)
    a, b = open_dataset(votes, votes="soft"), open_dataset(legend)
    both = open_dataset(f"{votes}+{legend}", votes="soft")
    assert len(both) == len(a) + len(b) and both.name == f"{a.name} + {b.name}"
    assert [s["name"] for s in both.info["sources"]] == [a.name, b.name]
    assert both.info["sources"][0]["votes"] == "soft"
    np.testing.assert_array_equal(both.split_names(), np.concatenate([a.split_names(), b.split_names()]))
    np.testing.assert_array_equal(both.labels(), np.concatenate([a.labels(), b.labels()]))
    targets = both.soft_targets()
    np.testing.assert_allclose(targets[: len(a)], a.soft_targets())
    np.testing.assert_array_equal(targets[len(a):], np.eye(7)[b.labels()])
    assert both.source_ids()[0] == f"1/{a.source_ids()[0]}" and both.source_ids()[-1] == f"2/{b.source_ids()[-1]}"
    # one batch reaching into both sources, out of order
    picks = [len(a) + 3, 1, len(a), 0]
    for image, want in zip(both.images(picks), [b[3].image, a[1].image, b[0].image, a[0].image]):
        np.testing.assert_array_equal(image, want)
    val = both.split("val")
    assert len(val) == len(a.split("val")) + len(b.split("val"))


def test_combining_needs_two_sources_and_marks_synthetic_ones():
    faces = ArrayDataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 1])
    with pytest.raises(InputError, match="at least two"):
        combine_datasets([faces])
    mixed = open_dataset("synthetic:n=14,size=48+synthetic:n=14,size=48,seed=1")
    assert mixed.synthetic and len(mixed) == 28 and mixed.soft_targets() is None
