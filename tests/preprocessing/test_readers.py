"""Every reader on tiny files of its layout, written here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fexlab.preprocessing.readers import ArrayDataset, FaceDataset, open_dataset, parse_fractions, stratified_splits
from fexlab.registry import EMOTIONS, InputError
from fexlab.registry.emotions import RAFDB_LABELS


def _pixels(rng: np.random.Generator, side: int = 48) -> str:
    return " ".join(map(str, rng.integers(0, 256, side * side)))


def _save(path, rng, size=(20, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


# -- FER2013 CSV -------------------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["emotion,pixels,Usage", "emotion, Usage, pixels"])
def test_fer2013_csv_both_header_spellings(tmp_path, header):
    rng = np.random.default_rng(0)
    usages = ["Training", "PublicTest", "PrivateTest"]
    lines = [header]
    for i in range(21):
        fields = {"emotion": str(i % 7), "pixels": _pixels(rng), "usage": usages[i // 7]}
        lines.append(", ".join(fields[c.strip().lower()] for c in header.split(",")))
    path = tmp_path / "fer.csv"
    path.write_text("\n".join(lines))
    data = open_dataset(str(path))
    assert len(data) == 21 and not data.synthetic
    assert data.class_counts() == dict.fromkeys(EMOTIONS, 3)
    assert list(data.split_names()[[0, 7, 14]]) == ["train", "val", "test"]
    sample = data[3]
    assert sample.image.shape == (48, 48, 3) and sample.image.dtype == np.uint8
    assert sample.label == 3 and sample.emotion == "happy"
    row = np.array(lines[4].split(",")[1 if header.startswith("emotion,p") else 2].split(), dtype=np.uint8)
    np.testing.assert_array_equal(sample.image[:, :, 0].ravel(), row)
    assert len(data.split("test")) == 7 and set(data.split("test").split_names()) == {"test"}


def test_fer2013_without_usage_gets_stratified_seeded_splits(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "train.csv"
    path.write_text("emotion,pixels\n" + "\n".join(f"{i % 7},{_pixels(rng, 8)}" for i in range(70)))
    a = open_dataset(path, split_fractions=(0.6, 0.2, 0.2), seed=3)
    b = open_dataset(path, split_fractions=(0.6, 0.2, 0.2), seed=3)
    c = open_dataset(path, split_fractions=(0.6, 0.2, 0.2), seed=4)
    np.testing.assert_array_equal(a.split_names(), b.split_names())
    assert (a.split_names() != c.split_names()).any()
    for split, per_class in (("train", 6), ("val", 2), ("test", 2)):
        assert set(a.split(split).class_counts().values()) == {per_class}


def test_fer2013_errors_are_one_line_and_actionable(tmp_path):
    missing = tmp_path / "test.csv"
    missing.write_text("pixels\n1 2 3 4\n")
    with pytest.raises(InputError, match="no emotion column"):
        open_dataset(missing)
    bad_row = tmp_path / "bad.csv"
    bad_row.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    data = open_dataset(bad_row)
    with pytest.raises(InputError, match="row 2: pixels must be a square number"):
        data[0]
    with pytest.raises(InputError, match="not found"):
        open_dataset(tmp_path / "nope.csv")


# -- class folders -----------------------------------------------------------------------------------
def test_class_folders_with_split_folders_and_spellings(tmp_path):
    rng = np.random.default_rng(2)
    for split in ("train", "validation", "test"):
        for name in ("happiness", "Sad", "anger"):
            for k in range(2):
                _save(tmp_path / split / name / f"{k}.jpg", rng)
    (tmp_path / "train" / "happiness" / "notes.txt").write_text("not an image")
    data = open_dataset(tmp_path)
    assert len(data) == 18
    assert data.class_counts() == {**dict.fromkeys(EMOTIONS, 0), "happy": 6, "sad": 6, "angry": 6}
    assert {s: int((data.split_names() == s).sum()) for s in ("train", "val", "test")} == {"train": 6, "val": 6, "test": 6}
    first = data.split("val")[0]
    assert first.source_id.startswith("validation/") and first.image.shape == (20, 24, 3)


def test_rafdb_numeric_folders_follow_rafdb_order(tmp_path):
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for number in range(1, 8):
            for k in range(3):
                _save(tmp_path / split / str(number) / f"{split}_{k}.jpg", rng)
    data = open_dataset(tmp_path)
    assert data.info["label_order"] == "rafdb" and "rafdb" in data.name
    for sample in data:
        folder = int(sample.source_id.split("/")[1])
        assert sample.emotion == RAFDB_LABELS[folder - 1]
    # RAF-DB has no validation split: one is carved out of train, test stays as it was
    assert int((data.split_names() == "test").sum()) == 21
    assert set(data.split("val").source_ids().tolist()) <= {s for s in data.source_ids() if s.startswith("train/")}
    assert len(data.split("val")) == 7


def test_affectnet_names_drop_contempt(tmp_path):
    rng = np.random.default_rng(4)
    for name in ("neutral", "contempt", "surprise", "fear"):
        for k in range(3):
            _save(tmp_path / name / f"{k}.png", rng)
    data = open_dataset(tmp_path, seed=1)
    assert data.info["dropped_labels"] == ["contempt"]
    assert len(data) == 9 and data.class_counts()["neutral"] == 3
    assert {str(s) for s in data.split_names()} == {"train", "val", "test"}  # 3 per class: one each


def test_affectnet_numeric_order_and_explicit_order(tmp_path):
    rng = np.random.default_rng(5)
    for number in (0, 1, 7):
        _save(tmp_path / str(number) / "a.png", rng)
    data = open_dataset(tmp_path)
    assert data.info["label_order"] == "affectnet"
    assert sorted(EMOTIONS[i] for i in data.labels()) == ["happy", "neutral"]  # 7 is contempt
    fer = open_dataset(tmp_path, labels="fer2013")
    assert sorted(EMOTIONS[i] for i in fer.labels()) == ["angry", "disgust"]  # 7 is out of range


def test_folder_errors(tmp_path):
    rng = np.random.default_rng(6)
    _save(tmp_path / "cats" / "a.png", rng)
    with pytest.raises(InputError, match="none of the labels"):
        open_dataset(tmp_path)
    (tmp_path / "empty" / "happy").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        open_dataset(tmp_path / "empty")
    corrupt = tmp_path / "corrupt"
    (corrupt / "sad").mkdir(parents=True)
    (corrupt / "sad" / "x.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(InputError, match="x.jpg"):
        open_dataset(corrupt)[0]


# -- Hugging Face ------------------------------------------------------------------------------------
def test_hf_save_to_disk_with_user_named_columns(tmp_path):
    from datasets import ClassLabel, Dataset, DatasetDict, Features
    from datasets import Image as HFImage

    rng = np.random.default_rng(7)
    names = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt"]
    features = Features({"pic": HFImage(), "emo": ClassLabel(names=names)})
    def part(count):
        return Dataset.from_dict({"pic": [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
                                          for _ in range(count)], "emo": [i % 8 for i in range(count)]}, features=features)
    train = part(24)
    DatasetDict({"train": train, "test": part(8)}).save_to_disk(tmp_path / "hf")
    data = open_dataset(tmp_path / "hf", image_column="pic", label_column="emo")
    assert len(data) == 28 and data.info["dropped_labels"] == ["contempt"]
    assert int((data.split_names() == "test").sum()) == 7
    assert len(data.split("val")) > 0
    first = data.split("train")[0]
    row = int(first.source_id.split("/")[1])
    np.testing.assert_array_equal(first.image, np.asarray(train[row]["pic"].convert("RGB")))
    assert first.emotion == EMOTIONS[row % 8]
    with pytest.raises(InputError, match="no image column 'photo'.*columns"):
        open_dataset(tmp_path / "hf", image_column="photo")


def test_hf_single_dataset_with_string_labels_is_split(tmp_path):
    from datasets import Dataset

    rng = np.random.default_rng(8)
    images = [Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for _ in range(30)]
    Dataset.from_dict({"image": images, "label": ["Happy", "SAD", "surprised"] * 10}).save_to_disk(tmp_path / "one")
    data = open_dataset(tmp_path / "one")
    assert data.class_counts()["happy"] == 10 and data.class_counts()["surprise"] == 10
    assert {str(s) for s in data.split_names()} == {"train", "val", "test"}
    assert data[0].image.shape == (8, 8, 3)


def test_hub_id_fails_cleanly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="cannot load the Hugging Face dataset 'owner/name'.*save_to_disk"):
        open_dataset("hf:owner/name")
    with pytest.raises(InputError, match="hf:owner/name"):
        open_dataset("hf:justaname")


# -- the interface itself ----------------------------------------------------------------------------
def test_labels_and_counts_never_decode_images():
    loads = []

    def load(rows):
        loads.append(list(rows))
        return [np.zeros((4, 4, 3), np.uint8) for _ in rows]

    data = FaceDataset("counting", [0, 1, 1, 3], ["train", "train", "test", "val"], list("abcd"), load)
    assert data.labels().tolist() == [0, 1, 1, 3] and data.class_counts()["disgust"] == 2
    assert len(data.split("train")) == 2 and loads == []
    assert [s.source_id for s in data.split("train")] == ["a", "b"] and loads == [[0, 1]]
    with pytest.raises(InputError, match="unknown split 'dev2'"):
        data.split("dev2")


def test_array_dataset_and_materialize():
    images = np.arange(5 * 6 * 6 * 3, dtype=np.uint8).reshape(5, 6, 6, 3)
    data = ArrayDataset(images, [0, 1, 2, 3, 4], ["train", "train", "val", "test", "test"])
    assert data[2].split == "val" and np.array_equal(data[2].image, images[2])
    np.testing.assert_array_equal(data.split("test").materialize().stacked(), images[3:])
    with pytest.raises(InputError, match="5 images but 4 labels"):
        ArrayDataset(images, [0, 1, 2, 3])
    with pytest.raises(InputError, match="emotion indices"):
        ArrayDataset(images, [0, 1, 2, 3, 9])


def test_stratified_splits_keep_balance_and_fractions():
    labels = np.repeat(np.arange(7), 40)
    splits = stratified_splits(labels, (0.7, 0.2, 0.1), seed=0)
    for label in range(7):
        mine = splits[labels == label]
        assert [(mine == s).sum() for s in ("train", "val", "test")] == [28, 8, 4]
    assert parse_fractions("8,1,1") == pytest.approx((0.8, 0.1, 0.1))
    with pytest.raises(InputError, match="three split fractions"):
        parse_fractions("0.5,0.5")
