"""Band faces: a judge and generators whose answers a reader can predict, for the generator
metrics and the harness. Emotion ``e`` is drawn as a lit horizontal band ``e`` of seven on a dark
face-sized image; the judge names the brightest band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fexlab.registry import EMOTIONS, Classifier, Generator, InputSpec, Registry

__all__ = ["SIDE", "BandGenerator", "BandJudge", "HappyOnly", "band_face", "band_registry"]

SIDE = 28


class _BandNet(torch.nn.Module):
    """Logits = 20 x the brightness of each of 7 horizontal bands (band e lit means emotion e)."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(7, 7)
        with torch.no_grad():
            self.head.weight.copy_(20 * torch.eye(7))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(x.mean(1, keepdim=True), (7, 1)).flatten(1))


@dataclass
class _Config:
    input_size: int = SIDE
    grayscale: bool = False


class BandJudge(Classifier):
    """A judge whose answer a reader can predict: the brightest band names the emotion."""

    name = "band_judge"
    config_class = _Config
    requires_weights = False

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        self.net = _BandNet().eval()

    def torch_module(self):
        return self.net

    def input_spec(self):
        return InputSpec(SIDE, False, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def band_face(emotion: int, texture_seed: int) -> np.ndarray:
    """A dark face-sized image with band ``emotion`` lit and a texture fixed by ``texture_seed``."""
    rng = np.random.default_rng(texture_seed)
    image = 40 + rng.integers(0, 30, (SIDE, SIDE, 3))
    rows = slice(emotion * SIDE // 7, (emotion + 1) * SIDE // 7)
    image[rows] += 150
    return image.astype(np.uint8)


@dataclass
class _NoConfig:
    pass


class BandGenerator(Generator):
    """Draws each emotion's band, the texture fixed by the seed: the judge recognises every face."""

    name = "band_generator"
    config_class = _NoConfig
    requires_weights = False

    def drawn(self, emotion: str) -> int:
        return EMOTIONS.index(emotion)

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        from PIL import Image

        names = self.check_inputs(emotions, options)
        seed = self.resolve_seed(seed)
        return [Image.fromarray(band_face(self.drawn(name), seed)) for name in names]


class HappyOnly(BandGenerator):
    """Draws the happy band whatever the emotion asked for."""

    name = "happy_only"

    def drawn(self, emotion: str) -> int:
        return EMOTIONS.index("happy")


def band_registry() -> Registry:
    """The installed plugins, the band judge and both band generators."""
    from importlib.metadata import EntryPoint

    from fexlab.registry.registry import discover_entry_points

    extra = [EntryPoint(name="band_judge", value="tests.eval.bands:BandJudge", group="fexlab.classifiers"),
             EntryPoint(name="band_generator", value="tests.eval.bands:BandGenerator", group="fexlab.generators"),
             EntryPoint(name="happy_only", value="tests.eval.bands:HappyOnly", group="fexlab.generators")]
    return Registry([*discover_entry_points(), *extra])
