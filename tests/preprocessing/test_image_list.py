"""Image-list tables: muxspace's legend.csv, RAF-DB's list_patition_label.txt and an AffectNet-style
CSV, each written here with its images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fexlab.preprocessing.readers import open_dataset
from fexlab.registry import EMOTIONS, InputError
from fexlab.registry.emotions import RAFDB_LABELS


def _save(path, rng, size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


def test_legend_csv_with_images_folder_and_label_spellings(tmp_path):
    rng = np.random.default_rng(0)
    labels = ["anger", "HAPPINESS", "Neutral", "sadness", "contempt", "surprise", "fear", "disgust"] * 3
    rows = ["user.id,image,emotion"]
    for k, label in enumerate(labels):
        _save(tmp_path / "images" / f"face_{k}.jpg", rng)
        rows.append(f"{600 + k % 3},face_{k}.jpg,{label}")
    rows.append("601,gone.jpg,happiness")
    (tmp_path / "legend.csv").write_text("\n".join(rows) + "\n")
    data = open_dataset(tmp_path / "legend.csv", seed=2)
    assert len(data) == 21 and "image list" in data.name
    assert data.info["dropped"] == {"label contempt": 3, "missing image": 1}
    assert data.class_counts() == {**dict.fromkeys(EMOTIONS, 3)}
    assert {str(s) for s in data.split_names()} == {"train", "val", "test"}  # seeded stratified: one each
    first = data[0]
    assert first.source_id == "face_0.jpg" and first.emotion == "angry" and first.image.shape == (12, 10, 3)
    np.testing.assert_array_equal(first.image, np.asarray(Image.open(tmp_path / "images" / "face_0.jpg")))
    again = open_dataset(tmp_path / "legend.csv", seed=2)
    np.testing.assert_array_equal(again.split_names(), data.split_names())


def test_rafdb_list_without_header_numeric_labels_and_aligned_names(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for split in ("train", "test"):
        for number in range(1, 8):
            for k in range(3):
                name = f"{split}_{number}{k:03d}"
                _save(tmp_path / "Image" / "aligned" / f"{name}_aligned.jpg", rng)
                lines.append(f"{name}.jpg {number}")
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    data = open_dataset(tmp_path / "EmoLabel" / "list_patition_label.txt", image_root="../Image/aligned")
    assert len(data) == 42 and data.info["label_order"] == "rafdb"
    for sample in data:
        number = int(sample.source_id.split("_")[1][0])
        assert sample.emotion == RAFDB_LABELS[number - 1] and sample.source_id.endswith("_aligned.jpg")
        assert (sample.split == "test") == sample.source_id.startswith("test_")  # from the names
    assert int((data.split_names() == "val").sum()) == 7  # carved out of train, one per emotion


def test_affectnet_style_csv_with_named_columns_and_split_column(tmp_path):
    rng = np.random.default_rng(2)
    rows = ["subDirectory_filePath,face_x,expression,set"]
    for k in range(24):
        _save(tmp_path / str(k % 3) / f"{k}.png", rng)
        rows.append(f"{k % 3}/{k}.png,0,{k % 12},{'val' if k >= 18 else 'train'}")
    (tmp_path / "training.csv").write_text("\n".join(rows) + "\n")
    data = open_dataset(tmp_path / "training.csv", label_column="expression", split_column="set")
    # AffectNet's 0-6 are emotions; 7 (contempt) and 8-10 (none, uncertain, no face) are dropped, 11 is unknown
    assert data.info["label_order"] == "affectnet"
    assert sum(data.info["dropped"].values()) == 10 and data.info["dropped"]["label 7"] == 2
    assert len(data) == 14 and int((data.split_names() == "val").sum()) == 1  # rows 18-23: only 6 is an emotion
    assert EMOTIONS[data.labels()[1]] == "happy"  # AffectNet's 1
    with pytest.raises(InputError, match="no label column 'emotion'"):
        open_dataset(tmp_path / "training.csv", label_column="emotion")
    with pytest.raises(InputError, match="split column 'face_x' has values"):
        open_dataset(tmp_path / "training.csv", label_column="expression", split_column="face_x")


def test_image_list_errors(tmp_path):
    (tmp_path / "list.csv").write_text("image,emotion\na.jpg,happy\n")
    with pytest.raises(InputError, match="image_root"):
        open_dataset(tmp_path / "list.csv")
    (tmp_path / "notes.md").write_text("# hello\n")
    with pytest.raises(InputError, match="not a table"):
        open_dataset(tmp_path / "notes.md")
