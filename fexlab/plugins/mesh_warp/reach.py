"""How far an edit moves the brows, so that the Face Landmarker reads what the edit aims at.

The expression model (:mod:`.model`) is a ridge regression of the mesh on blendshapes measured on
48 px faces, where the blendshapes are noisy; its displacements are so diluted. Read again by the
same Face Landmarker, an edited photo shows only about half the change of blendshapes the edit
asked for (muxspace training photos edited to every emotion at strength 1: 46% over all
blendshapes; fear's raised inner brows 35%, surprise's raised outer brows 44%, disgust's squint
28%). ``reach.safetensors`` holds one factor per blendshape by which the edit's change of that
blendshape is multiplied before the model turns it into a displacement (:func:`reach_factors`):
the change asked over the change read, fitted through the origin over all edits, in two rounds
(the second on edits made with the first round's factors), left and right averaged, kept
between 1 and :data:`TOP`. Only the brows' blendshapes (:data:`CORRECTED`) are corrected; the
others were tried and looked worse: the mouth's, and a wide smile taken out in full folds the
skin at the lips' corners and pinches the teeth that stay into a small, toothy mouth; the
eyelids' (three times over), and at strength 2 fear stares with round doll's eyes and sad smears
the irises down into dark drips. The magnitudes (:mod:`.magnitudes`) say what to reach; these
factors only make the edit reach it. No classifier took part.

    python -m fexlab.plugins.mesh_warp.reach --data ../shared/data/muxspace/legend.csv \\
        --out fexlab/plugins/mesh_warp/weights/fer2013
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry import EMOTIONS, CheckpointError

from .model import ARKIT_NAMES, CODE_SIZE

__all__ = ["CORRECTED", "FILE", "TOP", "corrected_names", "load_reach", "main", "reach_factors", "save_reach",
           "scaled_target"]

FILE = "reach.safetensors"
#: The largest factor: no blendshape's change is asked for more than three times over.
TOP = 3.0


def corrected_names(names: Sequence[str] = ARKIT_NAMES) -> list[str]:
    """The blendshapes whose reach is corrected: the brows'."""
    return [n for n in names if n.startswith("brow")]


#: The blendshapes corrected (:func:`corrected_names`).
CORRECTED = tuple(corrected_names())


def reach_factors(asked: np.ndarray, read: np.ndarray, previous: np.ndarray | None = None, *,
                  names: Sequence[str] = ARKIT_NAMES, least: float = 0.5, top: float = TOP) -> np.ndarray:
    """New factors (one per blendshape of ``names``) from edits that asked for the changes ``asked``
    ((N, B) target minus the face's own blendshapes) and were read back as ``read`` ((N, B): the
    edited photo's minus the face's own), made with the factors ``previous`` (default all 1): each
    corrected blendshape's factor divided by its reach, the least-squares slope of read on asked
    through the origin, where the edits asked for it at all (a sum of squares of at least ``least``);
    left and right averaged; kept between 1 and ``top``. The others stay 1."""
    asked, read = np.asarray(asked, np.float64), np.asarray(read, np.float64)
    factors = np.ones(len(names)) if previous is None else np.asarray(previous, np.float64).copy()
    power = (asked * asked).sum(axis=0)
    reach = (asked * read).sum(axis=0) / np.maximum(power, 1e-12)
    index = {name: k for k, name in enumerate(names)}
    for name in corrected_names(names):
        k = index[name]
        if power[k] >= least:
            factors[k] = factors[k] / float(np.clip(reach[k], 1.0 / top, 1.0 * top))
    for name in names:  # a face's two sides alike
        if name.endswith("Left") and name[:-4] + "Right" in index:
            left, right = index[name], index[name[:-4] + "Right"]
            factors[left] = factors[right] = (factors[left] + factors[right]) / 2.0
    keep = np.isin(np.arange(len(names)), [index[n] for n in corrected_names(names)])
    return np.where(keep, np.clip(factors, 1.0, top), 1.0)


