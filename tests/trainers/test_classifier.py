"""The classifier trainer: it learns, checkpoints round-trip, resume equals an uninterrupted run,
every data layout trains through the same command, and failures are one clear line."""

import json

import numpy as np
import pytest
from PIL import Image

import fexlab.trainers.classifier.loop as loop
from fexlab.cli import main
from fexlab.plugins.vit import ViT
from fexlab.preprocessing.readers import ArrayDataset
from fexlab.registry import EMOTIONS
from fexlab.registry.emotions import EMOTION_COLORS
from fexlab.trainers.classifier import ClassifierTrainConfig, train_classifier

TINY_VIT = {"input_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 64}
SPLITS = ("train",) * 6 + ("val",) + ("test",) * 3


def pattern_faces(per_class=16, size=32, seed=0):
    """Stand-in faces: noise tinted with the emotion's colour and a bright bar at an emotion-specific
    height. Quick to learn for any model, so a few steps show whether targets reach the right outputs."""
    rng = np.random.default_rng(seed)
    images, labels, splits = [], [], []
    for k in range(per_class):
        for label, emotion in enumerate(EMOTIONS):
            tint = np.array(EMOTION_COLORS[emotion], dtype=np.int64) // 2
            image = (rng.integers(0, 80, (size, size, 3)) + tint).astype(np.uint8)
            top = label * (size - 4) // (len(EMOTIONS) - 1)
            image[top : top + 4, rng.integers(0, 4) : size - rng.integers(0, 4)] = 250
            images.append(image)
            labels.append(label)
            splits.append(SPLITS[k % len(SPLITS)])
    return images, np.array(labels), splits


@pytest.fixture(scope="module")
def patterns():
    images, labels, splits = pattern_faces()
    return ArrayDataset(images, labels, splits, name="test patterns (bars, not faces)")


def config(tmp_path, name="run", **overrides):
    values = dict(plugin="vit", model=TINY_VIT, out=str(tmp_path / name), epochs=2, batch_size=8, lr=3e-3,
                  augment=False, log_every=1, patience=0, warmup=0.1)
    return ClassifierTrainConfig(**{**values, **overrides})


def losses(run_dir, split="val"):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["split"] == split]


@pytest.mark.slow
def test_training_makes_the_loss_fall_and_writes_a_complete_run(tmp_path, patterns):
    result = train_classifier(config(tmp_path, plugin="convnext", model={"input_size": 32}, epochs=1), dataset=patterns)
    run = result.run_dir
    steps = losses(run, "train_step")
    assert len(steps) == 10 and np.mean(steps[-3:]) < 0.7 * np.mean(steps[:3])
    assert len(losses(run, "val")) == 1 and result.test["accuracy"] > 0.5
    assert sorted(p.name for p in run.iterdir()) == [
        "best", "curves.png", "last", "metrics.jsonl", "state", "train_config.json"]
    best = json.loads((run / "best" / "config.json").read_text())
    assert best["training_data"] == "test patterns (bars, not faces)" and best["synthetic"] is False
    assert best["init"].startswith("random initialisation") and best["plugin"] == "convnext"
    assert best["metrics"]["test_accuracy"] == result.test["accuracy"] and "val_macro_f1" in best["metrics"]
    resolved = json.loads((run / "train_config.json").read_text())
    assert resolved["plugin"] == "convnext" and resolved["resolved"]["split_sizes"] == {"train": 84, "val": 7, "test": 21}


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_metrics_and_weights(tmp_path, patterns, monkeypatch):
    """A hub-style ViT whose id2label is in another order is fine-tuned with augmentation; killed
    in epoch 2 and resumed, it ends exactly where the uninterrupted run ends."""
    order = ("surprise", "neutral", "happy", "sad", "fear", "disgust", "angry")
    ViT.from_config(**TINY_VIT, labels=order).torch_module().model.save_pretrained(tmp_path / "hub-model")
    options = dict(init=str(tmp_path / "hub-model"), model={}, augment=True, lr=1e-2,
                   augment_options={"rotation": 5, "hflip_p": 0, "brightness": 0, "contrast": 0, "blur_p": 0, "erase_p": 0})
    whole = train_classifier(config(tmp_path, "whole", **options), dataset=patterns)

    real_check, calls = loop.check_finite, {"n": 0}

    def killed_in_epoch_two(loss, **kwargs):
        calls["n"] += 1
        if calls["n"] == 15:  # 10 batches per epoch: the middle of epoch 2, after epoch 1 was saved
            raise KeyboardInterrupt
        return real_check(loss, **kwargs)

    monkeypatch.setattr(loop, "check_finite", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(config(tmp_path, "killed", **options), dataset=patterns)
    monkeypatch.setattr(loop, "check_finite", real_check)
    assert json.loads((tmp_path / "killed" / "state" / "trainer_state.json").read_text())["epoch"] == 1
    resumed = train_classifier(config(tmp_path, "killed", **options), dataset=patterns, resume=True)

    def metrics(run_dir):
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k != "time"} for row in rows]

    assert metrics(resumed.run_dir) == metrics(whole.run_dir)
    test = patterns.split("test")
    faces = test.images(range(len(test)))
    trained = ViT.from_pretrained(resumed.run_dir)
    np.testing.assert_array_equal(trained.predict(faces), ViT.from_pretrained(whole.run_dir).predict(faces))
    # canonical targets reached the model's own outputs: far above chance (1/7), not permuted
    assert trained.labels == order and whole.test["accuracy"] >= 0.5
    assert json.loads((whole.run_dir / "best" / "config.json").read_text())["init"].startswith("fine-tuned from")


