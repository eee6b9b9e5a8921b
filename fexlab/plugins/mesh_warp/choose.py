"""Choose the ``mesh_warp`` settings by a chooser classifier on photos the editor never saw:
``python -m fexlab.plugins.mesh_warp.choose``.

Each photo of ``--data``'s ``--split`` (by default muxspace's training photos: other people, other
cameras than the FER2013 faces the expression model was fitted on) is edited to every other emotion
with each candidate ``gain`` (how far past its real faces' mean an emotion is taken) and ``texture``
(the learned shading's weight); the chooser classifier (``--chooser``) reads each edited face in its
own crop. The table gives its balanced accuracy on the target emotions and its lowest per-target
recall for each setting. The judges that report the editor's figures (``fexlab evaluate``) must be
other classifiers than the chooser, and the figures come from the validation photos, not these.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from fexlab.registry import DEFAULT_DETECTOR, EMOTIONS

__all__ = ["main", "score_settings"]


def score_settings(editor, chooser, detector, photos, gains, textures, emotion_gains=None) -> list[dict]:
    """For each (gain, texture): the chooser's balanced accuracy and lowest recall on the target
    emotions of every photo edited to every emotion but its own label (``emotion_gains``: the
    emotions taken another gain, as the editor's config has them)."""
    from sklearn.metrics import balanced_accuracy_score, recall_score

    from fexlab.preprocessing.align import classifier_crop

    margin = chooser.input_spec().crop_margin
    prepared = []
    for image, label in photos:
        faces = detector.detect(image)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.box[2] * f.box[3])
        analyses = editor.analyse(image, [face])
        if analyses:
            prepared.append((image, face, analyses, label))
    rows = []
    for gain, texture in itertools.product(gains, textures):
        editor.config.gain = float(gain)
        editor.config.emotion_gains = dict(emotion_gains or {})
        crops, targets = [], []
        for image, face, analyses, label in prepared:
            for k, emotion in enumerate(EMOTIONS):
                if k == label:
                    continue
                edited = editor.edit_analysed(image, analyses, editor.targets(analyses, emotion, {}), float(texture))
                crops.append(classifier_crop(edited, face, margin, False))
                targets.append(k)
        read = chooser.predict(crops).argmax(axis=1)
        recalls = recall_score(targets, read, labels=list(range(len(EMOTIONS))), average=None, zero_division=0)
        rows.append({"gain": float(gain), "texture": float(texture), "photos": len(prepared), "edits": len(targets),
                     "balanced_accuracy": float(balanced_accuracy_score(targets, read)),
                     "lowest_recall": float(recalls.min()),
                     "recall": {e: round(float(r), 3) for e, r in zip(EMOTIONS, recalls)}})
    return rows


def main(argv: list[str] | None = None) -> int:
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.registry import default_registry

    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.mesh_warp.choose", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/muxspace/legend.csv")
    parser.add_argument("--split", default="train")
    parser.add_argument("--chooser", default="efficientnet.ferplus", help="the classifier that chooses (not a judge)")
    parser.add_argument("--photos", type=int, default=80, help="photos to edit, spread over the labels (default 80)")
    parser.add_argument("--gains", type=float, nargs="+", default=[1.0, 1.5, 2.0, 2.5])
    parser.add_argument("--textures", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--emotion-gains", default="", metavar="EMOTION=GAIN,...",
                        help="emotions taken another gain than --gains, e.g. sad=4,fear=4")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    emotion_gains = {k.strip(): float(v) for k, _, v in (p.partition("=") for p in args.emotion_gains.split(",") if p)}
    registry = default_registry()
    part = open_dataset(args.data).split(args.split)
    labels = np.asarray(part.labels())
    rng = np.random.default_rng(args.seed)
    per = max(1, args.photos // len(EMOTIONS))
    chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:per] for k in range(len(EMOTIONS))])
    rest = rng.permutation(np.setdiff1d(np.arange(len(part)), chosen))[: max(0, args.photos - len(chosen))]
    index = np.sort(np.concatenate([chosen, rest]).astype(np.int64))
    photos = list(zip(part.images(index), labels[index]))
    rows = score_settings(registry.generator("mesh_warp"), registry.classifier(args.chooser),
                          registry.detector(DEFAULT_DETECTOR), photos, args.gains, args.textures, emotion_gains)
    gains_note = f"; emotion gains {args.emotion_gains}" if emotion_gains else ""
    print(f"chooser {args.chooser} on {args.data} ({args.split}), {rows[0]['photos']} photos edited to every other "
          f"emotion{gains_note}\n\n| gain | texture | balanced accuracy | lowest recall | recall per target |\n"
          "|---|---|---|---|---|")
    for row in rows:
        recall = ", ".join(f"{e} {r:.2f}" for e, r in row["recall"].items())
        print(f"| {row['gain']:g} | {row['texture']:g} | {row['balanced_accuracy']:.3f} | {row['lowest_recall']:.2f} "
              f"| {recall} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
