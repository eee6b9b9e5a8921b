"""Metrics for face generators, judged by any registered classifier.

- Expression: the judge classifies every generated face; intended vs recognised emotion gives a
  confusion matrix, expression accuracy and macro F1 (the StarGAN / RaFD protocol).
- Realism: Frechet and kernel (KID) distances between real and generated faces in the judge's
  feature space (:meth:`registry.Classifier.embed`), per emotion and overall, computed by
  torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` from the judge's
  features (so "FID" here is a Frechet *judge* distance: comparable between generators under
  the same judge and data, not with published Inception FIDs). :func:`feature_distances` takes
  any feature extractor; the editors' realism uses ImageNet features (:mod:`fexlab.plugins.efficientnet.features`).
- Diversity within an emotion: the mean pairwise cosine distance (scipy ``pdist``) between the
  judge features of the faces generated for that emotion. LPIPS would need ImageNet backbone
  weights that cannot be downloaded offline, so this feature-space distance stands in for it;
  0 means every face looks the same to the judge.
- Identity consistency: with one seed the generator should keep the identity across emotions.
  torchmetrics' SSIM is averaged over pairs of faces from the same seed with different emotions
  and, as the baseline, over pairs from different seeds with different emotions; the gap
  (``consistency``) is above 0 when a seed fixes the identity.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fexlab.registry.classifier import Classifier
from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import InputError

from .classification import classification_metrics

__all__ = [
    "FeatureDistances",
    "feature_distances",
    "frechet_distances",
    "generator_metrics",
    "identity_consistency",
    "resize_faces",
    "within_diversity",
]


def resize_faces(faces: Sequence[np.ndarray], size: int) -> np.ndarray:
    """RGB uint8 faces of any size -> one (N, size, size, 3) uint8 array, resized as the judge
    would resize them itself (area when shrinking, bilinear when enlarging)."""
    import cv2

    from fexlab.registry.classifier import _as_rgb_uint8

    out = np.empty((len(faces), size, size, 3), dtype=np.uint8)
    for i, face in enumerate(faces):
        face = _as_rgb_uint8(face)
        if face.shape[:2] != (size, size):
            face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR)
        out[i] = face
    return out


class _Precomputed(nn.Module):
    """The torchmetrics ``feature=`` module for features computed beforehand: (N, D) in, (N, D) out.

    ``num_features`` is set so torchmetrics needs no dummy forward."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


@dataclass
class FeatureDistances:
    """Frechet distance and KID (mean, std) per group and over all groups, plus the generated
    faces' features per group (for diversity). A value is None where a group has < 2 faces (and
    every KID when it was not asked for)."""

    fid: dict[str, float | None]
    kid: dict[str, tuple[float, float] | None]
    fake_features: dict[str, np.ndarray]