def write_fer_csv(path, images, labels, splits):
    usage = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
    rows = ["emotion,pixels,Usage"]
    for image, label, split in zip(images, labels, splits):
        gray = np.asarray(Image.fromarray(image).convert("L").resize((48, 48)))
        rows.append(f"{label},{' '.join(map(str, gray.ravel()))},{usage[split]}")
    path.write_text("\n".join(rows) + "\n")


def write_folder_tree(root, images, labels, splits):
    for i, (image, label, split) in enumerate(zip(images, labels, splits)):
        folder = root / split / EMOTIONS[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["fer2013-csv", "class-folders"])
def test_fer2013_csv_and_class_folders_train_through_the_same_command(tmp_path, capsys, layout):
    images, labels, splits = pattern_faces(per_class=4)
    if layout == "fer2013-csv":
        source = tmp_path / "fer2013.csv"
        write_fer_csv(source, images, labels, splits)
    else:
        source = tmp_path / "faces"
        write_folder_tree(source, images, labels, splits)
    run = tmp_path / "run"
    extra = ["--balance", "sampler", "--grad-accum", "2"] if layout == "class-folders" else []
    code = main(["train", "classifier", "--plugin", "mini_xception", "--init", "fer2013", "--data", str(source),
                 "--epochs", "1", "--batch-size", "8", "--out", str(run), "--no-augment", *extra])
    out = capsys.readouterr().out
    assert code == 0 and "epoch 1/1" in out and "test: accuracy" in out
    best = json.loads((run / "best" / "config.json").read_text())
    assert best["init"] == "fine-tuned from fer2013" and source.name in best["training_data"]
    # the run folder is a checkpoint for prediction, as the CLI and the app use it
    face = tmp_path / "face.png"
    Image.fromarray(images[3]).save(face)
    code = main(["predict", str(face), "--classifier", "mini_xception", "--checkpoint", str(run),
                 "--detector", "full_frame", "--json"])
    [record] = json.loads(capsys.readouterr().out)
    assert code == 0 and record["error"] is None and set(record["faces"][0]["probabilities"]) == set(EMOTIONS)


SMALL_SYNTHETIC = "synthetic:n=70,size=48"


