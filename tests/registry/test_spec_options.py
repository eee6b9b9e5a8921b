"""Classifier specs beyond ``name[.tag][:checkpoint]``: ``+flip`` test-time mirror averaging, honoured by
prediction and evaluation alike, and a checkpoint or training-run folder on its own."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fexlab.cli import main
from fexlab.eval.harness import evaluate
from fexlab.preprocessing.readers import ArrayDataset
from fexlab.registry import InputError, Registry, parse_spec
from fexlab.registry.registry import split_spec_options


@pytest.fixture(scope="module")
def reg():
    return Registry()


def _faces(n=6, seed=0):
    return [np.random.default_rng([seed, i]).integers(0, 256, (48, 40, 3), dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize("spec, split", [
    ("mini_xception.fer2013+flip", ("mini_xception.fer2013", {"test_time_flip": True})),
    ("convnext:runs/a+flip", ("convnext:runs/a", {"test_time_flip": True})),
    ("convnext:runs/a+b", ("convnext:runs/a+b", {})),  # not an option: part of the path
    ("vit", ("vit", {})),
])
def test_split_spec_options(spec, split):
    assert split_spec_options(spec) == split


def test_parse_spec_ignores_options():
    assert parse_spec("vit.fer2013+flip") == ("vit", "fer2013", None)


def test_flip_averages_the_face_and_its_mirror_and_shares_the_weights(reg):
    plain, flipped = reg.classifier("mini_xception"), reg.classifier("mini_xception+flip")
    assert flipped.test_time_flip and not plain.test_time_flip and flipped is not plain
    assert flipped.torch_module() is plain.torch_module() and reg.classifier("mini_xception+flip") is flipped
    faces = _faces()
    mirrored = [face[:, ::-1] for face in faces]
    expected = (plain.predict(faces) + plain.predict(mirrored)) / 2
    np.testing.assert_allclose(flipped.predict(faces), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(flipped.predict(faces), plain.predict(faces), atol=1e-4)
    np.testing.assert_allclose(flipped.predict(faces), flipped.predict(mirrored), rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="applies to classifiers"):
        reg.load("detector", "haar+flip")


def test_a_checkpoint_or_run_folder_is_a_spec(reg, tmp_path):
    plain = reg.classifier("mini_xception")
    plain.save_pretrained(tmp_path / "run" / "best")
    for spec in (str(tmp_path / "run" / "best"), str(tmp_path / "run")):
        loaded = reg.classifier(spec)
        assert type(loaded).name == "mini_xception"
        np.testing.assert_allclose(loaded.predict(_faces(2)), plain.predict(_faces(2)), rtol=1e-5)
    assert reg.classifier(f"{tmp_path / 'run'}+flip").test_time_flip


def test_evaluation_and_prediction_honour_flip(tmp_path, capsys):
    images = np.stack(_faces(14))
    data = ArrayDataset(images, np.arange(14) % 7, ["test"] * 14, name="noise faces")
    report = evaluate(["mini_xception", "mini_xception+flip"], data=data, out=tmp_path / "eval", n_resamples=20,
                      plots=False)
    plain, flipped = report.results
    assert flipped["model"] == "mini_xception+flip" and flipped["test_time_flip"] and "test_time_flip" not in plain
    assert plain["metrics"]["confusion"] != flipped["metrics"]["confusion"] or \
        plain["metrics"]["reliability"] != flipped["metrics"]["reliability"]
    Image.fromarray(images[0]).save(tmp_path / "face.png")
    Image.fromarray(np.ascontiguousarray(images[0][:, ::-1])).save(tmp_path / "mirror.png")

    def predicted(spec, name):
        assert main(["predict", str(tmp_path / name), "--classifier", spec, "--detector", "full_frame", "--json"]) == 0
        [record] = json.loads(capsys.readouterr().out)
        return np.array(list(record["faces"][0]["probabilities"].values()))

    both = (predicted("mini_xception", "face.png") + predicted("mini_xception", "mirror.png")) / 2
    np.testing.assert_allclose(predicted("mini_xception+flip", "face.png"), both, atol=2e-3)
