"""Action units on labelled faces: per-emotion means and prototype ROC AUC."""

import shutil

import numpy as np
import pytest

from fexlab.eval.action_units import PROTOTYPES, au_figures, markdown, measure
from fexlab.registry import EMOTIONS


def test_figures_rank_each_prototype():
    names = ["AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU20", "AU23", "AU26"]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(EMOTIONS)), 20)
    units = rng.random((len(labels), len(names))) * 0.2
    happy = labels == EMOTIONS.index("happy")
    units[happy, names.index("AU12")] += 0.7  # smiles: only the happy faces
    result = au_figures(units, names, labels)
    assert result["auc"]["happy"] > 0.95 and 0.2 < result["auc"]["sad"] < 0.8
    assert set(result["auc"]) == set(PROTOTYPES)
    assert result["means"]["happy"]["AU12"] == pytest.approx(units[happy, names.index("AU12")].mean(), abs=1e-4)
    assert result["counts"]["angry"] == 20


def test_measure_on_labelled_photos(tmp_path, astronaut_path, hopper_path):
    for split in ("train", "val"):
        for emotion, photo in (("happy", astronaut_path), ("neutral", hopper_path)):
            folder = tmp_path / split / emotion
            folder.mkdir(parents=True)
            shutil.copyfile(photo, folder / f"{emotion}.jpg")
    result = measure(str(tmp_path), "val", detector="blazeface")
    assert result["faces_analysed"] == 2
    assert result["means"]["happy"]["AU12"] > 0.5 > result["means"]["neutral"]["AU12"]
    assert result["auc"]["happy"] == 1.0
    table = markdown(result)
    assert "| happy | 1 |" in table and "| prototype | units | ROC AUC |" in table and "estimates" in table
