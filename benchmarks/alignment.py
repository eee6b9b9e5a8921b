"""Does levelling the eyes before the crop help a classifier? Measured on real photographs.

The muxspace faces (real photos from the web, labelled in ``legend.csv``; read by path from the
shared data folder, never copied) go through the whole prediction path: detector -> crop (or
eyes levelled on the detector's keypoints, then crop) -> classifier. Up to ``per_class`` faces of
each emotion, seeded. Accuracy and macro F1 on the faces the detector found (the largest face of
each photo), for each classifier, detector and alignment setting, side by side in one run.
"""

from __future__ import annotations

import numpy as np

from .detection import real_faces_dir
from .harness import Row

__all__ = ["alignment_effect"]


def _photos(per_class: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    from preprocessing.readers import open_dataset

    dataset = open_dataset(str(real_faces_dir() / "muxspace" / "legend.csv"))
    labels = np.asarray(dataset.labels())
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)])
    chosen.sort()
    part = dataset.subset(chosen)
    return list(part.images(range(len(part)))), labels[chosen]


def alignment_effect(classifiers: tuple[str, ...] | None = None, per_class: int = 250, seed: int = 0) -> list[Row]:
    """Accuracy with and without eye alignment, per classifier (default: every ready one but the
    ensemble, whose members are measured) and detector."""
    from sklearn.metrics import accuracy_score, f1_score

    from predict import Predictor
    from registry import default_registry

    if not (real_faces_dir() / "muxspace" / "legend.csv").is_file():
        return [Row("alignment", "-", None, "accuracy", note=f"not run: no muxspace faces at {real_faces_dir()}")]
    images, labels = _photos(per_class, seed)
    registry = default_registry()
    if classifiers is None:
        classifiers = tuple(n for n in registry.ready_names("classifier") if n != "ensemble")
    models = {name: registry.classifier(name) for name in classifiers}
    rows = []
    for detector_name in ("haar", "blazeface"):
        detector = registry.detector(detector_name)
        for align in (False, True):
            predictor = Predictor(models, detector, align=align)
            found, truth = {name: [] for name in models}, []
            for image, label in zip(images, labels):
                faces = predictor.predict_frames([image])[0]
                if not faces:
                    continue
                face = max(faces, key=lambda f: f.box[2] * f.box[3])
                truth.append(label)
                for name in models:
                    found[name].append(int(np.argmax(face.probabilities[name])))
            for name in models:
                predicted = np.array(found[name])
                rows.append(Row(f"alignment ({name})", f"{detector_name}, {'eyes levelled' if align else 'no alignment'}",
                                float(accuracy_score(truth, predicted)) if truth else None, "accuracy",
                                note=f"macro F1 {f1_score(truth, predicted, average='macro') if truth else 0:.3f}; "
                                     f"{len(truth)} of {len(images)} muxspace photos with a face found",
                                extra={"faces": len(truth), "photos": len(images)}))
    return rows
