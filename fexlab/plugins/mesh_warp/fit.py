"""Fit the ``mesh_warp`` expression model on real faces: ``python -m fexlab.plugins.mesh_warp.fit``.

Reads FER2013's training faces with the FER+ votes (``--data .../ferplus_votes.csv``; the
validation faces are never read), keeps the faces at least ``--agreement`` of whose annotators
chose one emotion (at most ``--per-emotion`` of each), and for each finds the face mesh and the
blendshapes with the ``face_mesh`` analyzer (the whole 48 px crop is the face's box). Then, by
ridge regression (scikit-learn, the penalty chosen by cross-validation on those training faces):

- the pose-normalised mesh (:func:`.model.pose_frame`) from the expression code (the blendshapes,
  and an indicator of each emotion but neutral: what its faces share beyond their blendshapes):
  the geometry;
- the centred log luminance on MediaPipe's texture square from the same code: the shading,
  zeroed inside the mouth and the eyes (a warp and the painted mouth make those) and faded out at
  the texture's edge.

What an emotion edit aims at is fitted next, into the same folder, by :mod:`.magnitudes`; a
folder that already holds it keeps it.

The folder it writes (``--out``) is a ``mesh_warp`` checkpoint: config.json (the data, the counts
and the fit's cross-validated R^2) and ``expression_model.safetensors``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fexlab.registry import EMOTIONS, Face, InputError

from .magnitudes import COMMAND as MAGNITUDES_COMMAND
from .magnitudes import FILE as MAGNITUDES_FILE
from .magnitudes import Magnitudes
from .model import ExpressionModel, pose_frame
from .mouth import INNER_LIPS

__all__ = ["EYES", "fit", "fit_arrays", "main", "measure", "select_faces", "shading_mask", "texture_sampler"]

#: The eyes' contours in MediaPipe's mesh (the subject's right eye, then the left).
EYES = ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
        (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466))
#: FER+ vote columns -> fexlab's emotions.
_FERPLUS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy", "sadness": "sad",
            "surprise": "surprise", "neutral": "neutral"}


def texture_sampler(uv: np.ndarray, size: int):
    """A function (mesh (>=468, 2) image pixels) -> (size, size, 2) image coordinates of every
    texel of the texture square, NaN outside the mesh (one triangulation of ``uv``, reused)."""
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import Delaunay

    triangles = Delaunay(np.asarray(uv, np.float64) * size - 0.5)
    ys, xs = np.mgrid[0:size, 0:size]
    texels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)

    def sample(mesh: np.ndarray) -> np.ndarray:
        return LinearNDInterpolator(triangles, np.asarray(mesh, np.float64)[: len(uv), :2])(texels).reshape(size, size, 2)

    return sample


def shading_mask(uv: np.ndarray, size: int) -> np.ndarray:
    """(size, size) weights of the shading: 1 on the skin, 0 in the mouth's opening and the eyes
    and outside the face, with soft edges."""
    import cv2

    texels = np.asarray(uv, np.float64) * size - 0.5
    mask = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(mask, np.round(cv2.convexHull(texels[:468].astype(np.float32)).reshape(-1, 2) * 4)
                       .astype(np.int32), 1.0, lineType=cv2.LINE_AA, shift=2)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    for polygon in (INNER_LIPS, *EYES):
        cv2.fillPoly(mask, [np.round(texels[list(polygon)] * 4).astype(np.int32)], 0.0, lineType=cv2.LINE_AA,
                     shift=2)
    return cv2.GaussianBlur(mask, (0, 0), size / 48.0)


def select_faces(votes_csv: Path, agreement: float, per_emotion: int, seed: int) -> list[tuple[Path, int]]:
    """(path, emotion index) of the training faces whose annotators agreed, at most ``per_emotion`` each."""
    import pandas as pd

    table = pd.read_csv(votes_csv)
    table = table[table["image"].str.startswith("train/")]
    votes = table[list(_FERPLUS)].to_numpy(float)
    totals = table[list(_FERPLUS) + ["contempt", "unknown", "NF"]].to_numpy(float).sum(axis=1)
    top = votes.argmax(axis=1)
    share = votes.max(axis=1) / np.maximum(totals, 1)
    rng = np.random.default_rng(seed)
    chosen = []
    for column, emotion in enumerate(_FERPLUS.values()):
        rows = np.flatnonzero((top == column) & (share >= agreement))
        rows = rng.permutation(rows)[:per_emotion]
        chosen += [(votes_csv.parent / table["image"].iloc[r], EMOTIONS.index(emotion)) for r in rows]
    return chosen


def measure(faces: list[tuple[Path, int]], *, texture_size: int = 64, progress: bool = True) -> dict[str, np.ndarray]:
    """Each face of ``faces`` ((path, emotion index)) the face mesh finds: its blendshapes
    (``shapes``), its pose-normalised mesh (``meshes``), its centred log luminance on the texture
    square (``textures``) and its emotion (``labels``)."""
    import cv2

    from fexlab.preprocessing.images import load_image

    from ..face_mesh import FaceMesh
    from ..face_mesh.blendshapes import ARKIT_NAMES
    from ..face_mesh.bundle import canonical_face

    analyzer = FaceMesh()
    canonical = canonical_face(str(analyzer.bundle))
    sample = texture_sampler(canonical.uv[:468], texture_size)
    valid = shading_mask(canonical.uv[:468], texture_size) > 0.05
    shapes, meshes, textures, labels = [], [], [], []
    began = time.perf_counter()
    for k, (path, label) in enumerate(faces):
        gray = load_image(path)
        analysis = analyzer.analyze(gray, [Face((0, 0, gray.shape[1], gray.shape[0]), 1.0, None)])[0]
        if not analyzer.present(analysis):
            continue
        mesh = np.asarray(analysis["mesh"], np.float64)
        coords = sample(mesh).astype(np.float32)
        luma = cv2.remap(cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY).astype(np.float32), coords[..., 0], coords[..., 1],
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        logs = np.log(luma + 10.0)
        textures.append(np.where(valid, logs - logs[valid].mean(), 0.0).ravel())
        shapes.append([analysis["blendshapes"][name] for name in ARKIT_NAMES])
        meshes.append(pose_frame(mesh, canonical).normalise(mesh).ravel())
        labels.append(label)
        if progress and (k + 1) % 250 == 0:
            print(f"  {k + 1} / {len(faces)} faces ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    if len(shapes) < 3:
        raise InputError(f"the face mesh found only {len(shapes)} of {len(faces)} faces; a fit needs at least 3")
    return {"shapes": np.asarray(shapes), "meshes": np.asarray(meshes), "textures": np.asarray(textures),
            "labels": np.asarray(labels, np.int64), "asked": np.asarray(len(faces))}


def fit_arrays(arrays: dict[str, np.ndarray]) -> tuple[ExpressionModel, dict]:
    """The expression model of what :func:`measure` found, and what the fit measured (the
    cross-validated R^2 of the mesh and the shading, on these training faces)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_score

    from ..face_mesh.bundle import canonical_face

    shapes, labels = arrays["shapes"].astype(np.float64), arrays["labels"]
    size = int(round(np.sqrt(arrays["textures"].shape[1])))
    emotions = np.eye(len(EMOTIONS))[labels]
    emotions[:, EMOTIONS.index("neutral")] = 0.0  # the reference: neutral's weight is 0
    x = np.hstack([shapes, emotions])
    folds = min(5, len(x))
    # the penalty is at least 0.1: a blendshape that hardly varies on these faces (cheekPuff,
    # jawForward) would otherwise get a huge coefficient that explodes when a user sets it
    alphas = np.logspace(-1, 2, 4)
    geometry = RidgeCV(alphas=alphas).fit(x, arrays["meshes"])
    shading = RidgeCV(alphas=alphas).fit(x, arrays["textures"])
    report = {
        "faces": int(len(x)), "dropped_no_face": int(arrays["asked"]) - int(len(x)),
        "per_emotion": {e: int((labels == k).sum()) for k, e in enumerate(EMOTIONS)},
        "geometry_alpha": float(geometry.alpha_), "shading_alpha": float(shading.alpha_),
        "geometry_cv_r2": float(cross_val_score(RidgeCV(alphas=alphas), x, arrays["meshes"], cv=folds).mean()),
        "shading_cv_r2": float(cross_val_score(RidgeCV(alphas=alphas), x, arrays["textures"], cv=folds).mean()),
    }
    mask = shading_mask(canonical_face().uv[:468], size)
    model = ExpressionModel(geometry.intercept_.reshape(478, 3), geometry.coef_.T,
                            shading.coef_.T * mask.ravel()[None])
    return model, report


