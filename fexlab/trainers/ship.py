"""Ship a training run's best checkpoint as a pretrained tag inside the package.

    python -m fexlab.trainers.ship RUN_DIR --tag ferplus [--fp16] [--card-extra NOTES.md]

copies ``RUN_DIR/best`` to ``plugins/<plugin>/weights/<tag>/`` (the folder the plugin's
``pretrained`` entry names) with its model card, plus any Markdown given by ``--card-extra``
(figures, data terms). With ``--fp16`` the weights are stored in half precision, but only when
the predictions stay the same: the fp16 and fp32 models must agree on the top emotion of 99.9%
of the run's validation faces (a classifier), or draw faces within half a grey level of each other
on average (a generator: seeds 0-63 in every emotion; an editor: validation faces edited to every
emotion), else the weights stay float32 and the command says why.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from fexlab.registry import InputError, default_registry
from fexlab.registry.checkpoint import atomic_directory

__all__ = ["main", "ship"]

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def _to_fp16(folder: Path) -> None:
    """Every float32 tensor of every safetensors file under ``folder`` in float16."""
    from safetensors.torch import load_file, save_file

    for path in folder.rglob("*.safetensors"):
        tensors = load_file(str(path))
        save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, str(path),
                  metadata={"format": "pt"})


def _agreement(plugin: str, first: Path, second: Path, faces: list[np.ndarray]) -> float:
    """Share of ``faces`` on which the checkpoints ``first`` and ``second`` give the same top emotion."""
    cls = default_registry().plugin_class("classifier", plugin)
    a, b = cls.from_pretrained(first), cls.from_pretrained(second)
    return float(np.mean(a.predict(faces).argmax(1) == b.predict(faces).argmax(1)))


def _pixel_gap(plugin: str, first: Path, second: Path, faces: list[np.ndarray]) -> float:
    """Mean absolute difference, in grey levels, between what generators ``first`` and ``second``
    draw (seeds 0-63, every emotion) or, for an editor, make of ``faces`` in every emotion."""
    from fexlab.registry import EMOTIONS

    cls = default_registry().plugin_class("generator", plugin)
    a, b = cls.from_pretrained(first), cls.from_pretrained(second)
    if cls.needs_image:
        calls = [{"image": face} for face in faces[:64]]
    else:
        calls = [{"seed": seed} for seed in range(64)]
    gaps = [np.abs(np.asarray(x, float) - np.asarray(y, float)).mean()
            for call in calls for x, y in zip(a.generate(list(EMOTIONS), **call), b.generate(list(EMOTIONS), **call))]
    return float(np.mean(gaps))


def ship(run_dir: str | Path, tag: str, *, fp16: bool = False, agree: float = 0.999, check_faces: int = 2000,
         card_extra: str = "") -> tuple[Path, str]:
    """Copy ``run_dir/best`` to the plugin's ``weights/<tag>``; returns the folder and a note."""
    best = Path(run_dir) / "best"
    config = json.loads((best / "config.json").read_text())
    plugin = config["plugin"]
    target = PLUGINS / plugin / "weights" / tag
    note = "float32"
    with atomic_directory(target) as tmp:
        shutil.copytree(best, tmp, dirs_exist_ok=True)
        if fp16:
            from fexlab.preprocessing.readers import open_dataset

            train_config = json.loads((Path(run_dir) / "train_config.json").read_text())
            data = train_config.get("data")
            options = train_config.get("data_options", {})
            dataset = open_dataset(str(data), **options).split("val")
            count = min(check_faces, len(dataset))
            faces = list(dataset.images(range(count)))
            shutil.copytree(tmp, tmp.parent / (tmp.name + "-fp16"))
            half = tmp.parent / (tmp.name + "-fp16")
            try:
                _to_fp16(half)
                if config.get("kind") == "generator":
                    gap = _pixel_gap(plugin, tmp, half, faces)
                    keep_half, why = gap <= 0.5, f"{gap:.3f} grey levels from float32 on average"
                else:
                    same = _agreement(plugin, tmp, half, faces)
                    keep_half, why = same >= agree, f"same top emotion as float32 on {same:.2%} of {count} val faces"
                if keep_half:
                    shutil.rmtree(tmp)
                    half.rename(tmp)
                    note = f"float16 ({why})"
                else:
                    note = f"float32 (in float16: {why})"
            finally:
                shutil.rmtree(half, ignore_errors=True)
        if card_extra:
            card = tmp / "README.md"
            card.write_text(card.read_text() + "\n" + card_extra.strip() + "\n")
    if not (target / "config.json").is_file():
        raise InputError(f"{run_dir} has no best checkpoint to ship")
    for path in [target, *target.rglob("*")]:  # readable by all, as package data
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target, note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fexlab.trainers.ship", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a training run folder (with best/)")
    parser.add_argument("--tag", required=True, help="the pretrained tag, e.g. ferplus")
    parser.add_argument("--fp16", action="store_true", help="half-precision weights where predictions stay the same")
    parser.add_argument("--card-extra", type=Path, help="a Markdown file appended to the model card")
    args = parser.parse_args(argv)
    extra = args.card_extra.read_text() if args.card_extra else ""
    target, note = ship(args.run_dir, args.tag, fp16=args.fp16, card_extra=extra)
    print(f"shipped {args.run_dir}/best as {target} ({note})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
