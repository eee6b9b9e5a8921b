"""The ``Generator`` plugin kind: emotions and a seed in, RGB face images out.

One call makes one image per requested emotion, all from the same seed, so a model that
allows it (the cGAN's latent, the diffusion noise) shows one identity across the emotions.
"""

from __future__ import annotations

import abc
import re
import secrets
from collections.abc import Sequence
from typing import Any, ClassVar

from .emotions import parse_emotions
from .errors import InputError
from .plugin import Plugin

__all__ = ["Generator", "slerp"]


class Generator(Plugin):
    """Base of face generators."""

    kind: ClassVar[str] = "generator"
    #: Option name -> default, for the options a generator accepts beyond emotions and seed
    #: (shown by the app and the CLI; e.g. ``{"truncation": 1.0}`` or ``{"steps": 30}``).
    options: ClassVar[dict[str, Any]] = {}
    #: True for an editor that only changes a given face (the ``image`` option is required):
    #: it has no grid of seeds to draw, so the app and the harness offer it only for editing.
    needs_image: ClassVar[bool] = False
    #: True for an editor that edits whole photos at their own resolution (:meth:`edit_photo`):
    #: :func:`editing.edit_photo` then hands it the photo and the faces found, not face crops.
    edits_photos: ClassVar[bool] = False
    #: The highest ``strength`` an editor takes: 1, the full target emotion (mesh_warp goes on to
    #: 2, its emotions' most intense real faces).
    max_strength: ClassVar[float] = 1.0

    @classmethod
    def own_strength(cls, strength: float) -> float:
        """``strength`` as far as this editor goes: at most :attr:`max_strength`."""
        return min(float(strength), float(cls.max_strength))

    @classmethod
    def edits(cls) -> bool:
        """Whether this generator edits a given face (it takes the ``image`` option)."""
        return "image" in cls.options

    @classmethod
    def option_names(cls) -> list[str]:
        """The names of :attr:`options` in natural order (``au1, au2, ..., au10``, not as text)."""
        return sorted(cls.options, key=lambda key: [int(part) if part.isdigit() else part
                                                    for part in re.split(r"(\d+)", key)])

    @abc.abstractmethod
    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """One RGB ``PIL.Image`` per emotion in ``emotions``, all drawn from ``seed``."""

    def check_inputs(self, emotions: str | Sequence[str], options: dict[str, Any]) -> list[str]:
        """Canonical emotions, or an :class:`InputError` quoting the bad emotion or option."""
        try:
            names = parse_emotions(emotions)
        except ValueError as err:
            raise InputError(str(err)) from None
        if not names:
            raise InputError("give at least one emotion to generate")
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InputError(f"{self.name} has no option(s) {unknown}; its options: {', '.join(self.option_names())}")
        return names

    @staticmethod
    def resolve_seed(seed: int | None) -> int:
        """``seed``, or a fresh random one when it is None (reported back so a face can be redrawn)."""
        return secrets.randbelow(2**31) if seed is None else int(seed)

    def edit_photo(self, image: Any, faces: Sequence[Any], emotions: Sequence[str], **options: Any) -> dict[str, Any]:
        """Editors that edit whole photos (``edits_photos``): emotion -> ``image`` (RGB uint8)
        with every face of ``faces`` (the detector's) edited to it."""
        raise InputError(f"{self.name} edits face crops, not whole photos")

    def animate_photo(self, image: Any, faces: Sequence[Any], emotions: Sequence[str], frames: int = 8,
                      **options: Any) -> list:
        """Editors that edit whole photos: the photos of the faces moving from their own
        expression through each of ``emotions``, ``frames`` from one stop to the next."""
        raise InputError(f"{self.name} edits face crops, not whole photos")

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8, **options: Any) -> list:
        """Images morphing from ``(emotion, seed)`` ``start`` to ``end``; not every model can."""
        raise InputError(f"{self.name} cannot interpolate between faces")

    def generate_grid(self, emotions: Sequence[str], seeds: Sequence[int], **options: Any) -> list[list]:
        """Rows of images, one row per seed (identity), one column per emotion."""
        return [self.generate(emotions, seed=seed, **options) for seed in seeds]


def slerp(a: Any, b: Any, t: float) -> Any:
    """Spherical interpolation between two latent tensors (any shape), ``t`` in [0, 1].

    Gaussian latents live near a sphere, so the great-circle path keeps every step a typical
    latent where a straight line would pass through unlikely, low-norm ones.
    """
    import torch

    flat_a, flat_b = a.reshape(-1).float(), b.reshape(-1).float()
    cos = torch.dot(flat_a, flat_b) / (flat_a.norm() * flat_b.norm()).clamp_min(1e-8)
    omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega) < 1e-4:  # (almost) the same direction: the straight line is the same path
        return (1 - t) * a + t * b
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).to(a.dtype)
