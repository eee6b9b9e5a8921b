"""Train the ``geometry`` classifier on cached mesh features, with FER+ vote distributions as targets.

``python -m fexlab.plugins.geometry.train --cache /work/cache/geometry.npz --data ../shared/data
--out fexlab/plugins/geometry/weights/ferplus`` reads FER+'s votes of FER2013's faces
(``fer2013/ferplus_votes.csv``: its ``train`` split to learn from, its ``test`` split, a seeded
tenth of FER2013's training faces, to stop early and fit the temperature) and, with
``--muxspace``, muxspace's training photos as one-hot targets; the faces' features come from the
cache (:mod:`.cache`), faces without a mesh are left out. The network (:mod:`.model`) is trained
with AdamW on the cross-entropy against each face's target distribution; the epoch with the best
macro F1 on the held-out tenth is kept. It then prints its figures on the validation splits
(FER2013 PublicTest with FER+ majority and original labels, muxspace's validation photos), every
face of a split counted (a face with no mesh gets the ``no_mesh`` probabilities), and writes the
checkpoint with them.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS

from .cache import BlendshapeCache
from .features import MeshFeatures
from .model import feature_matrix
from .plugin import Geometry

__all__ = ["LabelledFeatures", "cached_split", "fit_temperature", "score", "train_geometry"]

FERPLUS, FER2013, MUXSPACE = "fer2013/ferplus_votes.csv", "fer2013", "muxspace/legend.csv"
#: Where each data set's source ids lie under the data folder, as the cache keys them.
_KEY_PREFIX = {FERPLUS: "fer2013/", FER2013: "fer2013/", MUXSPACE: "muxspace/images/"}


@dataclass
class LabelledFeatures:
    """Cached features of one split of one data set: labels, soft targets, whether the cache held each face."""

    features: MeshFeatures
    labels: np.ndarray
    targets: np.ndarray
    held: np.ndarray


def cached_split(cache: BlendshapeCache, root: Path, source: str, split: str, **options: Any) -> LabelledFeatures:
    """The faces of ``split`` of ``root / source`` with their cached features (hard labels become one-hot targets)."""
    from fexlab.preprocessing.readers import open_dataset

    part = open_dataset(root / source, **options).split(split)
    keys = [_KEY_PREFIX[source] + str(s) for s in part.source_ids()]
    features, held = cache.lookup(keys)
    labels = part.labels()
    targets = part.soft_targets()
    if targets is None:
        targets = np.eye(len(EMOTIONS), dtype=np.float32)[labels]
    return LabelledFeatures(features, labels, targets, held)


def train_geometry(model: Geometry, features: MeshFeatures, targets: np.ndarray, early: MeshFeatures,
                   early_labels: np.ndarray, *, epochs: int = 60, lr: float = 2e-3, weight_decay: float = 1e-3,
                   batch: int = 256, patience: int = 10, seed: int = 0, log: Any = print) -> dict[str, float]:
    """Train ``model``'s network in place, from seeded random weights, on the faces with a mesh; keep the epoch with the best
    macro F1 on ``early`` (faces with a mesh). Returns that epoch's figures."""
    import torch
    from sklearn.metrics import f1_score

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    for layer in model.module.modules():  # a seeded start, whatever drew random numbers before
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    found = np.asarray(features.found, bool)
    rows = feature_matrix(features.take(np.flatnonzero(found)), model.config.points)
    goal = torch.as_tensor(np.asarray(targets, np.float32)[found])
    net = model.module
    net.set_standardisation(rows)
    x = torch.from_numpy(rows)
    early_found = np.asarray(early.found, bool)
    early_rows = torch.from_numpy(feature_matrix(early.take(np.flatnonzero(early_found)), model.config.points))
    early_labels = np.asarray(early_labels)[early_found]
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, epochs))
    best: dict[str, Any] = {"macro_f1": -1.0}
    waited = 0
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        total = 0.0
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss = -(goal[idx] * torch.log_softmax(net(x[idx]), dim=1)).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        schedule.step()
        net.eval()
        with torch.inference_mode():
            predicted = net(early_rows).argmax(dim=1).numpy()
        accuracy = float((predicted == early_labels).mean()) if len(early_labels) else 0.0
        macro_f1 = float(f1_score(early_labels, predicted, average="macro", zero_division=0)) if len(early_labels) else 0.0
        log(f"epoch {epoch}: train loss {total / max(len(x), 1):.4f}, held-out accuracy {accuracy:.4f}, "
            f"macro F1 {macro_f1:.4f}")
        if macro_f1 > best["macro_f1"]:
            best = {"epoch": epoch, "accuracy": accuracy, "macro_f1": macro_f1,
                    "state": {k: v.clone() for k, v in net.state_dict().items()}}
            waited = 0
        else:
            waited += 1
            if patience and waited >= patience:
                break
    if "state" in best:
        net.load_state_dict(best.pop("state"))
    net.eval()
    return best