def scaled_target(current: np.ndarray, target: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """The expression code the model is asked for so that the face reaches ``target`` from
    ``current``: the blendshapes' change times ``factors`` (None: ``target`` itself), a scaled
    blendshape kept within 0 to 1, the range the model learnt from (past it a linear model
    stretches the skin into faces nobody makes: at strength 2 a forehead torn at the hairline);
    the emotion weights at the end of the code unchanged."""
    if factors is None:
        return np.asarray(target)
    current, target = np.asarray(current, np.float64), np.asarray(target, np.float64)
    n = len(factors)
    aimed = target.copy()
    scaled = current[:n] + (target[:n] - current[:n]) * factors
    aimed[:n] = np.where(factors != 1.0, np.clip(scaled, 0.0, 1.0), target[:n])
    return aimed


def save_reach(factors: np.ndarray, directory: str | Path) -> Path:
    from safetensors.numpy import save_file

    path = Path(directory) / FILE
    save_file({"factors": np.ascontiguousarray(factors, np.float32)}, str(path))
    return path


def load_reach(directory: str | Path) -> np.ndarray | None:
    """The factors in ``directory`` (None when it has no :data:`FILE`: the edits are not corrected)."""
    path = Path(directory) / FILE
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    try:
        factors = load_file(str(path))["factors"].astype(np.float64)
    except Exception as err:  # noqa: BLE001 - a damaged file is reported as such
        raise CheckpointError(f"{path} cannot be read ({err}); refit it with `python -m {__name__}`") from None
    if factors.shape != (CODE_SIZE - len(EMOTIONS),) or not np.all((factors >= 1.0) & (factors <= TOP)):
        raise CheckpointError(f"{path} holds no {CODE_SIZE - len(EMOTIONS)} factors between 1 and {TOP:g}; "
                              f"refit it with `python -m {__name__}`")
    return factors


def measure_edits(editor: Any, photos: Sequence[np.ndarray], find: Callable[[np.ndarray], Any],
                  factors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(asked, read): each photo's largest face (``find(photo)``, None: skipped) edited by ``editor``
    (a MeshWarp; its own factors replaced by ``factors``) to every emotion at strength 1, the
    blendshapes' change asked for and the change its Face Landmarker reads in the edited photo."""
    n = len(ARKIT_NAMES)
    editor.reach = factors
    asked, read = [], []
    for photo in photos:
        face = find(photo)
        analyses = editor.analyse(photo, [face]) if face is not None else []
        if not analyses:
            continue
        own = editor.code(analyses[0])[:n]
        for emotion in EMOTIONS:
            target = editor.targets(analyses, emotion, {"strength": 1.0})[0]
            again = editor.analyse(editor.edit_analysed(photo, analyses, [target], 0.0), [face])
            if again:
                asked.append(target[:n] - own)
                read.append(editor.code(again[0])[:n] - own)
    return np.asarray(asked).reshape(-1, n), np.asarray(read).reshape(-1, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="photos with emotions (training split read only)")
    parser.add_argument("--out", required=True, help="the weights folder to write reach.safetensors into")
    parser.add_argument("--per-emotion", type=int, default=8, help="training photos per emotion (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of correction (default 2)")
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import default_registry

    registry = default_registry()
    detector, editor = registry.detector(args.detector), registry.generator("mesh_warp")
    part = open_dataset(args.data).split("train")
    labels, rng = part.labels(), np.random.default_rng(args.seed)
    chosen = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == k), min(args.per_emotion, int((labels == k).sum())),
                                                replace=False) for k in range(len(EMOTIONS))]))
    photos = list(part.images(chosen))

    def largest(photo: np.ndarray) -> Any:
        faces = detector.detect(photo)
        return max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None

    factors, mask = None, np.isin(ARKIT_NAMES, CORRECTED)
    for round_ in range(args.rounds + 1):
        asked, read = measure_edits(editor, photos, largest, factors)
        overall = float((asked[:, mask] * read[:, mask]).sum() / max((asked[:, mask] ** 2).sum(), 1e-12))
        print(f"round {round_}: {len(asked)} edits of {len(photos)} training photos; the brows reach "
              f"{overall:.0%} of the change asked")
        if round_ < args.rounds:
            factors = reach_factors(asked, read, factors)
    print("factors:", ", ".join(f"{n} {f:.2f}" for n, f in zip(ARKIT_NAMES, factors) if f != 1.0))
    print(f"wrote {save_reach(factors, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