@contextlib.contextmanager
def _seeded_torch(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _embed_groups(faces: Mapping[str, Sequence[np.ndarray]], groups: Sequence[str],
                  features: Any) -> dict[str, np.ndarray]:
    """Every group's faces embedded in one call (the extractor batches them), split back by group."""
    every = [face for g in groups for face in faces[g]]
    embedded = np.asarray(features.embed(every), dtype=np.float64) if every else np.zeros((0, 0))
    bounds = np.cumsum([0, *(len(faces[g]) for g in groups)])
    return {g: embedded[a:b] for g, a, b in zip(groups, bounds[:-1], bounds[1:])}


def frechet_distances(
    real: Mapping[str, np.ndarray], fake: Mapping[str, np.ndarray], *, seed: int = 0, kid_subsets: int = 100,
) -> FeatureDistances:
    """FID and KID between the feature rows ``real[g]`` and ``fake[g]`` ((N, D) arrays) of every
    group ``g`` in both, and between all real and all fake rows ("overall").

    torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` read the features
    as they are (only features are held in memory). KID's random subsets (of at most 1000 rows)
    are drawn from ``seed``, so results repeat; ``kid_subsets=0`` leaves KID out.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    groups = [g for g in fake if g in real]
    sets = {kind: {g: torch.from_numpy(np.asarray(rows[g], dtype=np.float64)) for g in groups if len(rows[g])}
            for kind, rows in (("real", real), ("fake", fake))}
    for by_group in sets.values():
        if by_group:
            by_group["overall"] = torch.cat(list(by_group.values()))
    dim = next((x.shape[1] for by_group in sets.values() for x in by_group.values()), 1)
    extractor = _Precomputed(dim)
    fid_out: dict[str, float | None] = {}
    kid_out: dict[str, tuple[float, float] | None] = {}
    for group in [*groups, "overall"]:
        n = min(len(sets["real"].get(group, ())), len(sets["fake"].get(group, ())))
        fid_out[group] = kid_out[group] = None
        if n < 2:
            continue
        fid = FrechetInceptionDistance(feature=extractor, normalize=False)
        fid.update(sets["real"][group], real=True)
        fid.update(sets["fake"][group], real=False)
        fid_out[group] = float(fid.compute())
        if kid_subsets > 0:
            with warnings.catch_warnings():  # KID warns that it keeps every feature: a few thousand here
                warnings.simplefilter("ignore", UserWarning)
                kid = KernelInceptionDistance(feature=extractor, subsets=kid_subsets, subset_size=min(n, 1000),
                                              normalize=False)
            kid.update(sets["real"][group], real=True)
            kid.update(sets["fake"][group], real=False)
            with _seeded_torch(seed):
                mean, std = kid.compute()
            kid_out[group] = (float(mean), float(std))
    return FeatureDistances(fid_out, kid_out, {g: np.asarray(fake[g]) for g in groups})


def feature_distances(
    real: Mapping[str, Sequence[np.ndarray]], fake: Mapping[str, Sequence[np.ndarray]], features: Any, *,
    seed: int = 0, kid_subsets: int = 100,
) -> FeatureDistances:
    """FID and KID between the faces ``real[g]`` and ``fake[g]`` of every group ``g`` (e.g. an
    emotion), and overall (:func:`frechet_distances`), in the feature space of ``features``:
    anything with ``embed(list of RGB uint8 faces) -> (N, D)`` that resizes faces itself, such as
    a judge classifier or :class:`fexlab.plugins.efficientnet.features.ImageNetFeatures`. Each face is
    embedded once, in the extractor's batches."""
    groups = [g for g in fake if g in real]
    return frechet_distances(_embed_groups(real, groups, features), _embed_groups(fake, groups, features),
                             seed=seed, kid_subsets=kid_subsets)


def within_diversity(features: np.ndarray) -> float | None:
    """Mean pairwise cosine distance between the rows of ``features`` (None for < 2 rows)."""
    from scipy.spatial.distance import pdist

    features = np.asarray(features, dtype=np.float64)
    if len(features) < 2:
        return None
    return float(np.nan_to_num(pdist(features, metric="cosine")).mean())


def identity_consistency(faces_by_seed: Sequence[Sequence[np.ndarray]], size: int = 64) -> dict[str, float] | None:
    """SSIM between faces of one seed across emotions vs between faces of different seeds.

    ``faces_by_seed[s][e]`` is the face of seed ``s`` for emotion ``e`` (same emotions, same order
    for every seed). Returns ``same_seed`` and ``other_seed`` mean SSIM (pairs always differ in
    emotion) and their difference ``consistency``; None with fewer than 2 seeds or emotions.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    n_seeds = len(faces_by_seed)
    n_emotions = min((len(row) for row in faces_by_seed), default=0)
    if n_seeds < 2 or n_emotions < 2:
        return None
    stack = resize_faces([face for row in faces_by_seed for face in row[:n_emotions]], size)
    images = torch.from_numpy(stack.transpose(0, 3, 1, 2)).float().div(255.0)
    index = np.arange(n_seeds * n_emotions).reshape(n_seeds, n_emotions)
    same, other = [], []
    for s1 in range(n_seeds):
        for e1 in range(n_emotions):
            for s2 in range(s1, n_seeds):
                for e2 in range(n_emotions):
                    if e1 == e2 or (s1 == s2 and e2 <= e1):
                        continue
                    (same if s1 == s2 else other).append((index[s1, e1], index[s2, e2]))

    def mean_ssim(pairs: list[tuple[int, int]]) -> float:
        a, b = (torch.as_tensor([p[k] for p in pairs]) for k in (0, 1))
        return float(ssim(images[a], images[b], data_range=1.0, reduction="none").mean())

    same_value, other_value = mean_ssim(same), mean_ssim(other)
    return {"same_seed": same_value, "other_seed": other_value, "consistency": same_value - other_value}


def generator_metrics(
    generated: Mapping[str, Sequence[np.ndarray]], real: Mapping[str, Sequence[np.ndarray]], judge: Classifier, *,
    seed: int = 0, identity_seeds: int = 8, kid_subsets: int = 100, n_resamples: int = 1000,
) -> dict[str, Any]:
    """Every generator metric, JSON-ready.

    ``generated[emotion][k]`` is the face generated for ``emotion`` from the k-th seed (the same
    seeds for every emotion); ``real[emotion]`` are real (or data set) faces of that emotion.
    """
    emotions = [e for e in EMOTIONS if len(generated.get(e, ())) > 0]
    unknown = sorted(set(generated) - set(EMOTIONS))
    if unknown or not emotions:
        raise InputError(f"generated faces must be keyed by emotions {list(EMOTIONS)}, got {sorted(generated)}")
    faces = [face for e in emotions for face in generated[e]]
    intended = np.array([EMOTIONS.index(e) for e in emotions for _ in generated[e]])
    expression = classification_metrics(intended, judge.predict(faces), seed=seed, n_resamples=n_resamples)
    distances = feature_distances(real, {e: generated[e] for e in emotions}, judge, seed=seed, kid_subsets=kid_subsets)
    diversity = {e: within_diversity(distances.fake_features[e]) for e in emotions if e in distances.fake_features}
    known = [v for v in diversity.values() if v is not None]
    n_seeds = min(identity_seeds, min(len(generated[e]) for e in emotions))
    by_seed = [[generated[e][k] for e in emotions] for k in range(n_seeds)]
    return {
        "expression_accuracy": expression.accuracy,
        "expression_macro_f1": expression.macro_f1,
        "expression": expression.as_dict(),
        "fid": distances.fid,
        "kid": distances.kid,
        "diversity": {"overall": float(np.mean(known)) if known else None, "per_emotion": diversity},
        "identity": identity_consistency(by_seed, size=judge.input_spec().size),
        "n_generated": len(faces),
        "n_real": {e: len(real.get(e, ())) for e in emotions},
    }
