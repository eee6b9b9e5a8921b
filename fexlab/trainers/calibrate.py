"""Calibrate a classifier checkpoint: fit its softmax temperature on a validation split.

    python -m fexlab.trainers.calibrate fexlab/plugins/efficientnet/weights/ferplus \\
        --data ../shared/data/fer2013/ferplus_votes.csv --split val

A model trained on soft targets (FER+ vote distributions) with label smoothing predicts the
annotators' spread, not how often its top emotion is right: "happy 80%" for a face it nearly
always gets right. One temperature T (logits / T), fitted by minimising the negative log
likelihood of the split's labels (Guo et al. 2017), fixes that without changing a single top
emotion. T is written into the checkpoint's ``config.json`` (the config needs a ``temperature``
field); the expected calibration error before and after is printed. The split's figures are then
fitted on it: use the validation split, never the test split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fexlab.registry import InputError, default_registry
from fexlab.registry.checkpoint import atomic_write_text, resolve_source

__all__ = ["fit_temperature", "main"]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean negative log likelihood of ``softmax(logits / T)``."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def main(argv: list[str] | None = None) -> None:
    from fexlab.eval.classification import expected_calibration_error
    from fexlab.preprocessing.readers import open_dataset

    parser = argparse.ArgumentParser(prog="python -m fexlab.trainers.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint folder (config.json + weights)")
    parser.add_argument("--data", required=True, help="labelled faces (e.g. FER+ votes: majority labels)")
    parser.add_argument("--split", default="val")
    args = parser.parse_args(argv)
    folder = resolve_source(args.checkpoint)
    payload = json.loads((folder / "config.json").read_text())
    classifier = default_registry().plugin_class("classifier", payload["plugin"]).from_pretrained(folder)
    if not hasattr(classifier.config, "temperature"):
        raise InputError(f"{payload['plugin']} has no temperature in its config; add one to calibrate it")
    part = open_dataset(args.data).split(args.split)
    faces, labels = part.images(range(len(part))), part.labels()
    logits = classifier.predict_logits(faces)
    targets = classifier.label_mapping.to_source_targets(labels)  # the model's output of each label (-1: none)
    before = expected_calibration_error(labels, classifier.logits_to_probabilities(logits, 1.0))
    temperature = fit_temperature(logits[targets >= 0], targets[targets >= 0])
    after = expected_calibration_error(labels, classifier.logits_to_probabilities(logits, temperature))
    payload["config"]["temperature"] = round(temperature, 4)
    atomic_write_text(folder / "config.json", json.dumps(payload, indent=2) + "\n")
    print(f"temperature {temperature:.4f} fitted on the {args.split} split of {part.name} ({len(labels)} faces): "
          f"expected calibration error {before:.4f} -> {after:.4f}; written to {folder / 'config.json'}")


if __name__ == "__main__":
    main()
