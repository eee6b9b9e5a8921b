"""YuNet's model file (``weights/s/yunet_s_dynamic.onnx``): check it, or rebuild the tag from a copy.

    python -m fexlab.plugins.detectors.yunet.bundle                       # check the shipped file
    python -m fexlab.plugins.detectors.yunet.bundle --from FILE          # rebuild weights/s from FILE

The file is the training repository's ``onnx/yunet_s_dynamic.onnx`` byte for byte (see
``weights/README.md``); a copy is taken only when its SHA-256 is that file's, and the tag's
``config.json`` is written beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from .plugin import MODEL_FILE, MODEL_SHA256, WEIGHTS_DIR, YuNet

__all__ = ["check", "main", "rebuild"]

SOURCE = ("YuNet-s (Wu, Peng, Yu 2023; Apache-2.0), unchanged: onnx/yunet_s_dynamic.onnx of "
          "ShiqiYu/libfacedetection.train at commit 0047ac24")


def check(path: str | Path = WEIGHTS_DIR / "s" / MODEL_FILE) -> tuple[bool, str]:
    """(whether ``path`` is YuNet's model, one line saying so or what is wrong)."""
    path = Path(path)
    if not path.is_file():
        return False, f"{path} is missing; rebuild it with `python -m {__spec__.name} --from FILE`"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        return False, f"{path} has SHA-256 {digest}, not YuNet's {MODEL_SHA256}"
    return True, f"{path.name} is YuNet-s (SHA-256 {MODEL_SHA256[:12]}...)"


def rebuild(source: str | Path, folder: str | Path = WEIGHTS_DIR / "s") -> Path:
    """Write the tag ``folder`` (config.json and the model) from ``source``, if ``source`` is YuNet's model."""
    ok, line = check(source)
    if not ok:
        raise SystemExit(f"fexlab: {line}")
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / MODEL_FILE
        shutil.copyfile(source, staged)
        detector = YuNet.from_config()
        detector.load_weights(Path(scratch))
        detector.save_pretrained(folder, training_data=SOURCE, notes=f"SHA-256 {MODEL_SHA256}")
    return Path(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", metavar="FILE", help="yunet_s_dynamic.onnx to rebuild the tag from")
    parser.add_argument("--out", default=str(WEIGHTS_DIR / "s"), help="the tag folder to write (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.source:
        print(f"wrote {rebuild(args.source, args.out)}")
        return 0
    ok, line = check()
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
