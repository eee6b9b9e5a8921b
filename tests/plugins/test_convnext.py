"""The timm ConvNeXt plugin: any variant, gray or RGB, checkpoints, and honest status offline."""

import json

import numpy as np
import pytest

from fexlab.plugins.convnext import ConvNeXt
from fexlab.registry import NEEDS_WEIGHTS, InputError, NeedsWeightsError, Registry


def faces(n=6, size=50, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("grayscale", [True, False])
def test_checkpoint_round_trip_gives_identical_predictions(tmp_path, grayscale):
    model = ConvNeXt.from_config(input_size=32, grayscale=grayscale)
    assert model.input_spec().channels == (1 if grayscale else 3)
    note = model.init_for_training()  # tests run offline: the ImageNet download cannot happen
    assert note.startswith("random initialisation") and "HF_HUB_OFFLINE=1" in note
    before = model.predict(faces())
    assert before.shape == (6, 7) and np.allclose(before.sum(1), 1, atol=1e-5)
    path = model.save_pretrained(tmp_path / "ckpt", training_data="noise")
    meta = json.loads((path / "config.json").read_text())
    assert meta["plugin"] == "convnext" and meta["init"] == note
    assert meta["config"]["variant"] == "convnext_atto" and meta["config"]["grayscale"] is grayscale
    loaded = ConvNeXt.from_pretrained(path)
    np.testing.assert_array_equal(loaded.predict(faces()), before)
    assert loaded.metadata["init"] == note


def test_other_variants_and_bad_ones():
    femto = ConvNeXt.from_config(variant="convnext_femto", input_size=32)
    atto = ConvNeXt.from_config(input_size=32)
    count = lambda m: sum(p.numel() for p in m.torch_module().parameters())  # noqa: E731
    assert count(femto) > count(atto)
    with pytest.raises(InputError, match="not a ConvNeXt"):
        ConvNeXt.from_config(variant="resnet18")
    with pytest.raises(InputError, match="timm has no model 'convnext_gigantic'.*convnext_atto"):
        ConvNeXt.from_config(variant="convnext_gigantic")
    with pytest.raises(InputError, match="input_size >= 32"):
        ConvNeXt.from_config(input_size=16)


def test_without_a_checkpoint_it_needs_weights_and_says_how_to_train_them(without_fexlab_tags):
    status = ConvNeXt.status()
    assert status.state == NEEDS_WEIGHTS and "fexlab train classifier --plugin convnext" in status.detail
    with pytest.raises(NeedsWeightsError, match="fexlab train classifier"):
        Registry().classifier("convnext")


def test_registry_loads_a_run_folder_through_its_best_checkpoint(tmp_path):
    model = ConvNeXt.from_config(input_size=32)
    model.save_pretrained(tmp_path / "run" / "best")
    loaded = Registry().classifier(f"convnext:{tmp_path / 'run'}")
    np.testing.assert_array_equal(loaded.predict(faces(2)), model.predict(faces(2)))
