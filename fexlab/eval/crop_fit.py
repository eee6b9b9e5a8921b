"""Which crop margin (and eye alignment) suits each classifier, measured end to end on whole photos.

``python -m fexlab.eval.crop_fit --data ../shared/data/muxspace/legend.csv --split val`` finds the
largest face of every photo once with the default detector, then scores every classifier on
crops of it at each margin, with and without the eyes levelled: accuracy and macro F1 on the
photos where a face was found. The margin a classifier should use (its config's
``crop_margin``) is the one with the best macro F1 here; a classifier trained on crops framed
like Haar's boxes wants a wider margin around BlazeFace's tighter ones.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .photos import crops, largest_faces

__all__ = ["DEFAULT_MARGINS", "crop_fit", "markdown"]

DEFAULT_MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def crop_fit(classifiers: Sequence[str], data: str, split: str = "val", detector: str | None = None,
             margins: Sequence[float] = DEFAULT_MARGINS, aligns: Sequence[bool] = (False, True),
             registry: Any = None, per_class: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Accuracy and macro F1 of each classifier at each margin and alignment, on the same faces
    (with ``per_class``: at most that many photos of each emotion, seeded)."""
    from sklearn.metrics import accuracy_score, f1_score

    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import DEFAULT_DETECTOR, default_registry

    registry = registry or default_registry()
    detector = detector or DEFAULT_DETECTOR
    dataset = open_dataset(data)
    part = dataset.split(split)
    if per_class:
        labels = part.labels()
        rng = np.random.default_rng(seed)
        chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)])
        part = part.subset(np.sort(chosen))
    faces, found = largest_faces(registry.detector(detector), part)
    images, labels = found.images(range(len(found))), found.labels()
    rows = []
    for spec in classifiers:
        classifier = registry.classifier(spec)
        for align in aligns:
            for margin in margins:
                predicted = classifier.predict(crops(classifier, images, faces, align, margin)).argmax(axis=1)
                rows.append({"classifier": spec, "margin": float(margin), "align": bool(align),
                             "accuracy": float(accuracy_score(labels, predicted)),
                             "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
                             "configured_margin": classifier.input_spec().crop_margin})
    return {"data": dataset.name, "split": split + (f", at most {per_class} photos per emotion (seed {seed})"
                                                    if per_class else ""), "detector": detector, "photos": len(part), "faces": len(found),
            "rows": rows}


def best_margins(result: dict[str, Any], align: bool = False) -> dict[str, float]:
    """Each classifier's margin with the best macro F1 (without alignment unless ``align``)."""
    best: dict[str, tuple[float, float]] = {}
    for row in result["rows"]:
        if row["align"] == align and row["macro_f1"] > best.get(row["classifier"], (-1.0, 0.0))[0]:
            best[row["classifier"]] = (row["macro_f1"], row["margin"])
    return {name: margin for name, (_, margin) in best.items()}


def markdown(result: dict[str, Any]) -> str:
    """One row per classifier and alignment, one column per margin: "accuracy / macro F1"."""
    margins = sorted({row["margin"] for row in result["rows"]})
    lines = [f"{result['data']}, {result['split']} split: {result['faces']} of {result['photos']} photos with a face "
             f"found by {result['detector']} (its largest face); accuracy / macro F1; **bold**: the best macro F1 "
             "of the row, *configured*: the classifier's margin",
             "", "| classifier | eyes | " + " | ".join(f"margin {m:g}" for m in margins) + " |",
             "|---|---|" + "---|" * len(margins)]
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for row in result["rows"]:
        groups.setdefault((row["classifier"], row["align"]), []).append(row)
    for (name, align), rows in groups.items():
        top = max(r["macro_f1"] for r in rows)
        cells = []
        for margin in margins:
            row = next(r for r in rows if r["margin"] == margin)
            text = f"{row['accuracy']:.1%} / {row['macro_f1']:.3f}"
            text = f"**{text}**" if row["macro_f1"] == top else text
            cells.append(text + (" *configured*" if abs(row["configured_margin"] - margin) < 1e-9 else ""))
        lines.append(f"| {name} | {'levelled' if align else 'as detected'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.eval.crop_fit", description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", action="append", default=[], metavar="NAME[:CHECKPOINT]",
                        help="classifier to measure (repeat; default: every shipped tag but the ensemble)")
    parser.add_argument("--data", required=True, help="whole photos with labels (e.g. muxspace/legend.csv)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--detector", help="face detector (default: fexlab's default)")
    parser.add_argument("--margin", type=float, action="append", help="margins to try (repeat)")
    parser.add_argument("--per-class", type=int, metavar="N", help="at most N photos of each emotion (seeded)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    from fexlab.registry import default_registry

    registry = default_registry()
    classifiers = args.classifier or [f"{name}.{tag}" for name in registry.ready_names("classifier")
                                      if name != "ensemble" for tag in registry.plugin_class("classifier", name).pretrained]
    result = crop_fit(classifiers, args.data, args.split, args.detector, args.margin or DEFAULT_MARGINS,
                      registry=registry, per_class=args.per_class)
    print(markdown(result))
    print("\nbest margin (as detected): " + ", ".join(f"{k} {v:g}" for k, v in best_margins(result).items()))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
