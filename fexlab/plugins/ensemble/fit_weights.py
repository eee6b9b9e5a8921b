"""Choose an ensemble's member weights on a validation split, then write the ensemble.

``python -m fexlab.plugins.ensemble.fit_weights --member efficientnet.ferplus+flip --member mini_xception.ferplus+flip
--data ../shared/data/fer2013/ferplus_votes.csv --split val --out fexlab/plugins/ensemble/weights/ferplus``
runs every member once over the split, then tries every weight combination from ``--grid``
(default 0, 1, 2, 3 per member) on the stored probabilities and keeps the one with the best
accuracy (macro F1 breaks ties). The figures of the chosen ensemble on that split are then
optimistic by the choice: the model card says so.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["best_weights", "member_probabilities"]


def member_probabilities(members: Sequence[str], data: str, split: str,
                         registry: Any = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each member's (N, 7) probabilities on ``split`` of ``data`` (NaN rows where it abstains), and the labels."""
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import default_registry

    registry = registry or default_registry()
    part = open_dataset(data).split(split)
    faces = part.images(range(len(part)))
    return {spec: registry.classifier(spec).predict_or_abstain(faces) for spec in members}, part.labels()


def best_weights(probabilities: dict[str, np.ndarray], labels: np.ndarray,
                 grid: Sequence[float] = (0, 1, 2, 3)) -> tuple[tuple[float, ...], float, float]:
    """The weights (one per member, in order) with the best accuracy, then macro F1; and those two.
    A face a member abstains on (NaN row) is scored on the other members, as the ensemble predicts it."""
    from sklearn.metrics import accuracy_score, f1_score

    from .plugin import weighted_mean

    stacked = list(probabilities.values())
    best: tuple[float, float, tuple[float, ...]] = (-1.0, -1.0, ())
    for weights in itertools.product(grid, repeat=len(probabilities)):
        if not any(weights) or np.gcd.reduce(np.asarray(weights, dtype=np.int64)) > 1:
            continue  # all zero, or a multiple of a combination already tried
        predicted = weighted_mean(stacked, weights).argmax(axis=1)
        score = (accuracy_score(labels, predicted), f1_score(labels, predicted, average="macro", zero_division=0))
        if score > best[:2]:
            best = (*score, tuple(float(w) for w in weights))
    return best[2], best[0], best[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.ensemble.fit_weights", description=__doc__.splitlines()[0])
    parser.add_argument("--member", action="append", required=True, metavar="SPEC", help="member classifier (repeat)")
    parser.add_argument("--data", required=True, help="the validation data (e.g. FER+ votes: majority labels)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--grid", type=float, nargs="+", default=[0, 1, 2, 3], help="weights tried per member")
    parser.add_argument("--out", type=Path, help="write the ensemble with the chosen weights here")
    args = parser.parse_args(argv)
    from .plugin import Ensemble

    probabilities, labels = member_probabilities(args.member, args.data, args.split)
    weights, accuracy, macro_f1 = best_weights(probabilities, labels, args.grid)
    kept = [(m, w) for m, w in zip(args.member, weights) if w > 0]
    print(f"chosen on the {args.split} split of {args.data}: " + ", ".join(f"{m} x{w:g}" for m, w in kept)
          + f"; accuracy {accuracy:.4f}, macro F1 {macro_f1:.4f} (optimistic: chosen on these faces)")
    if args.out:
        members, member_weights = zip(*kept)
        Ensemble.from_config(members=list(members), weights=list(member_weights)).save_pretrained(
            args.out, training_data=f"none of its own: members {', '.join(members)}; weights "
                                    f"{':'.join(f'{w:g}' for w in member_weights)} chosen on the {args.split} split "
                                    f"of {Path(args.data).name}")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
