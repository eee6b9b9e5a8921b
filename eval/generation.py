"""Metrics for face generators, judged by any registered classifier.

- Expression: the judge classifies every generated face; intended vs recognised emotion gives a
  confusion matrix, expression accuracy and macro F1 (the StarGAN / RaFD protocol).
- Realism: Frechet and kernel (KID) distances between real and generated faces in the judge's
  feature space (:meth:`registry.Classifier.embed`), per emotion and overall, computed by
  torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` with the judge as
  their ``feature=`` module (so "FID" here is a Frechet *judge* distance: comparable between
  generators under the same judge and data, not with published Inception FIDs).
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

from registry.classifier import Classifier
from registry.emotions import EMOTIONS
from registry.errors import InputError

from .classification import classification_metrics

__all__ = [
    "FeatureDistances",
    "JudgeFeatures",
    "feature_distances",
    "generator_metrics",
    "identity_consistency",
    "resize_faces",
    "within_diversity",
]


def resize_faces(faces: Sequence[np.ndarray], size: int) -> np.ndarray:
    """RGB uint8 faces of any size -> one (N, size, size, 3) uint8 array, resized as the judge
    would resize them itself (area when shrinking, bilinear when enlarging)."""
    import cv2

    from registry.classifier import _as_rgb_uint8

    out = np.empty((len(faces), size, size, 3), dtype=np.uint8)
    for i, face in enumerate(faces):
        face = _as_rgb_uint8(face)
        if face.shape[:2] != (size, size):
            face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR)
        out[i] = face
    return out


class JudgeFeatures(nn.Module):
    """The torchmetrics ``feature=`` module: uint8 (N, 3, H, W) images -> (N, D) judge features.

    ``num_features`` is set so torchmetrics needs no dummy forward. :meth:`embed_all` embeds a
    whole image tensor in the judge's own batches once; afterwards a slice of that tensor along
    its first axis (what the per-emotion metrics are updated with) is answered from those
    features instead of running the judge again.
    """

    def __init__(self, judge: Classifier):
        super().__init__()
        self.judge = judge
        size = judge.input_spec().size
        self.num_features = int(judge.embed([np.zeros((size, size, 3), np.uint8)]).shape[1])
        self._known: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _check(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise InputError(f"judge features need uint8 (N, 3, H, W) images, got {images.dtype} {tuple(images.shape)}")

    def _compute(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.judge.embed(list(images.permute(0, 2, 3, 1).cpu().numpy()))).double()

    def embed_all(self, images: torch.Tensor) -> torch.Tensor:
        """Embed a contiguous image tensor once and remember its features for its slices."""
        self._check(images)
        images = images.contiguous()
        features = self._compute(images)
        self._known[images.untyped_storage().data_ptr()] = (images, features)
        return features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        known = self._known.get(images.untyped_storage().data_ptr())
        if known is not None and images.is_contiguous() and images.shape[1:] == known[0].shape[1:]:
            start = images.storage_offset() // images[0].numel() if len(images) else 0
            return known[1][start : start + len(images)]
        return self._compute(images)


@dataclass
class FeatureDistances:
    """Frechet distance and KID (mean, std) per group and over all groups, plus the generated
    faces' judge features per group (for diversity). A value is None where a group has < 2 faces."""

    fid: dict[str, float | None]
    kid: dict[str, tuple[float, float] | None]
    fake_features: dict[str, np.ndarray]


@contextlib.contextmanager
def _seeded_torch(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def feature_distances(
    real: Mapping[str, Sequence[np.ndarray]], fake: Mapping[str, Sequence[np.ndarray]], judge: Classifier, *,
    seed: int = 0, kid_subsets: int = 100,
) -> FeatureDistances:
    """FID and KID between ``real[g]`` and ``fake[g]`` for every group ``g`` (e.g. an emotion),
    and between all real and all fake faces ("overall"), in ``judge``'s feature space.

    Each face is embedded once, in the judge's batches. KID's random subsets (of at most 1000 faces) are drawn from
    ``seed``, so results repeat.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    extractor = JudgeFeatures(judge)
    size = judge.input_spec().size
    groups = [g for g in fake if g in real]
    stacked, bounds = {}, {}
    for kind, faces in (("real", real), ("fake", fake)):  # every group's faces in one tensor, group by group
        arrays = [resize_faces(faces[g], size) for g in groups]
        ends = np.cumsum([len(a) for a in arrays])
        bounds[kind] = {g: (int(e - len(a)), int(e)) for g, a, e in zip(groups, arrays, ends)}
        whole = np.concatenate(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)
        stacked[kind] = torch.from_numpy(np.ascontiguousarray(whole.transpose(0, 3, 1, 2)))
        if len(whole):
            extractor.embed_all(stacked[kind])
    counts = {g: min(bounds["real"][g][1] - bounds["real"][g][0], bounds["fake"][g][1] - bounds["fake"][g][0])
              for g in groups}
    counts["overall"] = sum(counts.values())
    with warnings.catch_warnings():  # KID warns that it keeps every feature: a few thousand here
        warnings.simplefilter("ignore", UserWarning)
        fids = {g: FrechetInceptionDistance(feature=extractor, normalize=False) for g in counts}
        kids = {
            g: KernelInceptionDistance(
                feature=extractor, subsets=kid_subsets, subset_size=min(max(n, 1), 1000), normalize=False
            )
            for g, n in counts.items()
        }
    for kind, is_real in (("real", True), ("fake", False)):
        slices = {g: stacked[kind][a:b] for g, (a, b) in bounds[kind].items() if b > a}
        if len(stacked[kind]):
            slices["overall"] = stacked[kind]
        for group, images in slices.items():
            fids[group].update(images, real=is_real)
            kids[group].update(images, real=is_real)
    fake_features = {
        g: torch.cat(kids[g].fake_features).numpy() if kids[g].fake_features else np.zeros((0, extractor.num_features))
        for g in groups
    }

    fid_out: dict[str, float | None] = {}
    kid_out: dict[str, tuple[float, float] | None] = {}
    for group, metric in fids.items():
        enough = counts[group] >= 2
        fid_out[group] = float(metric.compute()) if enough else None
        if enough:
            with _seeded_torch(seed):
                mean, std = kids[group].compute()
            kid_out[group] = (float(mean), float(std))
        else:
            kid_out[group] = None
    return FeatureDistances(fid_out, kid_out, fake_features)


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
