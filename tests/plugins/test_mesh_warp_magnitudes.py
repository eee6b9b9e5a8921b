"""mesh_warp's magnitudes: how strongly real faces show each emotion, on tiny seeded blendshapes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES
from fexlab.plugins.mesh_warp.magnitudes import FILE, Magnitudes, fit_magnitudes, main, mode, training_shapes
from fexlab.plugins.mesh_warp.model import face_code, target_code
from fexlab.registry import EMOTIONS, CheckpointError, InputError

N = len(ARKIT_NAMES)
SMILE, JAW, BROW = (ARKIT_NAMES.index(name) for name in ("mouthSmileLeft", "jawOpen", "browInnerUp"))
HAPPY, SAD, NEUTRAL = (EMOTIONS.index(e) for e in ("happy", "sad", "neutral"))


def faces(seed: int = 0, per: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Seeded blendshapes: every emotion near 0.1 on every blendshape, except happy, whose faces
    smile in two ways (two thirds with the mouth closed and smile 0.8, a third with the mouth open
    and smile 0.3), and sad, whose inner brows rise by an amount spread from 0.2 to 0.8."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), per)
    shapes = np.clip(rng.normal(0.1, 0.02, size=(len(labels), N)), 0.0, 1.0)
    happy = np.flatnonzero(labels == HAPPY)
    closed, opened = happy[: 2 * per // 3], happy[2 * per // 3:]
    shapes[closed, SMILE] = rng.normal(0.8, 0.02, len(closed))
    shapes[opened, SMILE] = rng.normal(0.3, 0.02, len(opened))
    shapes[opened, JAW] = rng.normal(0.6, 0.02, len(opened))
    sad = np.flatnonzero(labels == SAD)
    shapes[sad, BROW] = rng.uniform(0.2, 0.8, len(sad))
    return shapes, labels


def test_the_typical_face_is_the_main_mode_not_the_mean_of_two():
    shapes, labels = faces()
    magnitudes = fit_magnitudes(shapes, labels)
    happy = shapes[labels == HAPPY]
    assert magnitudes.typical[HAPPY, SMILE] == pytest.approx(0.8, abs=0.03)  # the mean is about 0.63
    assert magnitudes.typical[HAPPY, JAW] == pytest.approx(0.1, abs=0.03)  # the mean is about 0.27
    assert abs(happy[:, SMILE].mean() - 0.8) > 0.1
    assert mode(np.array([[0.0], [0.01], [0.02], [0.03], [0.04], [0.9], [1.0]]), 0.5)[0] < 0.05
    assert magnitudes.faces.tolist() == [60.0] * len(EMOTIONS)


def test_strengths_from_the_faces_own_code_to_the_most_intense_real_faces():
    shapes, labels = faces()
    magnitudes = fit_magnitudes(shapes, labels)
    own = face_code({name: 0.3 for name in ARKIT_NAMES})
    assert np.array_equal(target_code(magnitudes, own, "sad", 0.0), own)  # strength 0: the face's own
    typical = target_code(magnitudes, own, "sad", 1.0)
    assert np.allclose(typical[:N], magnitudes.typical[SAD]) and typical[N + SAD] == 1.0 and typical[N:].sum() == 1.0
    strong = target_code(magnitudes, own, "sad", 2.0)
    inside = (strong[:N] >= magnitudes.floor[SAD] - 1e-12) & (strong[:N] <= magnitudes.ceiling[SAD] + 1e-12)
    assert inside.all() and strong[:N].min() >= 0.0 and strong[:N].max() <= 1.0
    assert strong[N + SAD] == 1.0
    # the most intense sad faces raise the brows more than the typical one, but no more than 95% of sad faces
    assert strong[BROW] > typical[BROW] + 0.1
    assert strong[BROW] <= np.percentile(shapes[labels == SAD, BROW], 95) + 1e-12
    middle = target_code(magnitudes, own, "sad", 1.5)
    assert np.allclose(middle[:N], (typical[:N] + strong[:N]) / 2)
    # neutral has no more intense faces: strength 2 is its typical face
    assert np.allclose(magnitudes.shapes("neutral", 2.0), magnitudes.typical[NEUTRAL])


def test_a_smile_is_taken_out_of_a_face_edited_to_sad():
    shapes, labels = faces()
    magnitudes = fit_magnitudes(shapes, labels)
    smiling = face_code({"mouthSmileLeft": 0.95, "mouthSmileRight": 0.95, "jawOpen": 0.4})
    sad = target_code(magnitudes, smiling, "sad", 1.0)
    right = ARKIT_NAMES.index("mouthSmileRight")
    assert sad[SMILE] == pytest.approx(magnitudes.typical[SAD, SMILE]) and sad[SMILE] < 0.2
    assert sad[right] == pytest.approx(magnitudes.typical[SAD, right]) and sad[JAW] < 0.2


def test_every_emotion_needs_real_faces():
    shapes, labels = faces()
    with pytest.raises(InputError, match="disgust 1"):
        fit_magnitudes(shapes[labels != EMOTIONS.index("disgust")][:-1].tolist() + [shapes[0]],
                       np.concatenate([labels[labels != EMOTIONS.index("disgust")][:-1], [1]]))


def test_round_trip_and_folders_without_magnitudes(tmp_path):
    shapes, labels = faces()
    magnitudes = fit_magnitudes(shapes, labels)
    magnitudes.save(tmp_path, notes="test")
    back = Magnitudes.load(tmp_path)
    for name in ("typical", "intense", "floor", "ceiling", "faces"):
        assert np.allclose(getattr(back, name), getattr(magnitudes, name), atol=1e-6)
    with pytest.raises(CheckpointError, match="has no magnitudes.safetensors.*mesh_warp.magnitudes"):
        Magnitudes.load(tmp_path / "old")
    from safetensors.numpy import save_file

    save_file({"typical": np.zeros((7, N), np.float32)}, str(tmp_path / FILE))
    with pytest.raises(CheckpointError, match="lacks"):
        Magnitudes.load(tmp_path)
    (tmp_path / FILE).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a readable"):
        Magnitudes.load(tmp_path)
    with pytest.raises(CheckpointError, match="typical has shape"):
        Magnitudes(np.zeros((6, N)), *(np.zeros((7, N)),) * 3, np.zeros(7))


def test_fitted_from_training_faces_only(tmp_path, capsys):
    """FER2013's training faces with a FER+ majority; its validation faces, and faces with no
    mesh, never count (their blendshapes here would move every number)."""
    from fexlab.plugins.geometry.cache import BlendshapeCache
    from fexlab.plugins.geometry.features import MeshFeatures

    root = tmp_path / "data"
    columns = {"neutral": 0, "happiness": 1, "surprise": 2, "sadness": 3, "anger": 4, "disgust": 5, "fear": 6}
    votes_of = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                "surprise": "surprise", "neutral": "neutral"}
    rows, keys, shapes, found = [], [], [], []
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for emotion in EMOTIONS:
            for k in range(8 if split == "train" else 2):
                name = f"{split}/{emotion}/{split}_{emotion}_{k}.png"
                (root / "fer2013" / name).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.full((48, 48), 100, np.uint8)).save(root / "fer2013" / name)
                votes = [0] * 10
                votes[columns[votes_of[emotion]]] = 10
                rows.append(name + "," + ",".join(map(str, votes)))
                keys.append("fer2013/" + name)
                shapes.append(np.full(N, 0.9) if split == "val" or k == 7 else rng.uniform(0.0, 0.2, N))
                found.append(not (split == "train" and k == 7))  # the 8th training face has no mesh
    header = "image,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    (root / "fer2013" / "ferplus_votes.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    features = MeshFeatures.empty(len(keys))
    features.blendshapes[:] = np.asarray(shapes, np.float32)
    features.found[:] = found
    BlendshapeCache(keys, features).save(tmp_path / "cache.npz")
    got, labels, counts = training_shapes(tmp_path / "cache.npz", root, muxspace=False)
    assert got.max() <= 0.2 and np.bincount(labels, minlength=7).max() <= 7
    assert counts["fer2013/ferplus_votes.csv"]["with_mesh"] == len(labels) > 0
    # the command writes the magnitudes into a checkpoint folder
    (tmp_path / "ckpt").mkdir()
    assert main(["--data", str(root), "--cache", str(tmp_path / "cache.npz"), "--out", str(tmp_path / "ckpt"),
                 "--no-muxspace"]) == 0
    assert Magnitudes.load(tmp_path / "ckpt").typical.max() <= 0.2 and "wrote" in capsys.readouterr().out
