"""The ``Generator`` plugin kind: emotions and a seed in, RGB face images out.

One call makes one image per requested emotion, all from the same seed, so a model that
allows it (the cGAN's latent, the diffusion noise) shows one identity across the emotions.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

from .emotions import parse_emotions
from .errors import InputError
from .plugin import Plugin

__all__ = ["Generator"]


class Generator(Plugin):
    """Base of face generators."""

    kind: ClassVar[str] = "generator"
    #: Option name -> default, for the options a generator accepts beyond emotions and seed
    #: (shown by the app and the CLI; e.g. ``{"truncation": 1.0}`` or ``{"steps": 30}``).
    options: ClassVar[dict[str, Any]] = {}

    @abc.abstractmethod
    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """One RGB ``PIL.Image`` per emotion in ``emotions``, all drawn from ``seed``."""

    def check_inputs(self, emotions: str | Sequence[str], options: dict[str, Any]) -> list[str]:
        """Canonical emotions, or an :class:`InputError` quoting the bad emotion or option."""
        names = parse_emotions(emotions)
        if not names:
            raise InputError("give at least one emotion to generate")
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InputError(f"{self.name} has no option(s) {unknown}; its options: {sorted(self.options)}")
        return names

    def generate_grid(self, emotions: Sequence[str], seeds: Sequence[int], **options: Any) -> list[list]:
        """Rows of images, one row per seed (identity), one column per emotion."""
        return [self.generate(emotions, seed=seed, **options) for seed in seeds]