def fit_temperature(model: Geometry, features: MeshFeatures, labels: np.ndarray) -> float:
    """The softmax temperature with the lowest negative log likelihood on faces with a mesh (grid 0.5-3)."""
    import torch

    found = np.asarray(features.found, bool)
    with torch.inference_mode():
        logits = model.module(torch.from_numpy(feature_matrix(features.take(np.flatnonzero(found)),
                                                              model.config.points))).numpy().astype(np.float64)
    labels = np.asarray(labels)[found]
    best = (np.inf, 1.0)
    for t in np.arange(0.5, 3.0001, 0.05):
        z = logits / t
        z -= z.max(axis=1, keepdims=True)
        nll = float(-(z[np.arange(len(z)), labels] - np.log(np.exp(z).sum(axis=1))).mean())
        best = min(best, (nll, float(t)))
    return round(best[1], 2)


def score(model: Geometry, part: LabelledFeatures) -> dict[str, float]:
    """Accuracy and macro F1 over every face of ``part`` (no mesh: the ``no_mesh`` probabilities),
    with 95% bootstrap intervals, and the share of faces with a mesh."""
    from fexlab.eval.classification import classification_metrics

    probs = model.with_fallback(model.features_probabilities(part.features))
    metrics = classification_metrics(part.labels, probs, n_resamples=500)
    return {"n": int(len(part.labels)), "with_mesh": float(np.mean(part.features.found)),
            "accuracy": round(float(metrics.accuracy), 4), "accuracy_ci": [round(float(v), 4) for v in metrics.accuracy_ci],
            "macro_f1": round(float(metrics.macro_f1), 4)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.geometry.train", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, type=Path, help="the cache of fexlab.plugins.geometry.cache")
    parser.add_argument("--data", required=True, type=Path, help="the data folder (fer2013/, muxspace/)")
    parser.add_argument("--out", type=Path, help="write the checkpoint here")
    parser.add_argument("--muxspace", action="store_true", help="also learn from muxspace's training photos")
    parser.add_argument("--hidden", type=int, default=256, help="hidden layer width (0: logistic regression)")
    parser.add_argument("--no-points", action="store_true", help="blendshapes and pose only, not the mesh points")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cache = BlendshapeCache.load(args.cache)
    train = cached_split(cache, args.data, FERPLUS, "train", votes="soft")
    parts = [train]
    if args.muxspace:
        parts.append(cached_split(cache, args.data, MUXSPACE, "train"))
    features = MeshFeatures.concatenate([p.features for p in parts])
    targets = np.concatenate([p.targets for p in parts])
    early = cached_split(cache, args.data, FERPLUS, "test", votes="majority")
    model = Geometry.from_config(points=not args.no_points, hidden=args.hidden)
    best = train_geometry(model, features, targets, early.features, early.labels, epochs=args.epochs, lr=args.lr,
                          weight_decay=args.weight_decay, seed=args.seed)
    model.config.temperature = fit_temperature(model, early.features, early.labels)
    mean_target = targets[np.asarray(features.found, bool)].mean(axis=0)
    model.config.no_mesh = tuple(round(float(v), 4) for v in mean_target / mean_target.sum())
    metrics = {"held_out_tenth_of_fer2013_train_ferplus_majority": score(model, early)}
    validation = {"fer2013_publictest_ferplus_majority": (FERPLUS, {"votes": "majority"}),
                  "fer2013_publictest_original_labels": (FER2013, {}),
                  "muxspace_val_yunet_crops": (MUXSPACE, {})}
    for name, (source, options) in validation.items():
        metrics[name] = score(model, cached_split(cache, args.data, source, "val", **options))
    summary = {"best_epoch": best.get("epoch"), "temperature": model.config.temperature,
               "faces_trained_on": int(np.sum(features.found)), "metrics": metrics}
    print(json.dumps(summary, indent=1))
    if args.out:
        data = "FER2013 training faces with FER+ vote distributions" + (
            " and muxspace training photos (one-hot labels)" if args.muxspace else "")
        model.save_pretrained(args.out, training_data=f"{data}, Face Landmarker features cached per face",
                              metrics=metrics)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