def test_nan_loss_stops_with_one_clear_line(tmp_path, capsys):
    code = main(["train", "classifier", "--plugin", "mini_xception", "--model", "widths=[8,16]", "--data", SMALL_SYNTHETIC,
                 "--lr", "1e30", "--epochs", "2", "--batch-size", "16", "--out", str(tmp_path / "run"), "--no-augment"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("fexlab:")]  # the rest is the progress bar
    assert "the loss became nan at epoch 1" in line and "lower the learning rate" in line


def test_push_to_hub_offline_fails_clearly_after_the_run_is_saved(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = tmp_path / "run"
    code = main(["train", "classifier", "--plugin", "mini_xception", "--model", "widths=[8,16]", "--epochs", "1",
                 "--data", SMALL_SYNTHETIC,
                 "--batch-size", "16", "--out", str(run), "--no-augment", "--push-to-hub", "someone/fexlab-test"])
    err = capsys.readouterr().err
    assert code == 2 and "could not push to the hub repo 'someone/fexlab-test' (HF_HUB_OFFLINE=1 is set)" in err
    assert f"the run is saved in {run}" in err and "hf upload someone/fexlab-test" in err
    card = (run / "best" / "README.md").read_text()
    assert "SYNTHETIC cartoon faces" in card and "Trained on synthetic faces" in card and "synthetic-data" in card
    assert "| test_accuracy |" in card and "| val_macro_f1 |" in card and "library_name: fexlab" in card
    assert (run / "best" / "model.safetensors").is_file() and (run / "state").is_dir()


def test_resume_keeps_the_saved_config_and_refuses_changes(tmp_path, capsys):
    assert main(["train", "classifier", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_config.json").write_text(json.dumps({"plugin": "vit", "lr": 0.01, "out": str(run)}))
    (run / "state").mkdir()
    (run / "state" / "trainer_state.json").write_text("{}")
    code = main(["train", "classifier", "--out", str(run), "--resume", "--lr", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "where lr is 0.01, not 0.5" in err


def test_a_time_budget_cuts_the_epoch_short_and_still_scores_it(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "classifier", "--plugin", "mini_xception", "--model", "widths=[8,16]", "--data", SMALL_SYNTHETIC,
                 "--epochs", "5", "--batch-size", "8", "--max-minutes", "0.0001", "--out", str(run), "--no-augment",
                 "--log-every", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "time budget of 0.0001 minutes spent" in out and "epoch 2/5" not in out
    assert len(losses(run, "train_step")) < 7 and len(losses(run, "val")) == 1  # 7 steps make a whole epoch
    assert (run / "best" / "README.md").is_file()


@pytest.mark.slow
def test_init_imagenet_starts_efficientnet_from_the_offline_weights_and_learns(tmp_path, patterns):
    run_config = config(tmp_path, plugin="efficientnet", init="imagenet", model={"input_size": 32}, epochs=3,
                        lr=2e-3, balance="sqrt")
    result = train_classifier(run_config, dataset=patterns)
    assert "ImageNet-pretrained backbone" in result.init and "efficientnet-lite0" in result.init
    saved = json.loads((result.run_dir / "best" / "config.json").read_text())
    assert saved["init"] == result.init
    val = losses(result.run_dir)
    assert val[-1] < val[0]


def test_init_imagenet_on_a_plugin_without_imagenet_weights_is_one_clear_error(tmp_path, patterns):
    from fexlab.registry import InputError

    with pytest.raises(InputError, match="mini_xception has no ImageNet weights"):
        train_classifier(config(tmp_path, plugin="mini_xception", init="imagenet", model={}), dataset=patterns)


def test_sqrt_balance_weights_are_the_square_roots_of_the_balanced_ones():
    from fexlab.trainers.classifier.data import class_weights

    labels = np.array([0] * 40 + [1] * 10 + [3] * 50)
    lookup = np.arange(len(EMOTIONS))
    full = class_weights(labels, EMOTIONS, lookup).numpy()
    root = class_weights(labels, EMOTIONS, lookup, power=0.5).numpy()
    np.testing.assert_allclose(root[[0, 1, 3]], np.sqrt(full[[0, 1, 3]]), rtol=1e-6)
    assert root[1] > root[0] > root[3] and full[2] == root[2] == 1.0


def test_a_run_that_ends_at_chance_warns_at_its_end(tmp_path, capsys):
    """One epoch on a few faces: still at chance, and the last line on stderr says so and what helps."""
    assert main(["train", "classifier", "--plugin", "mini_xception", "--data", "synthetic:n=140,size=48",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--lr", "1e-6"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("fexlab: warning: the model is at chance on the test split") and "more epochs" in last


def test_model_options_with_init_change_the_checkpoints_config_and_keep_its_weights(tmp_path, patterns):
    """``--init CHECKPOINT --model input_size=40``: fine-tuning at another size starts from the weights."""
    from fexlab.plugins.mini_xception import MiniXception
    from fexlab.registry import CheckpointError

    start = MiniXception.from_config(widths=(8, 16), input_size=32)
    start.save_pretrained(tmp_path / "start")
    resized = MiniXception.from_pretrained(tmp_path / "start", input_size=40)
    assert resized.config.input_size == 40 and resized.config.widths == (8, 16)
    for name, tensor in start.module.state_dict().items():
        assert (resized.module.state_dict()[name] == tensor).all(), name
    result = train_classifier(config(tmp_path, plugin="mini_xception", init=str(tmp_path / "start"),
                                     model={"input_size": 40}, epochs=1), dataset=patterns)
    assert json.loads((result.run_dir / "best" / "config.json").read_text())["config"]["input_size"] == 40
    with pytest.raises(CheckpointError):  # a change of shape cannot take the checkpoint's weights
        MiniXception.from_pretrained(tmp_path / "start", widths=[8, 24])
