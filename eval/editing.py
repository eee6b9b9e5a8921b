"""Metrics for expression-editing generators (those that take an ``image`` option: stargan, sd_lora).

Every real face is edited to each of the seven emotions through the generator's public editing
path (``generate(EMOTIONS, image=face)``), then:

- target accuracy: a judge classifier (independent of the editor) reads each face edited to an
  emotion other than its own; intended vs recognised target gives the confusion matrix, the
  accuracy (balanced: every target has one edit per face), macro F1 and per-target recall;
- identity: SSIM (torchmetrics) between each such edit and its input, on gray faces at the edit's
  size, and the cosine distance between the two in the judge's features;
- reconstruction: the mean absolute pixel difference (0-1 scale) and SSIM when the target is the
  face's own emotion (a translator should then change nothing);
- the reference: the same judge's accuracy on the unedited faces, so a reader can see whether
  edited expressions are as recognisable as real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from registry.emotions import EMOTIONS
from registry.errors import InputError

from .classification import classification_metrics

__all__ = ["edit_faces", "editing_metrics"]


def _gray(image: Any, size: int) -> np.ndarray:
    import cv2

    array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if array.ndim == 3:
        array = cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)
    if array.shape[:2] != (size, size):
        array = cv2.resize(array, (size, size), interpolation=cv2.INTER_AREA if array.shape[0] > size else cv2.INTER_LINEAR)
    return array


def edit_faces(editor: Any, faces: Sequence[np.ndarray], **options: Any) -> list[list[np.ndarray]]:
    """``out[i][k]``: face ``i`` edited to ``EMOTIONS[k]``, as RGB uint8 arrays."""
    if not editor.edits():
        raise InputError(f"{editor.name} does not edit faces (it takes no image); choose an editing generator")
    return [[np.asarray(im.convert("RGB")) for im in editor.generate(list(EMOTIONS), seed=0, image=face, **options)]
            for face in faces]


def editing_metrics(editor: Any, judge: Any, faces: Sequence[np.ndarray], labels: Sequence[int], *,
                    n_resamples: int = 1000, seed: int = 0, **options: Any) -> dict[str, Any]:
    """Every editing metric for real ``faces`` (RGB uint8) with emotions ``labels``, JSON-ready
    (``edits`` holds the edited faces, for figures, and is not)."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    labels = np.asarray(labels, dtype=int)
    if len(faces) == 0 or len(faces) != len(labels):
        raise InputError(f"give as many labels as faces to edit, got {len(faces)} faces and {len(labels)} labels")
    edits = edit_faces(editor, faces, **options)
    size = edits[0][0].shape[0]
    k = len(EMOTIONS)
    other = [(i, t) for i in range(len(faces)) for t in range(k) if t != labels[i]]
    own = [(i, int(labels[i])) for i in range(len(faces))]

    edited = [edits[i][t] for i, t in other]
    probs = judge.predict(edited)
    target = classification_metrics(np.array([t for _, t in other]), probs, n_resamples=n_resamples, seed=seed)
    real = classification_metrics(labels, judge.predict(list(faces)), n_resamples=n_resamples, seed=seed)

    def gray_stack(images: Sequence[Any]) -> torch.Tensor:
        return torch.from_numpy(np.stack([_gray(im, size) for im in images])[:, None]).float().div(255.0)

    inputs = gray_stack(faces)
    out_other = gray_stack(edited)
    index_other = torch.as_tensor([i for i, _ in other])
    ssim_other = ssim(out_other, inputs[index_other], data_range=1.0, reduction="none")
    out_own = gray_stack([edits[i][t] for i, t in own])
    ssim_own = ssim(out_own, inputs, data_range=1.0, reduction="none")

    feats_in = np.asarray(judge.embed(list(faces)), dtype=np.float64)
    feats_out = np.asarray(judge.embed(edited), dtype=np.float64)
    a, b = feats_out, feats_in[index_other.numpy()]
    cosine = 1 - (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    recall = {name: row["recall"] for name, row in target.per_class.items()}
    return {
        "judge_accuracy": target.balanced_accuracy,
        "judge_macro_f1": target.macro_f1,
        "per_target_recall": recall,
        "target": target.as_dict(),
        "ssim": float(ssim_other.mean()),
        "judge_feature_distance": float(cosine.mean()),
        "reconstruction_l1": float((out_own - inputs).abs().mean()),
        "reconstruction_ssim": float(ssim_own.mean()),
        "real_accuracy": real.balanced_accuracy,
        "real": real.as_dict(),
        "n_faces": len(faces),
        "n_edits": len(edited),
        "edits": edits,
    }
