"""Temperature calibration: the fitted T undoes a known over- or under-confidence, and the command
writes it into the checkpoint without changing any top emotion."""

import json

import numpy as np
import pytest

from fexlab.trainers.calibrate import fit_temperature, main


def sampled(temperature, n=4000, seed=0):
    """Labels drawn from softmax(true_logits); the model reports true_logits * temperature."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 2.0, (n, 7))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(7, p=row) for row in p])
    return true_logits * temperature, labels


@pytest.mark.parametrize("scale", [0.4, 2.5])
def test_fit_temperature_recovers_the_scale_of_the_logits(scale):
    logits, labels = sampled(scale)
    assert fit_temperature(logits, labels) == pytest.approx(scale, rel=0.1)


def test_calibrate_writes_the_temperature_and_keeps_every_top_emotion(tmp_path, monkeypatch):
    import fexlab.preprocessing.readers as readers
    from fexlab.plugins.efficientnet import EfficientNet
    from fexlab.preprocessing.readers import ArrayDataset
    from fexlab.registry import Registry

    rng = np.random.default_rng(0)
    faces = list(rng.integers(0, 256, (40, 40, 40, 3), dtype=np.uint8))
    model = EfficientNet.from_config(input_size=32)
    folder = model.save_pretrained(tmp_path / "ckpt")
    before = model.predict(faces)
    labels = before.argmax(1)  # the model is always right: it should become surer (T < 1)
    monkeypatch.setattr(readers, "open_dataset",
                        lambda source, **_: ArrayDataset(faces, labels, ["val"] * 40, name="faces"))
    main([str(folder), "--data", "faces"])
    temperature = json.loads((folder / "config.json").read_text())["config"]["temperature"]
    assert temperature < 1.0
    after = Registry().classifier(f"efficientnet:{folder}").predict(faces)
    assert (after.argmax(1) == before.argmax(1)).all() and after.max(1).mean() > before.max(1).mean()


def test_a_checkpoint_without_a_temperature_field_is_refused(tmp_path):
    from fexlab.plugins.mini_xception import MiniXception
    from fexlab.registry import InputError

    folder = MiniXception.from_config().save_pretrained(tmp_path / "mx")
    with pytest.raises(InputError, match="no temperature in its config"):
        main([str(folder), "--data", "synthetic:n=70"])
