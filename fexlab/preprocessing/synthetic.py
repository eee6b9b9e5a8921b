"""Synthetic expressive faces drawn from FACS-style action units: the offline data set.

These faces are SYNTHETIC cartoons, not photographs of people. They exist so that tests, demos
and smoke training run anywhere with no download, and every data set, checkpoint and result built
from them says so.

Each emotion is a prototype of action units (EMFACS-style, e.g. happy = AU6 cheek raise + AU12
lip corner pull), rendered at an intensity drawn per face, with small stray activations of other
units. Identity (face shape, skin tone, eye size and spacing, brows, nose, mouth, hair, background)
comes from a seeded identity stream; pose, lighting, colour cast, blur and noise from a per-image
stream, so a face depends only on (seed, identity, index), never on batch size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fexlab.registry.emotions import EMOTIONS, parse_emotions
from fexlab.registry.errors import InputError
from fexlab.registry.plugin import make_config

from ._face_drawing import AU_INDEX, IDENTITY_RANGES, NUISANCE_RANGES, draw_faces, scale_uniforms
from .readers import FaceDataset, parse_fractions

__all__ = [
    "ACTION_UNITS",
    "PROTOTYPES",
    "SYNTHETIC_NOTE",
    "SyntheticSpec",
    "preview_grid",
    "render_action_units",
    "render_identity",
    "render_morph",
    "render_samples",
    "synthetic_dataset",
]

#: The action units the renderer animates, with their FACS names.
ACTION_UNITS: dict[str, str] = {
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer", "AU5": "upper lid raiser",
    "AU6": "cheek raiser", "AU7": "lid tightener", "AU9": "nose wrinkler", "AU12": "lip corner puller",
    "AU15": "lip corner depressor", "AU20": "lip stretcher", "AU23": "lip tightener", "AU26": "jaw drop",
}

#: Emotion -> action-unit weights at full intensity (after EMFACS prototypes).
PROTOTYPES: dict[str, dict[str, float]] = {
    "angry": {"AU4": 1.0, "AU5": 0.5, "AU7": 0.8, "AU23": 1.0},
    "disgust": {"AU9": 1.0, "AU15": 0.7, "AU4": 0.35, "AU7": 0.3},
    "fear": {"AU1": 1.0, "AU2": 0.6, "AU4": 0.7, "AU5": 1.0, "AU7": 0.3, "AU20": 1.0, "AU26": 0.45},
    "happy": {"AU6": 1.0, "AU12": 1.0, "AU26": 0.25},
    "sad": {"AU1": 1.0, "AU4": 0.6, "AU15": 1.0},
    "surprise": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 1.0},
    "neutral": {},
}

_GENERATOR_IDENTITY = 2**31 - 1  # identity slot of render_identity, never a data set's

SYNTHETIC_NOTE = "SYNTHETIC cartoon faces (FACS-style renderer), not real photographs"

_PROTOTYPE_MATRIX = np.zeros((len(EMOTIONS), len(AU_INDEX)), np.float32)
for _emotion, _units in PROTOTYPES.items():
    for _au, _weight in _units.items():
        _PROTOTYPE_MATRIX[EMOTIONS.index(_emotion), AU_INDEX[_au]] = _weight

#: Pose and lighting of a "studio" face: frontal, centred, soft light from the upper left.
_STUDIO = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "scale": 1.0, "tx": 0.0, "ty": 0.0, "light_angle": 3.9,
           "light": 0.15, "brightness": 1.0, "contrast": 1.0, "cast_r": 0.0, "cast_b": 0.0, "blur": 0.0, "noise": 0.0}


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic data set is: ``n`` faces of ``per_identity`` per identity, at ``size`` px.

    ``min_intensity`` is the weakest expression drawn (1.0 = always full prototypes); ``stray`` the
    largest stray activation of units outside the prototype. Both set how hard the set is.
    """

    n: int = 7000
    size: int = 64
    seed: int = 0
    gray: bool = False
    per_identity: int = 14
    min_intensity: float = 0.4
    stray: float = 0.2
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "split_fractions", parse_fractions(self.split_fractions))
        if self.n < 1:
            raise InputError(f"synthetic: n must be >= 1, got {self.n}")
        if not 48 <= self.size <= 256:
            raise InputError(f"synthetic: size must be between 48 and 256 pixels, got {self.size}")
        if self.per_identity < 1:
            raise InputError(f"synthetic: per_identity must be >= 1, got {self.per_identity}")
        if not 0.0 <= self.min_intensity <= 1.0 or not 0.0 <= self.stray <= 1.0:
            raise InputError("synthetic: min_intensity and stray must lie in [0, 1]")

    @property
    def identities(self) -> int:
        return math.ceil(self.n / self.per_identity)

    def describe(self) -> str:
        return f"{SYNTHETIC_NOTE}: n={self.n}, size={self.size}, seed={self.seed}, gray={int(self.gray)}"