def fit(faces: list[tuple[Path, int]], *, texture_size: int = 64, progress: bool = True) -> tuple[ExpressionModel, dict]:
    """The expression model of ``faces`` ((path, emotion index)), and what the fit measured."""
    return fit_arrays(measure(faces, texture_size=texture_size, progress=progress))


def main(argv: list[str] | None = None) -> int:
    from .plugin import MeshWarp

    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.mesh_warp.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="FER+ votes CSV beside FER2013's image folders")
    parser.add_argument("--out", required=True, type=Path, help="the checkpoint folder to write")
    parser.add_argument("--agreement", type=float, default=0.6, help="share of annotators agreeing (default 0.6)")
    parser.add_argument("--per-emotion", type=int, default=600, help="faces of each emotion at most (default 600)")
    parser.add_argument("--texture-size", type=int, default=64, help="side of the shading's texture square")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="an .npz of the measured faces: read when it exists, else written")
    args = parser.parse_args(argv)
    faces = select_faces(args.data, args.agreement, args.per_emotion, args.seed)
    if args.cache is not None and args.cache.is_file():
        arrays = dict(np.load(args.cache))
        print(f"fitting on the {len(arrays['labels'])} faces measured in {args.cache}", file=sys.stderr)
    else:
        print(f"measuring {len(faces)} training faces of {args.data}", file=sys.stderr)
        arrays = measure(faces, texture_size=args.texture_size)
        if args.cache is not None:
            np.savez_compressed(args.cache, **arrays)
    model, report = fit_arrays(arrays)
    editor = MeshWarp()
    editor.model = model
    if (args.out / MAGNITUDES_FILE).is_file():
        editor.magnitudes = Magnitudes.load(args.out)
    else:
        print(f"now fit what the edits aim at: {MAGNITUDES_COMMAND.replace('FOLDER', str(args.out))}", file=sys.stderr)
    command = "python -m fexlab.plugins.mesh_warp.fit " + " ".join(argv if argv is not None else sys.argv[1:])
    editor.save_pretrained(args.out, training_data=(
        f"FER2013 training faces (real) with FER+ votes {args.data}: the faces at least {args.agreement:g} of whose "
        f"annotators chose one emotion, at most {args.per_emotion} per emotion (seed {args.seed}); "
        f"{report['faces']} faces with a mesh"), metrics=report, notes=f"rebuild: {command}")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
