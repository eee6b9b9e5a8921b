import json

import numpy as np
import pytest

from fexlab.plugins.mini_xception import MiniXception
from fexlab.registry import NEEDS_WEIGHTS, READY, CheckpointError, NeedsWeightsError
from fexlab.registry.checkpoint import atomic_directory, is_hub_id, resolve_source, source_available


def random_faces(n=4, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8))


def test_round_trip_gives_identical_predictions(tmp_path):
    model = MiniXception.from_config(widths=(8, 16))
    faces = random_faces()
    path = model.save_pretrained(tmp_path / "ckpt", training_data="unit test noise", metrics={"acc": 0.5})
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((path / "config.json").read_text())
    assert meta["plugin"] == "mini_xception" and meta["config"]["widths"] == [8, 16]
    assert meta["training_data"] == "unit test noise" and meta["labels"][3] == "happy"
    loaded = MiniXception.from_pretrained(path)
    assert loaded.config.widths == (8, 16)
    np.testing.assert_array_equal(loaded.predict(faces), model.predict(faces))
    assert loaded.metadata["metrics"] == {"acc": 0.5}


def test_checkpoint_of_another_plugin_is_refused(tmp_path):
    path = MiniXception.from_config().save_pretrained(tmp_path / "ckpt")
    meta = json.loads((path / "config.json").read_text())
    meta["plugin"] = "convnext"
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="checkpoint of plugin 'convnext', not 'mini_xception'"):
        MiniXception.from_pretrained(path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    path = MiniXception.from_config(widths=(8, 16)).save_pretrained(tmp_path / "ckpt")
    meta = json.loads((path / "config.json").read_text())
    meta["config"]["widths"] = [16, 32]
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit"):
        MiniXception.from_pretrained(path)


def test_missing_and_damaged_checkpoints_say_so(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        MiniXception.from_pretrained(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no config.json"):
        MiniXception.from_pretrained(tmp_path / "empty")
    path = MiniXception.from_config().save_pretrained(tmp_path / "ckpt")
    (path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        MiniXception.from_pretrained(path)


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path):
    target = tmp_path / "best"
    MiniXception.from_config().save_pretrained(target)
    before = (target / "model.safetensors").read_bytes()
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_directory(target) as tmp:
            (tmp / "config.json").write_text("{half written")
            raise RuntimeError("killed while writing")
    assert (target / "model.safetensors").read_bytes() == before
    assert MiniXception.from_pretrained(target) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


def test_run_folder_resolves_to_its_best_checkpoint(tmp_path):
    MiniXception.from_config().save_pretrained(tmp_path / "run" / "best")
    assert resolve_source(tmp_path / "run") == tmp_path / "run" / "best"


def test_hub_id_offline_needs_weights_and_never_hangs(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert is_hub_id("someone/some-model") and not is_hub_id("./local/folder")
    with pytest.raises(NeedsWeightsError, match="HF_HUB_OFFLINE=1"):
        resolve_source("someone/some-model-that-is-not-cached")
    ok, detail = source_available("someone/some-model-that-is-not-cached")
    assert not ok and "HF_HUB_OFFLINE=1" in detail


def test_status_reports_ready_or_needs_weights(monkeypatch, tmp_path):
    assert MiniXception.status().state == READY
    monkeypatch.setitem(MiniXception.pretrained, "fer2013", str(tmp_path / "missing"))
    status = MiniXception.status()
    assert status.state == NEEDS_WEIGHTS
    assert "python -m fexlab.plugins.mini_xception.convert" in status.detail


def test_hub_id_that_cannot_be_reached_is_not_ready(monkeypatch):
    """With the network allowed but the hub not answering, the model would not load: not ready."""
    from huggingface_hub import HfApi

    def unreachable(self, repo_id, **kwargs):
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(HfApi, "model_info", unreachable)
    ok, detail = source_available("someone/some-model-that-is-not-cached")
    assert not ok and "cannot be reached" in detail and "Name or service not known" in detail
    from fexlab.plugins.sd_lora.plugin import SDLoRA

    monkeypatch.setitem(SDLoRA.pretrained, "sd15", "someone/some-model-that-is-not-cached")
    monkeypatch.delenv("FEXLAB_SD_BASE_MODEL", raising=False)
    assert SDLoRA.status().state == NEEDS_WEIGHTS


@pytest.mark.parametrize("source", ["runs/convnext-atto-32px", "results/run", "data/model", "./model", "~/model"])
def test_a_local_looking_path_that_does_not_exist_says_so_without_the_hub(monkeypatch, tmp_path, source):
    from huggingface_hub import HfApi

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(HfApi, "model_info", no_hub)
    monkeypatch.setattr("huggingface_hub.snapshot_download", no_hub)
    assert not is_hub_id(source)
    with pytest.raises(CheckpointError, match="the path does not exist"):
        resolve_source(source)


def test_a_folder_here_makes_its_paths_local(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert is_hub_id("mymodels/emotion")
    (tmp_path / "mymodels").mkdir()
    assert not is_hub_id("mymodels/emotion")
