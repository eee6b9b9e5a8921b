"""Metrics for expression-editing generators (those that take an ``image`` option: stargan, sd_lora).

Faces come in two ways, and the same metrics come out:

- face crops (:func:`editing_metrics`): every real face is edited to each of the seven emotions
  through the generator's public editing path (``generate(EMOTIONS, image=face)``);
- whole photos (:func:`photo_editing_metrics`): every photo goes through the public photo path,
  :func:`editing.edit_photo` (find the face, edit it, paste it back at the photo's resolution),
  and the judge reads the face cut from the photo and from each edited photo at the detector's
  box with its own crop (:func:`fexlab.eval.photos.crops`), as classifiers are scored on whole photos.

Then:

- target accuracy: a judge classifier (independent of the editor) reads each face edited to an
  emotion other than its own; intended vs recognised target gives the confusion matrix, the
  accuracy (balanced: every target has one edit per face), macro F1 and per-target recall, and
  each target's recall is set beside the judge's recall of the real faces of that emotion
  (``target_recall_vs_real``): an edit is as recognisable as a real face when they match;
- identity: SSIM (torchmetrics) between each such edit and its input, on gray faces (at the
  edit's size for crops, :data:`PHOTO_SSIM_SIZE` for photos, whose faces differ in size), and the
  cosine distance between the two in the judge's features;
- realism: the Frechet distance between the edits to an emotion and the real faces of that
  emotion (``realism_fid_per_target``) and between all edits and all real faces
  (``realism_fid``), in a feature space no expression model shaped (ImageNet features,
  :mod:`fexlab.plugins.efficientnet.features`, given as ``features``);
- realism against a no-edit control (``realism_control``, per target and overall): in the same
  features, on equal numbers of faces, the Frechet distance from the real faces of the target
  emotion (one half of them) to the edits, to the same faces unedited, and to the other half of the
  real faces (the floor); ``toward_real`` is the share of the way the edits moved from the
  unedited faces' distance to the floor (1: as close as real faces; 0 or less: no closer than
  before the edit). And a linear probe (logistic regression, cross-validated ROC AUC) that tells
  the edits from the other half of real faces, beside the same probe on the unedited faces: where
  the photos' sources differ, even the unedited faces are told apart, so the probe is read only
  against that control;
- reconstruction: the mean absolute pixel difference (0-1 scale) and SSIM when the target is the
  face's own emotion (a translator should then change nothing);
- the reference: the same judge's accuracy on the unedited faces, so a reader can see whether
  edited expressions are as recognisable as real ones.

Faces (photos) the editor cannot edit (an :class:`InputError`, such as no face found) are left
out and counted (``n_skipped``). Faces are measured in chunks and only their scores and features
are kept, so memory stays bounded however many faces are edited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

from .classification import classification_metrics

__all__ = ["MIN_REALISM_FACES", "PHOTO_SSIM_SIZE", "editing_metrics", "photo_editing_metrics", "realism_control"]

#: Side of the gray faces SSIM compares on whole photos.
PHOTO_SSIM_SIZE = 128
#: Faces measured at once: with their 56 edits, what SSIM at 128 px (torchmetrics) holds in a few
#: hundred MB.
_CHUNK = 8
#: Faces kept, as they are and edited, for the figures (evenly spaced over the faces given).
_EXAMPLES = 8
#: Reasons for skipped faces kept in the metrics, the first ones.
_REASONS = 3


def _gray(image: Any, size: int) -> np.ndarray:
    import cv2

    array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if array.ndim == 3:
        array = cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)
    if array.shape[:2] != (size, size):
        array = cv2.resize(array, (size, size), interpolation=cv2.INTER_AREA if array.shape[0] > size else cv2.INTER_LINEAR)
    return array


def _check_editor(editor: Any) -> None:
    if not editor.edits():
        raise InputError(f"{editor.name} does not edit faces (it takes no image); choose an editing generator")


def _check_labels(n_faces: int, labels: Sequence[int]) -> np.ndarray:
    labels = np.asarray(labels, dtype=int)
    if n_faces == 0 or n_faces != len(labels):
        raise InputError(f"give as many labels as faces to edit, got {n_faces} faces and {len(labels)} labels")
    return labels


class _Measures:
    """What the judge (and the realism features) read of edited faces, a chunk at a time: per
    face its label, the judge on it, SSIM and L1 of its own-emotion edit; per edit to another
    emotion its target, the judge on it, SSIM and judge-feature distance to its input."""

    def __init__(self, judge: Any, features: Any | None, ssim_size: int | None, n_faces: int):
        self.judge, self.features, self.ssim_size = judge, features, ssim_size
        self.parts: dict[str, list[np.ndarray]] = {}
        self.pending: list[tuple[int, np.ndarray, int, list[np.ndarray]]] = []
        self.shown = set(np.linspace(0, n_faces - 1, min(_EXAMPLES, n_faces)).round().astype(int).tolist())
        self.examples: dict[str, list[np.ndarray]] = {}
        self.skipped: list[str] = []
        self.edit_seconds = 0.0

    def edited(self, index: int, face: np.ndarray, label: int, edits: list[np.ndarray]) -> None:
        """Face ``index`` of those given, as it is and edited to each emotion (RGB uint8)."""
        if index in self.shown:
            self.examples[f"{index + 1}: {EMOTIONS[label]}"] = [face, *edits]
        self.pending.append((index, face, label, edits))
        if len(self.pending) >= _CHUNK:
            self.flush()

    def skip(self, reason: str) -> None:
        self.skipped.append(reason)

    def _keep(self, **arrays: np.ndarray) -> None:
        for key, value in arrays.items():
            self.parts.setdefault(key, []).append(value)

    def flush(self) -> None:
        """Measure the faces edited since the last call, keeping only scores and features."""
        import torch
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        if not self.pending:
            return
        _, faces, labels, edits = zip(*self.pending)
        self.pending = []
        k, n = len(EMOTIONS), len(faces)
        other = [(i, t) for i in range(n) for t in range(k) if t != labels[i]]
        source = np.asarray([i for i, _ in other])
        seen = [*faces, *(edits[i][t] for i, t in other)]
        probs = self.judge.predict(seen)
        judged = np.asarray(self.judge.embed(seen), dtype=np.float64)
        a, b = judged[n:], judged[source]
        cosine = 1 - (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        size = self.ssim_size or edits[0][0].shape[0]
        inputs = torch.from_numpy(np.stack([_gray(face, size) for face in faces])[:, None]).float().div(255.0)
        outputs = torch.from_numpy(np.stack([_gray(e, size) for row in edits for e in row])[:, None]).float().div(255.0)
        repeated = inputs.repeat_interleave(k, dim=0)
        similarity = ssim(outputs, repeated, data_range=1.0, reduction="none").reshape(n, k).numpy()
        error = (outputs - repeated).abs().mean(dim=(1, 2, 3)).reshape(n, k).numpy()
        own = np.asarray(labels)
        self._keep(labels=own, targets=np.asarray([t for _, t in other]), real_probs=probs[:n], edit_probs=probs[n:],
                   cosine=cosine, ssim_other=similarity[source, [t for _, t in other]],
                   ssim_own=similarity[np.arange(n), own], l1_own=error[np.arange(n), own])
        if self.features is not None:
            features = np.asarray(self.features.embed(seen), dtype=np.float64)
            self._keep(real_features=features[:n], edit_features=features[n:], source_features=features[source])

    def metrics(self, n_resamples: int, seed: int) -> dict[str, Any]:
        """Every editing metric, JSON-ready (``examples``, the faces for the figures, is not)."""
        from .generation import frechet_distances

        self.flush()
        if not self.parts:
            reasons = "; ".join(dict.fromkeys(self.skipped)) or "no faces given"
            raise InputError(f"the editor edited none of the {len(self.skipped)} faces: {reasons}")
        got = {key: np.concatenate(chunks) for key, chunks in self.parts.items()}
        labels, targets = got["labels"], got["targets"]
        target = classification_metrics(targets, got["edit_probs"], n_resamples=n_resamples, seed=seed)
        real = classification_metrics(labels, got["real_probs"], n_resamples=n_resamples, seed=seed)
        beside = {}
        for emotion in EMOTIONS:
            edits, faces = target.per_class[emotion], real.per_class[emotion]
            beside[emotion] = {"edits": edits["recall"] if edits["support"] else None,
                               "real": faces["recall"] if faces["support"] else None,
                               "n_edits": edits["support"], "n_real": faces["support"]}
        realism_fid, per_target, control = None, dict.fromkeys(EMOTIONS), None
        if self.features is not None:
            k = range(len(EMOTIONS))
            distances = frechet_distances({EMOTIONS[e]: got["real_features"][labels == e] for e in k},
                                          {EMOTIONS[e]: got["edit_features"][targets == e] for e in k},
                                          seed=seed, kid_subsets=0)
            realism_fid, per_target = distances.fid["overall"], {e: distances.fid[e] for e in EMOTIONS}
            control = realism_control(got["real_features"], labels, got["edit_features"], got["source_features"],
                                      targets, seed=seed)
        return {
            "judge_accuracy": target.balanced_accuracy,
            "judge_macro_f1": target.macro_f1,
            "per_target_recall": {name: row["recall"] for name, row in target.per_class.items()},
            "target_recall_vs_real": beside,
            "target": target.as_dict(),
            "ssim": float(got["ssim_other"].mean()),
            "judge_feature_distance": float(got["cosine"].mean()),
            "realism_fid": realism_fid,
            "realism_fid_per_target": per_target,
            "realism_control": control,
            "realism_features": None if self.features is None else getattr(self.features, "description",
                                                                            type(self.features).__name__),
            "reconstruction_l1": float(got["l1_own"].mean()),
            "reconstruction_ssim": float(got["ssim_own"].mean()),
            "real_accuracy": real.balanced_accuracy,
            "real": real.as_dict(),
            "n_faces": len(labels),
            "n_edits": len(targets),
            "n_skipped": len(self.skipped),
            "skipped": list(dict.fromkeys(self.skipped))[:_REASONS],
            "edit_seconds": self.edit_seconds,
            "examples": self.examples,
        }


#: Fewest faces on each side of a realism comparison: fewer give no figure.
MIN_REALISM_FACES = 8


def realism_control(real: np.ndarray, labels: np.ndarray, edits: np.ndarray, sources: np.ndarray,
                    targets: np.ndarray, *, seed: int = 0, min_faces: int = MIN_REALISM_FACES
                    ) -> dict[str, dict[str, Any] | None]:
    """Per target emotion, and ``overall`` (the targets' distances and AUCs averaged, weighted by
    their faces, and the share of the way from those averages): the realism of the edits against a
    no-edit control.

    ``real`` (features of the real faces, emotions ``labels``) is shuffled and halved per emotion:
    half A is the reference, half B the floor. ``edits[i]`` (features of an edit to ``targets[i]``)
    and ``sources[i]`` (of the same face before the edit) are drawn to as many as the smallest half.
    Each figure is None where fewer than ``min_faces`` faces are on a side."""
    from .generation import frechet_distances

    rng = np.random.default_rng(seed)

    def compare(reference: np.ndarray, floor: np.ndarray, edited: np.ndarray, unedited: np.ndarray) -> dict | None:
        n = min(len(reference), len(floor), len(edited))
        if n < min_faces:
            return None
        pick = rng.permutation(len(edited))[:n]
        sets = {"real_vs_real": floor[:n], "edited": edited[pick], "unedited": unedited[pick]}
        fd = frechet_distances({key: reference[:n] for key in sets}, sets, seed=seed, kid_subsets=0).fid
        gap = fd["unedited"] - fd["real_vs_real"]
        return {"n": int(n), **{f"fd_{key}": fd[key] for key in sets},
                "toward_real": (fd["unedited"] - fd["edited"]) / gap if gap > 0 else None,
                "probe_auc_edited": _probe_auc(reference[:n], edited[pick], seed),
                "probe_auc_unedited": _probe_auc(reference[:n], unedited[pick], seed)}

    out: dict[str, dict[str, Any] | None] = {}
    for e, emotion in enumerate(EMOTIONS):
        mine = real[labels == e][rng.permutation(int((labels == e).sum()))]
        half = len(mine) // 2
        out[emotion] = compare(mine[:half], mine[half:], edits[targets == e], sources[targets == e])
    measured = [row for row in out.values() if row is not None]
    out["overall"] = None
    if measured:  # the targets' distances and AUCs averaged, weighted by their faces; the share from the averages
        n = sum(row["n"] for row in measured)
        overall = {key: sum(row[key] * row["n"] for row in measured) / n for key in measured[0]
                   if key not in ("n", "toward_real")}
        gap = overall["fd_unedited"] - overall["fd_real_vs_real"]
        overall["toward_real"] = (overall["fd_unedited"] - overall["fd_edited"]) / gap if gap > 0 else None
        out["overall"] = {"n": n, **overall}
    return out


def _probe_auc(real: np.ndarray, other: np.ndarray, seed: int) -> float:
    """Cross-validated ROC AUC of a logistic regression telling ``other`` from ``real`` (0.5: it cannot)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([real, other])
    y = np.r_[np.zeros(len(real)), np.ones(len(other))]
    folds = StratifiedKFold(n_splits=min(5, len(real), len(other)), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    return float(cross_val_score(probe, x, y, cv=folds, scoring="roc_auc").mean())


def editing_metrics(editor: Any, judge: Any, faces: Sequence[np.ndarray], labels: Sequence[int], *,
                    features: Any | None = None, n_resamples: int = 1000, seed: int = 0,
                    progress: Callable[[int, int], Any] | None = None, **options: Any) -> dict[str, Any]:
    """Every editing metric for real face crops ``faces`` (RGB uint8) with emotions ``labels``,
    JSON-ready except ``examples`` (a few faces as they are and edited, for figures).

    ``features`` (e.g. :class:`fexlab.plugins.efficientnet.features.ImageNetFeatures`) is the space of the
    realism FID; without it the realism figures are None. ``progress(done, total)`` is called
    as faces are edited.
    """
    labels = _check_labels(len(faces), labels)
    _check_editor(editor)
    measures = _Measures(judge, features, None, len(faces))
    for index, (face, label) in enumerate(zip(faces, labels)):
        began = time.perf_counter()
        try:
            edits = [np.asarray(im.convert("RGB")) for im in editor.generate(list(EMOTIONS), seed=seed, image=face,
                                                                             **options)]
        except InputError as err:
            measures.skip(str(err))
        else:
            measures.edit_seconds += time.perf_counter() - began
            measures.edited(index, np.asarray(face), int(label), edits)
        if progress is not None:
            progress(index + 1, len(faces))
    return measures.metrics(n_resamples, seed)


def photo_editing_metrics(edit_photo: Callable[..., Any], editor: Any, detector: Any, judge: Any,
                          photos: Iterable[np.ndarray], faces: Sequence[Any],
                          labels: Sequence[int], *, align: bool = False, features: Any | None = None,
                          n_resamples: int = 1000, seed: int = 0, progress: Callable[[int, int], Any] | None = None,
                          **options: Any) -> dict[str, Any]:
    """Every editing metric for whole ``photos`` (RGB uint8, an iterable read one at a time, so
    photos can be loaded as they are needed) with emotions ``labels``, as :func:`editing_metrics`.

    Each photo is edited to every emotion by ``edit_photo`` (the pipeline's
    :func:`fexlab.pipeline.editing.edit_photo`) with ``detector`` (its
    largest face only); ``faces[i]`` is the detector's largest face of photo ``i``, where the
    judge's crop (its margin; eyes levelled with ``align``) is cut from the photo and from each
    edited photo. Photos where editing fails with an :class:`InputError` (no face) are skipped and
    counted in ``n_skipped``.
    """
    from .photos import crops

    labels = _check_labels(len(faces), labels)
    _check_editor(editor)
    measures = _Measures(judge, features, PHOTO_SSIM_SIZE, len(faces))
    count = 0
    for index, (photo, face, label) in enumerate(zip(photos, faces, labels)):
        count += 1
        began = time.perf_counter()
        try:
            result = edit_photo(photo, editor, detector, EMOTIONS, seed=seed, max_faces=1, **options)
        except InputError as err:
            measures.skip(str(err))
        else:
            measures.edit_seconds += time.perf_counter() - began
            cut = crops(judge, [photo, *(result.photos[e] for e in EMOTIONS)], [face] * (len(EMOTIONS) + 1), align)
            measures.edited(index, cut[0], int(label), cut[1:])
        if progress is not None:
            progress(index + 1, len(faces))
    if count != len(faces):
        raise InputError(f"give one photo per face, got {count} photos and {len(faces)} faces")
    return measures.metrics(n_resamples, seed)
