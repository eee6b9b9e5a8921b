"""Action units on real faces: each unit's mean per labelled emotion, and how well each emotion's
prototype of units tells its faces from the others.

``python -m fexlab.eval.action_units --data ../shared/data/fer2013 --split val --detector full_frame``
(face crops: the whole image is the face) or ``--data ../shared/data/muxspace/legend.csv`` (photos:
the detector's largest face). Each face goes through a face analyzer (default ``face_mesh``); faces
it finds no face in (presence below its threshold) are counted and left out. An emotion's
prototype score is the mean of its units (EMFACS prototypes, :data:`PROTOTYPES`); its ROC AUC is
how well that score ranks the faces of the emotion above all others (0.5: chance).
The action units are estimates derived from blendshapes, not a FACS-trained model's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry import EMOTIONS, Face

__all__ = ["PROTOTYPES", "au_figures", "markdown", "measure"]

#: Emotion -> the action units of its prototype (after EMFACS).
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "happy": ("AU6", "AU12"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "angry": ("AU4", "AU5", "AU7", "AU23"),
    "disgust": ("AU9", "AU15"),
    "sad": ("AU1", "AU4", "AU15"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU20", "AU26"),
}


def au_figures(units: np.ndarray, names: list[str], labels: np.ndarray) -> dict[str, Any]:
    """Per-emotion means of (N, U) ``units`` (columns ``names``) and each prototype's ROC AUC."""
    from sklearn.metrics import roc_auc_score

    means = {EMOTIONS[e]: dict(zip(names, units[labels == e].mean(axis=0).round(4).tolist()))
             for e in range(len(EMOTIONS)) if (labels == e).any()}
    aucs = {}
    for emotion, prototype in PROTOTYPES.items():
        target = labels == EMOTIONS.index(emotion)
        if target.any() and not target.all():
            score = units[:, [names.index(unit) for unit in prototype]].mean(axis=1)
            aucs[emotion] = round(float(roc_auc_score(target, score)), 4)
    return {"means": means, "auc": aucs, "counts": {EMOTIONS[e]: int((labels == e).sum()) for e in range(len(EMOTIONS))}}


def measure(data: str, split: str = "val", detector: str = "full_frame", analyzer: str = "face_mesh",
            registry: Any = None, progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Action units of every face of ``data``'s ``split``, summed up by :func:`au_figures`."""
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import default_registry

    from .photos import largest_faces

    registry = registry or default_registry()
    model, part = registry.analyzer(analyzer), open_dataset(data).split(split)
    if detector == "full_frame":
        found = part
        faces = [None] * len(part)
    else:
        faces, found = largest_faces(registry.detector(detector), part)
    labels, rows, kept = found.labels(), [], []
    names: list[str] = []
    for start in range(0, len(found), 256):
        for k, image in enumerate(found.images(range(start, min(start + 256, len(found))))):
            face = faces[start + k] or Face((0, 0, image.shape[1], image.shape[0]))
            analysis = model.analyze(image, [face])[0]
            if model.present(analysis) and "action_units" in analysis:
                names = names or list(analysis["action_units"])
                rows.append([analysis["action_units"][unit] for unit in names])
                kept.append(start + k)
        if progress is not None:
            progress(f"{min(start + 256, len(found))}/{len(found)} faces")
    units, labels = np.asarray(rows, np.float64), np.asarray(labels)[kept]
    return {"data": data, "split": split, "detector": detector, "analyzer": analyzer, "images": len(part),
            "faces_found": len(found), "faces_analysed": len(kept), **au_figures(units, names, labels)}


def markdown(result: dict[str, Any]) -> str:
    """The means as an emotion x unit table, then the prototypes' ROC AUC."""
    units = list(next(iter(result["means"].values())))
    lines = [f"{result['data']} ({result['split']}): {result['faces_analysed']} of {result['images']} faces analysed "
             f"(detector {result['detector']}, the rest without a face the mesh accepts); action units are "
             "estimates from blendshapes", "",
             "| emotion | faces | " + " | ".join(units) + " |", "|---|---|" + "---|" * len(units)]
    for emotion, means in result["means"].items():
        lines.append(f"| {emotion} | {result['counts'][emotion]} | " + " | ".join(f"{means[u]:.2f}" for u in units) + " |")
    lines += ["", "| prototype | units | ROC AUC |", "|---|---|---|"]
    for emotion, auc in result["auc"].items():
        lines.append(f"| {emotion} | {'+'.join(u[2:] for u in PROTOTYPES[emotion])} | {auc:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fexlab.eval.action_units", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a labelled data set (class folders, image list, FER2013 CSV)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--detector", default="full_frame", help="full_frame for face crops, else a detector")
    parser.add_argument("--analyzer", default="face_mesh")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = measure(args.data, args.split, args.detector, args.analyzer, progress=print)
    print(markdown(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
