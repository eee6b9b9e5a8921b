"""The ``facs_renderer`` generator plugin: SYNTHETIC cartoon faces drawn from FACS action units.

It needs no weights, so it is always ready: the app and the generator evaluation have an offline
reference generator whose intended expressions are known exactly. One seed is one identity; the
emotions only change the action units (see :mod:`fexlab.preprocessing.synthetic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fexlab.registry import Generator, InputError

__all__ = ["FacsRenderer", "FacsRendererConfig"]


@dataclass
class FacsRendererConfig:
    """Defaults of the per-call options."""

    size: int = 128
    gray: bool = False
    #: Strength of the emotion's action units, 0 (neutral face) to 1 (full prototype).
    intensity: float = 1.0
    #: 0: frontal studio pose and light; 1: the synthetic data set's random pose, light, blur, noise.
    variation: float = 0.0


class FacsRenderer(Generator):
    """Draws one synthetic identity per seed across the requested emotions."""

    name: ClassVar[str] = "facs_renderer"
    description: ClassVar[str] = "SYNTHETIC cartoon faces from FACS action units; no weights, offline reference"
    config_class: ClassVar[type] = FacsRendererConfig
    requires_weights: ClassVar[bool] = False
    options: ClassVar[dict[str, Any]] = {"size": 128, "gray": False, "intensity": 1.0, "variation": 0.0}

    def _settings(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = {key: options.get(key, getattr(self.config, key)) for key in self.options}
        try:
            return {"size": int(settings["size"]), "gray": bool(settings["gray"]),
                    "intensity": float(settings["intensity"]), "variation": float(settings["variation"])}
        except (TypeError, ValueError):
            raise InputError(f"{self.name} options must be numbers (gray a boolean), got {options}") from None

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """One RGB ``PIL.Image`` per emotion, all of the identity of ``seed``."""
        from PIL import Image

        from fexlab.preprocessing.synthetic import render_identity

        names = self.check_inputs(emotions, options)
        images = render_identity(names, self.resolve_seed(seed), **self._settings(options))
        return [Image.fromarray(image) for image in images]

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8, **options: Any) -> list:
        """Faces morphing from ``(emotion, seed)`` ``start`` to ``end`` (action units and identity blend)."""
        from PIL import Image

        from fexlab.preprocessing.synthetic import render_morph

        self.check_inputs([start[0], end[0]], options)
        images = render_morph((start[0], int(start[1])), (end[0], int(end[1])), frames, **self._settings(options))
        return [Image.fromarray(image) for image in images]
