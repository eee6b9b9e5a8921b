"""Classifiers on whole photos, end to end: the detector finds the face, each classifier sees its crop.

A figure on face crops says how well a classifier reads a face that someone cut out for it; on
whole photos the detector's box, the crop margin and the alignment decide what it sees, as in
``fexlab predict``. :func:`largest_faces` runs the detector once per photo (its largest face is
the labelled one); :func:`crops` cuts each classifier's own crop of it (its config's
``crop_margin``, eyes levelled or not), so every classifier and margin is scored on the same faces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fexlab.preprocessing.align import classifier_crop
from fexlab.registry.detector import Face

__all__ = ["crops", "largest_faces"]


def largest_faces(detector: Any, part: Any, progress: Callable[[float, str], Any] | None = None,
                  chunk: int = 256) -> tuple[list[Face], Any]:
    """The largest face the detector finds in each image of ``part`` (a FaceDataset), and the part
    reduced to the images where it found one (same order)."""
    found, faces = [], []
    for start in range(0, len(part), chunk):
        for k, image in enumerate(part.images(range(start, min(start + chunk, len(part))))):
            detections = detector.detect(image)
            if detections:
                found.append(start + k)
                faces.append(max(detections, key=lambda face: face.box[2] * face.box[3]))
        if progress is not None:
            progress(0.0, f"finding faces: {min(start + chunk, len(part))}/{len(part)} photos")
    return faces, part.subset(np.asarray(found, dtype=np.int64))


def crops(classifier: Any, images: Sequence[np.ndarray], faces: Sequence[Face], align: bool = False,
          margin: float | None = None) -> list[np.ndarray]:
    """``classifier``'s crop of each face (its own margin unless ``margin`` is given)."""
    margin = classifier.input_spec().crop_margin if margin is None else margin
    return [classifier_crop(image, face, margin, align) for image, face in zip(images, faces)]
