"""``flat``: a generator plugin with no interpolation of its own (one flat colour per emotion and
seed), installed in a registry as a third-party package would declare it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from fexlab.registry import EMOTIONS, Generator, Registry

__all__ = ["Flat", "flat_registry"]


@dataclass
class FlatConfig:
    size: int = 24


class Flat(Generator):
    """Each face is one colour: red from the emotion, green from the seed."""

    name = "flat"
    config_class = FlatConfig
    requires_weights = False

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        names = self.check_inputs(emotions, options)
        side, green = self.config.size, 3 * self.resolve_seed(seed) % 256
        return [Image.new("RGB", (side, side), (40 * EMOTIONS.index(n), green, 200)) for n in names]


def flat_registry() -> Registry:
    """The installed plugins and ``flat``."""
    from importlib.metadata import EntryPoint

    from fexlab.registry.registry import discover_entry_points

    extra = EntryPoint(name="flat", value="tests.flat_generator:Flat", group="fexlab.generators")
    return Registry([*discover_entry_points(), extra])