def _identity_values(seeds: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    uniforms = np.stack([np.random.default_rng([*s, 1]).random(len(IDENTITY_RANGES)) for s in seeds])
    return scale_uniforms(uniforms, IDENTITY_RANGES)


def _expression(labels: np.ndarray, rngs: list[np.random.Generator], spec: SyntheticSpec) -> np.ndarray:
    """(N, 12) AU intensities: each prototype at a random intensity, plus stray activations."""
    draws = np.stack([rng.random(1 + 2 * len(AU_INDEX)) for rng in rngs]).astype(np.float32)
    k = len(AU_INDEX)
    intensity = spec.min_intensity + (1.0 - spec.min_intensity) * draws[:, :1]
    jitter = 0.8 + 0.4 * draws[:, 1 : 1 + k]
    stray = spec.stray * np.clip(draws[:, 1 + k :] * 1.6 - 0.6, 0.0, 1.0)  # ~60% of units stay at 0
    return np.clip(_PROTOTYPE_MATRIX[labels] * intensity * jitter + stray, 0.0, 1.0)


def _nuisance_values(rngs: list[np.random.Generator], variation: float = 1.0) -> dict[str, np.ndarray]:
    uniforms = np.stack([rng.random(len(NUISANCE_RANGES)) for rng in rngs])
    drawn = scale_uniforms(uniforms, NUISANCE_RANGES)
    return {k: (_STUDIO[k] + variation * (v - _STUDIO[k])).astype(np.float32) for k, v in drawn.items()}


def _finish(images: np.ndarray, gray: bool) -> np.ndarray:
    if gray:
        luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        images = np.repeat(np.clip(luma.round(), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    return images


def render_samples(spec: SyntheticSpec, indices: Sequence[int]) -> np.ndarray:
    """(len(indices), size, size, 3) RGB uint8 faces of data set ``spec`` (gray: equal channels)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return np.zeros((0, spec.size, spec.size, 3), np.uint8)
    identity, slot = np.divmod(indices, spec.per_identity)
    rngs = [np.random.default_rng([spec.seed, int(i), int(k), 2]) for i, k in zip(identity, slot)]
    nuisance = _nuisance_values(rngs)
    aus = _expression(slot % len(EMOTIONS), rngs, spec)
    noise = [rng.standard_normal((spec.size, spec.size, 3), dtype=np.float32) for rng in rngs]
    ident = _identity_values([(spec.seed, int(i)) for i in identity])
    return _finish(draw_faces(ident, aus, nuisance, noise, spec.size), spec.gray)


def _sample_labels(spec: SyntheticSpec) -> np.ndarray:
    """Emotion index of every face: each identity shows the 7 emotions in turn."""
    return (np.arange(spec.n) % spec.per_identity % len(EMOTIONS)).astype(np.int64)


def _identity_splits(spec: SyntheticSpec) -> np.ndarray:
    """"train" / "val" / "test" per face; whole identities go to one split (seeded)."""
    count = spec.identities
    order = np.random.default_rng([spec.seed, 3]).permutation(count)
    fractions = np.asarray(spec.split_fractions, dtype=np.float64)
    cuts = np.round(np.cumsum(fractions / fractions.sum())[:2] * count).astype(int)
    if count >= 3:  # keep every split non-empty
        cuts = np.clip(cuts, [1, 2], [count - 2, count - 1])
        cuts[1] = max(cuts[1], cuts[0] + 1)
    split_of_identity = np.empty(count, dtype=object)
    split_of_identity[order[: cuts[0]]] = "train"
    split_of_identity[order[cuts[0] : cuts[1]]] = "val"
    split_of_identity[order[cuts[1] :]] = "test"
    return split_of_identity[np.arange(spec.n) // spec.per_identity].astype(str)


def synthetic_dataset(spec: SyntheticSpec | None = None, **options) -> FaceDataset:
    """The synthetic set as a :class:`~fexlab.preprocessing.readers.FaceDataset`, rendered lazily."""
    spec = spec or make_config(SyntheticSpec, options)
    identity, slot = np.divmod(np.arange(spec.n), spec.per_identity)
    source_ids = [f"synthetic/seed{spec.seed}/id{i:05d}/{k:02d}" for i, k in zip(identity, slot)]
    return FaceDataset(
        name=spec.describe(),
        labels=_sample_labels(spec),
        splits=_identity_splits(spec),
        source_ids=source_ids,
        load=lambda indices: list(render_samples(spec, indices)),
        synthetic=True,
    )


def _check_render(size: int, intensity: float, variation: float) -> None:
    if not 48 <= size <= 256:
        raise InputError(f"size must be between 48 and 256 pixels, got {size}")
    if not 0.0 <= intensity <= 1.0 or not 0.0 <= variation <= 1.0:
        raise InputError(f"intensity and variation must lie in [0, 1], got {intensity} and {variation}")


def _identity_uniforms(seed: int) -> np.ndarray:
    return np.random.default_rng([int(seed), _GENERATOR_IDENTITY, 1]).random(len(IDENTITY_RANGES))


def _render_rows(identities: np.ndarray, aus: np.ndarray, seed: int, size: int, gray: bool, variation: float) -> list[np.ndarray]:
    """Faces of (N, D) identity uniforms with (N, 12) AUs, all in the one pose / light of ``seed``."""
    count = len(aus)
    nuisance = {k: np.repeat(v, count) for k, v in _nuisance_values([np.random.default_rng([int(seed), 4])], variation).items()}
    noise = [np.random.default_rng([int(seed), 5]).standard_normal((size, size, 3), dtype=np.float32)] * count
    ident = scale_uniforms(identities, IDENTITY_RANGES)
    return list(_finish(draw_faces(ident, aus.astype(np.float32), nuisance, noise, size), gray))


def render_identity(
    emotions: str | Sequence[str], seed: int, *, size: int = 128, gray: bool = False,
    intensity: float = 1.0, variation: float = 0.0,
) -> list[np.ndarray]:
    """One identity (fixed by ``seed``) showing each emotion at ``intensity``, as RGB uint8 arrays.

    ``variation`` in [0, 1] moves pose and lighting from a frontal studio shot (0) to the data
    set's full random range (1); the same pose is kept across the emotions of one call.
    """
    names = parse_emotions(emotions)
    _check_render(size, intensity, variation)
    aus = _PROTOTYPE_MATRIX[[EMOTIONS.index(e) for e in names]] * np.float32(intensity)
    return _render_rows(np.repeat(_identity_uniforms(seed)[None], len(names), 0), aus, seed, size, gray, variation)


def render_action_units(
    action_units: Mapping[str, float], seed: int = 0, *, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
    size: int = 256,
) -> np.ndarray:
    """One identity (fixed by ``seed``) showing ``action_units`` ({"AU12": 0.8, ...}; units the
    renderer does not draw, :data:`ACTION_UNITS`, are ignored) in a studio shot turned by ``yaw``,
    ``pitch`` and ``roll`` degrees in the renderer's convention (yaw > 0 turns the face toward the
    image's right, pitch > 0 tilts it down, roll > 0 turns it clockwise), each clipped to 30 degrees."""
    _check_render(size, 1.0, 0.0)
    aus = np.zeros((1, len(AU_INDEX)), np.float32)
    for unit, value in action_units.items():
        if unit in AU_INDEX:
            aus[0, AU_INDEX[unit]] = np.clip(float(value), 0.0, 1.0)
    nuisance = _nuisance_values([np.random.default_rng([int(seed), 4])], 0.0)
    for name, angle in (("yaw", yaw), ("pitch", pitch), ("roll", roll)):
        nuisance[name] = np.array([np.clip(angle, -30.0, 30.0)], np.float32)
    noise = [np.zeros((size, size, 3), np.float32)]
    ident = scale_uniforms(_identity_uniforms(seed)[None], IDENTITY_RANGES)
    return draw_faces(ident, aus, nuisance, noise, size)[0]


def render_morph(
    start: tuple[str, int], end: tuple[str, int], frames: int = 8, *, size: int = 128, gray: bool = False,
    intensity: float = 1.0, variation: float = 0.0,
) -> list[np.ndarray]:
    """``frames`` faces morphing from (emotion, seed) ``start`` to ``end``.

    Action units blend linearly; the identity's factors blend too (discrete ones such as the
    hair style switch half-way); pose and light stay those of the start seed.
    """
    if frames < 2:
        raise InputError(f"a morph needs at least 2 frames, got {frames}")
    _check_render(size, intensity, variation)
    (e0,), (e1,) = parse_emotions(start[0]), parse_emotions(end[0])
    t = np.linspace(0.0, 1.0, frames, dtype=np.float32)[:, None]
    a0, a1 = _PROTOTYPE_MATRIX[EMOTIONS.index(e0)], _PROTOTYPE_MATRIX[EMOTIONS.index(e1)]
    identities = (1 - t) * _identity_uniforms(start[1]) + t * _identity_uniforms(end[1])
    return _render_rows(identities, ((1 - t) * a0 + t * a1) * intensity, start[1], size, gray, variation)


def preview_grid(spec: SyntheticSpec | None = None, identities: int = 8):
    """A figure of the data set ``spec``: one row per emotion, one column per identity."""
    from fexlab.eval.plots import sample_grid

    spec = spec or SyntheticSpec()
    count = min(identities, spec.identities)
    faces = render_samples(spec, [i * spec.per_identity + e for e in range(len(EMOTIONS)) for i in range(count)])
    rows = {emotion: list(faces[e * count : (e + 1) * count]) for e, emotion in enumerate(EMOTIONS)}
    title = f"SYNTHETIC faces from the FACS-style renderer (not photographs), seed {spec.seed}"
    return sample_grid(rows, [f"identity {i}" for i in range(count)], title=title)
