"""The mesh_warp editor: the expression model, the warp, the painted mouth, the options, the
whole-photo path through editing.edit_photo, the fit, and the CLI's PNG / GIF / WebM exports."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from fexlab.pipeline.editing import animate_face, edit_photo
from fexlab.plugins.face_mesh import FaceMesh
from fexlab.plugins.face_mesh.action_units import BLENDSHAPES_OF_UNIT
from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES
from fexlab.plugins.face_mesh.bundle import canonical_face
from fexlab.plugins.mesh_warp import MAIN_UNITS, MeshWarp
from fexlab.plugins.mesh_warp.fit import fit, select_faces, shading_mask
from fexlab.plugins.mesh_warp.magnitudes import Magnitudes, fit_magnitudes
from fexlab.plugins.mesh_warp.model import CODE_SIZE, ExpressionModel, face_code, pose_frame, target_code
from fexlab.plugins.mesh_warp.mouth import INNER_LIPS, opening, paint_mouth
from fexlab.plugins.mesh_warp.warp import apply_field, edit_field, ring_points
from fexlab.preprocessing.images import load_image
from fexlab.registry import EMOTIONS, Face, InputError

N = len(ARKIT_NAMES)
INDEX = {name: k for k, name in enumerate(ARKIT_NAMES)}


def tiny_model(seed: int = 0, size: int = 8) -> ExpressionModel:
    rng = np.random.default_rng(seed)
    return ExpressionModel(rng.normal(size=(478, 3)), rng.normal(scale=0.05, size=(CODE_SIZE, 478 * 3)),
                           rng.normal(scale=0.05, size=(CODE_SIZE, size * size)))


def tiny_magnitudes(seed: int = 0) -> Magnitudes:
    """Magnitudes fitted on seeded random blendshapes, 40 faces per emotion."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), 40)
    return fit_magnitudes(rng.beta(1.0, 4.0, size=(len(labels), N)), labels)


@pytest.fixture(scope="module")
def editor() -> MeshWarp:
    return MeshWarp.load_default()


@pytest.fixture(scope="module")
def analyzer() -> FaceMesh:
    return FaceMesh()


def _shapes(analyzer: FaceMesh, image: np.ndarray, box) -> dict[str, float]:
    return analyzer.analyze(image, [Face(tuple(box), 1.0, None)])[0]["blendshapes"]


# -- the expression model ----------------------------------------------------------------------------
def test_displacement_is_linear_and_zero_between_equal_expressions():
    model = tiny_model()
    a, b, c = (np.random.default_rng(k).uniform(size=CODE_SIZE) for k in range(3))
    assert np.abs(model.displacement(a, a)).max() == 0.0
    assert np.allclose(model.displacement(a, c), model.displacement(a, b) + model.displacement(b, c))
    assert model.shade(a, b).shape == (8, 8) and np.allclose(model.shade(a, b), -model.shade(b, a))


def test_targets_start_from_the_faces_own_expression():
    magnitudes = tiny_magnitudes()
    current = face_code({name: 0.3 for name in ARKIT_NAMES})
    assert current.shape == (CODE_SIZE,) and current[N:].sum() == 0.0  # a face's own code has no emotion weight
    happy = EMOTIONS.index("happy")
    assert np.allclose(target_code(magnitudes, current, "happy", 0.0), current)
    full = target_code(magnitudes, current, "happy", 1.0)
    assert np.allclose(full[:N], magnitudes.typical[happy]) and full[N + happy] == 1.0 and full[N:].sum() == 1.0
    half = target_code(magnitudes, current, "happy", 0.5)
    assert np.allclose(half, (current + full) / 2)
    # units and blendshapes set one by one, on top of the emotion
    units = target_code(magnitudes, current, None, 1.0, {"AU12": 0.9}, {"jawOpen": 0.7})
    assert units[INDEX["mouthSmileLeft"]] == units[INDEX["mouthSmileRight"]] == 0.9
    assert units[INDEX["jawOpen"]] == 0.7 and units[INDEX["browInnerUp"]] == 0.3
    with pytest.raises(InputError, match="AU99"):
        target_code(magnitudes, current, None, 1.0, {"AU99": 0.5})
    with pytest.raises(InputError, match="no blendshape 'smile'"):
        target_code(magnitudes, current, None, 1.0, shapes={"smile": 0.5})


def test_the_editor_aims_at_its_magnitudes_up_to_strength_2():
    editor = MeshWarp()
    editor.model, editor.magnitudes = tiny_model(), tiny_magnitudes()
    analysis = {"blendshapes": {name: 0.2 for name in ARKIT_NAMES}}
    sad = EMOTIONS.index("sad")
    typical, strong = (editor.targets([analysis], "sad", {"strength": s})[0] for s in (1.0, 2.0))
    assert np.allclose(typical[:N], editor.magnitudes.typical[sad]) and typical[N + sad] == 1.0
    assert np.allclose(strong[:N], editor.magnitudes.intense[sad]) and strong[N + sad] == 1.0
    assert editor.targets([analysis], None, {"au12": "0.5"})[0][INDEX["mouthSmileLeft"]] == 0.5
    with pytest.raises(InputError, match="strength must be between 0 and 2"):
        editor.targets([analysis], "sad", {"strength": 2.5})
    # a checkpoint's retired settings (the gains of older folders) are dropped, not an error
    assert not hasattr(MeshWarp.from_config({"texture": 0.3, "gain": 2.5, "emotion_gains": {}}).config, "gain")


def test_every_offered_unit_is_set_through_real_blendshapes():
    assert set(MAIN_UNITS) <= set(BLENDSHAPES_OF_UNIT)
    assert all(name in INDEX for names in BLENDSHAPES_OF_UNIT.values() for name in names)


def test_pose_frame_undoes_scale_rotation_and_position():
    from scipy.spatial.transform import Rotation

    canonical = canonical_face()
    rotation = Rotation.from_euler("YXZ", [20, -10, 15], degrees=True).as_matrix()
    vertices = np.vstack([canonical.vertices, np.zeros((10, 3))])
    flip = np.array([1.0, -1.0, -1.0])
    mesh = (7.5 * vertices @ rotation.T + [300.0, -200.0, 5.0]) * flip  # image axes: y down, z away
    pose = pose_frame(mesh, canonical)
    assert pose.scale == pytest.approx(7.5, rel=1e-6)
    assert np.allclose(pose.normalise(mesh)[:468], canonical.vertices, atol=1e-6)
    delta = np.random.default_rng(0).normal(size=(478, 3))
    assert np.allclose(pose.normalise(mesh + pose.to_image(delta)), pose.normalise(mesh) + delta, atol=1e-6)


def test_model_round_trip_and_a_damaged_file(tmp_path):
    model = tiny_model()
    model.save(tmp_path)
    back = ExpressionModel.load(tmp_path)
    assert np.allclose(back.geometry, model.geometry, atol=1e-3) and back.texture_size == 8
    from fexlab.registry import CheckpointError

    with pytest.raises(CheckpointError, match="has no expression_model"):
        ExpressionModel.load(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="geometry"):
        ExpressionModel(model.intercept, model.geometry[:5], model.shading)


# -- the warp -------------------------------------------------------------------------------------------
def _grid_points(centre=(100, 100), spread=30, n=9):
    xs, ys = np.meshgrid(np.linspace(-spread, spread, n), np.linspace(-spread, spread, n))
    return np.stack([xs.ravel() + centre[0], ys.ravel() + centre[1]], axis=1)


def test_a_zero_edit_returns_the_input_byte_for_byte():
    image = np.random.default_rng(0).integers(0, 256, (200, 220, 3), np.uint8)
    points = _grid_points()
    field = edit_field(image.shape, points, points, uv=np.random.default_rng(1).uniform(size=(len(points), 2)),
                       shade=np.zeros((8, 8)))
    assert np.array_equal(apply_field(image, field), image)


def test_the_warp_moves_the_face_and_nothing_outside_its_ring():
    image = np.full((200, 200, 3), 90, np.uint8)
    image[99:102, 99:102] = 255  # a bright dot on the centre point of the "face"
    source = _grid_points()
    target = source.copy()
    target[40] += [5.0, 3.0]  # the centre point moves right and down (less than to its neighbours)
    field = edit_field(image.shape, source, target, step=1)
    out = apply_field(image, field)
    ys, xs = np.nonzero(out[..., 0] > 170)
    assert out[103, 105, 0] == 255 and xs.mean() > 102 and ys.mean() > 101  # the dot followed the point
    ring = ring_points(np.vstack([source, target]))
    outside = np.ones(image.shape[:2], bool)
    import cv2

    inside = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, np.round(ring).astype(np.int32), 1)
    outside &= inside == 0
    assert np.array_equal(out[outside], image[outside])


def test_shading_darkens_where_the_texture_says():
    image = np.full((200, 200, 3), 150, np.uint8)
    points = _grid_points(spread=40, n=7)
    uv = (points - points.min(axis=0)) / np.ptp(points, axis=0)
    shade = np.zeros((16, 16))
    shade[:, :8] = -0.3  # the face's image-left half darker
    out = apply_field(image, edit_field(image.shape, points, points, uv=uv, shade=shade, step=1))
    assert out[100, 70, 0] < 120 and out[100, 130, 0] == 150


# -- the mouth --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hopper_analysis(hopper_path, registry, analyzer):
    image = load_image(hopper_path)
    faces = registry.detector("blazeface").detect(image)
    return image, faces, analyzer.analyze(image, faces)[0]


def test_an_opening_mouth_is_painted_dark_inside_with_teeth(hopper_analysis):
    image, _, analysis = hopper_analysis
    mesh = np.asarray(analysis["mesh"], np.float64)
    opened = mesh.copy()
    lower = [14, 87, 178, 88, 95, 317, 402, 318, 324]
    width = np.linalg.norm(mesh[78, :2] - mesh[308, :2])
    opened[lower, 1] += 0.5 * width
    assert opening(opened) > opening(mesh) + 0.1
    painted = paint_mouth(image, mesh, opened)
    import cv2

    hole = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(hole, [np.round(opened[list(INNER_LIPS), :2]).astype(np.int32)], 1)
    hole = cv2.erode(hole, np.ones((3, 3), np.uint8)).astype(bool)
    luma = painted.astype(float).mean(axis=2)
    assert luma[hole].min() < 60 and luma[hole].max() > 150  # a dark cavity and bright teeth
    assert np.array_equal(painted[~cv2.dilate(hole.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)],
                          image[~cv2.dilate(hole.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)])
    assert paint_mouth(image, opened, mesh) is image  # closing a mouth paints nothing
    gray = np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    painted = paint_mouth(gray, mesh, opened)
    assert not np.array_equal(painted, gray)
    assert np.array_equal(painted[..., 0], painted[..., 1]) and np.array_equal(painted[..., 1], painted[..., 2])


# -- the plugin on real photos ----------------------------------------------------------------------------
def test_zero_strength_gives_the_photo_back(editor, registry, hopper_path):
    result = edit_photo(hopper_path, editor, registry.detector("blazeface"), ["happy", "sad"], strength=0.0)
    assert all(np.array_equal(photo, result.image) for photo in result.photos.values())


def test_edits_change_the_expression_the_mesh_reads_and_keep_the_rest(editor, registry, analyzer, hopper_path,
                                                                      astronaut_path):
    detector = registry.detector("blazeface")
    hopper = edit_photo(hopper_path, editor, detector, ["happy", "surprise"])
    box = hopper.faces[0].box
    before = _shapes(analyzer, hopper.image, box)
    happy = _shapes(analyzer, hopper.photos["happy"], box)
    assert happy["mouthSmileLeft"] > before["mouthSmileLeft"] + 0.2
    astronaut = edit_photo(astronaut_path, editor, detector, ["surprise"])  # no glasses: her brows move
    surprise = _shapes(analyzer, astronaut.photos["surprise"], astronaut.faces[0].box)
    assert surprise["browOuterUpLeft"] > _shapes(analyzer, astronaut.image, astronaut.faces[0].box)[
        "browOuterUpLeft"] + 0.05  # a typical surprised face: brows up
    # the photo's own resolution, and its corners untouched
    photo = hopper.photos["happy"]
    assert photo.shape == hopper.image.shape
    assert np.array_equal(photo[:60], hopper.image[:60]) and np.array_equal(photo[-40:], hopper.image[-40:])
    # a smiling face edited to sad loses its smile
    smiling = edit_photo(astronaut_path, editor, detector, ["sad"])
    box = smiling.faces[0].box
    assert (_shapes(analyzer, smiling.photos["sad"], box)["mouthSmileLeft"]
            < _shapes(analyzer, smiling.image, box)["mouthSmileLeft"] - 0.2)


def test_action_units_one_by_one(editor, registry, analyzer, hopper_path, astronaut_path):
    detector = registry.detector("blazeface")
    result = edit_photo(astronaut_path, editor, detector, ["neutral"], strength=0.0, au26="0.6", au1=0.8)
    box = result.faces[0].box
    before, after = _shapes(analyzer, result.image, box), _shapes(analyzer, result.photos["neutral"], box)
    assert after["jawOpen"] > before["jawOpen"] + 0.15
    assert after["browInnerUp"] > before["browInnerUp"] + 0.1
    with pytest.raises(InputError, match="AU12 must be between 0 and 1"):
        edit_photo(hopper_path, editor, detector, ["happy"], au12=1.5)
    with pytest.raises(InputError, match="NAME=VALUE"):
        edit_photo(hopper_path, editor, detector, ["happy"], blendshapes="jawOpen")


def test_glasses_frames_stay_where_they_were_while_the_brows_would_rise(editor, registry, hopper_path, monkeypatch):
    import fexlab.plugins.mesh_warp.plugin as mesh_warp
    from fexlab.plugins.mesh_warp.glasses import find_glasses, frame_points

    detector = registry.detector("blazeface")
    result = edit_photo(hopper_path, editor, detector, ["surprise"], strength=2.0, texture=0.0)
    monkeypatch.setattr(mesh_warp, "find_glasses", lambda *args, **kwargs: None)
    unheld = edit_photo(hopper_path, editor, detector, ["surprise"], strength=2.0, texture=0.0)
    mesh = editor.analyse(result.image, [result.faces[0].face])[0]["mesh"]
    frames = frame_points(result.image, find_glasses(result.image, mesh))
    count = (len(frames) - 3) // 4
    band = np.zeros(result.image.shape[:2], np.uint8)  # between the rings just outside and inside each rim
    for eye in range(2):
        outer, inner = frames[eye * 2 * count : eye * 2 * count + count], frames[eye * 2 * count + count :][:count]
        cv2.fillPoly(band, [np.round(outer).astype(np.int32)], 1)
        cv2.fillPoly(band, [np.round(inner).astype(np.int32)], 0)
    change = np.abs(result.photos["surprise"].astype(int) - result.image.astype(int)).max(axis=2)
    bent = np.abs(unheld.photos["surprise"].astype(int) - result.image.astype(int)).max(axis=2)
    assert band.sum() > 1000 and change[band > 0].mean() < 0.25 * bent[band > 0].mean()  # the frames hold still
    assert change.max() > 40  # while the face changes


def test_a_detection_the_mesh_cannot_read_is_a_clear_error(editor):
    wall = np.full((240, 320, 3), 128, np.uint8)
    with pytest.raises(InputError, match="the face mesh finds no face in the 1 region"):
        editor.edit_photo(wall, [Face((100, 60, 120, 120), 0.9, None)], ["happy"])


def test_a_face_crop_through_generate_and_interpolate(editor, hopper_analysis):
    image, faces, _ = hopper_analysis
    x, y, w, h = (int(v) for v in faces[0].box)
    crop = np.ascontiguousarray(image[y:y + h, x:x + w])
    out = editor.generate(["happy", "neutral"], image=crop)
    assert [im.size for im in out] == [(w, h)] * 2
    assert not np.array_equal(np.asarray(out[0]), crop)
    frames = editor.interpolate(("neutral", 0), ("happy", 0), frames=4, image=crop)
    assert len(frames) == 4 and np.array_equal(np.asarray(frames[-1]), np.asarray(out[0]))
    with pytest.raises(InputError, match="edits a face, it does not draw one"):
        editor.generate(["happy"])
    with pytest.raises(InputError, match="finds no face"):
        editor.generate(["happy"], image=np.full((64, 64, 3), 128, np.uint8))


def test_the_animation_moves_smoothly_from_the_faces_own_expression(editor, registry, hopper_path):
    result = edit_photo(hopper_path, editor, registry.detector("blazeface"), ["happy"])
    animation = animate_face(result, editor, frames=5)
    frames = [np.asarray(f, np.float64) for f in animation.frames]
    assert len(frames) == 5 and np.array_equal(frames[0], result.faces[0].crop)
    change = [np.abs(f - frames[0]).mean() for f in frames]
    assert all(b > a for a, b in zip(change, change[1:]))
    assert np.array_equal(frames[-1], result.faces[0].edits["happy"])


# -- the fit ------------------------------------------------------------------------------------------------
def test_select_faces_keeps_agreed_training_faces(tmp_path):
    header = "image,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    rows = ["train/happy/a.jpg,0,9,0,0,0,0,0,0,1,0", "train/happy/b.jpg,4,5,0,0,0,0,0,0,1,0",
            "train/sad/c.jpg,3,0,0,7,0,0,0,0,0,0", "val/happy/d.jpg,0,10,0,0,0,0,0,0,0,0"]
    (tmp_path / "votes.csv").write_text(header + "\n".join(rows) + "\n")
    chosen = select_faces(tmp_path / "votes.csv", 0.6, 10, 0)
    assert sorted((p.name, EMOTIONS[k]) for p, k in chosen) == [("a.jpg", "happy"), ("c.jpg", "sad")]


def test_fit_on_a_few_real_faces_gives_a_working_checkpoint(tmp_path, astronaut_path, hopper_path, registry):
    faces = []
    detector = registry.detector("blazeface")
    for k, path in enumerate([astronaut_path, hopper_path] * 4):
        image = load_image(path)
        x, y, w, h = (int(v) for v in detector.detect(image)[0].box)
        pad = (k % 4) * 4
        image = image[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
        if k >= 4:
            image = image[:, ::-1]
        file = tmp_path / f"face{k}.png"
        Image.fromarray(np.ascontiguousarray(image)).resize((96, 96)).save(file)
        faces.append((file, EMOTIONS.index("happy" if path == astronaut_path else "neutral")))
    model, report = fit(faces, texture_size=16, progress=False)
    assert report["faces"] == 8 and report["per_emotion"]["happy"] == 4
    mask = shading_mask(canonical_face().uv[:468], 16)
    assert mask.max() == pytest.approx(1.0, abs=0.1) and mask[0, 0] == 0.0
    editor = MeshWarp()
    editor.model, editor.magnitudes = model, tiny_magnitudes()
    editor.save_pretrained(tmp_path / "ckpt", training_data="test faces")
    loaded = MeshWarp.from_pretrained(tmp_path / "ckpt")
    assert np.allclose(loaded.model.geometry, model.geometry, atol=1e-2)
    assert np.allclose(loaded.magnitudes.typical, editor.magnitudes.typical, atol=1e-6)


# -- the CLI ------------------------------------------------------------------------------------------------
def test_cli_edits_a_photo_with_action_units_and_animates_it(hopper_path, tmp_path):
    from fexlab.cli import main

    out = tmp_path / "out"
    assert main(["generate", "--plugin", "mesh_warp", "--image", str(hopper_path), "--emotion", "happy",
                 "--option", "au12=0.9", "--out", str(out)]) == 0
    photo = np.asarray(Image.open(out / "mesh_warp_photo_happy.png"))
    assert photo.shape == load_image(hopper_path).shape
    assert main(["generate", "--plugin", "mesh_warp", "--image", str(hopper_path), "--animate", "interpolate",
                 "--emotion", "neutral", "--emotion", "surprise", "--frames", "3", "--out", str(tmp_path / "a")]) == 0
    names = sorted(p.suffix for p in (tmp_path / "a").iterdir())
    assert names == [".gif", ".webm"]
    with Image.open(next((tmp_path / "a").glob("*.gif"))) as gif:
        assert gif.n_frames == 5  # own expression -> neutral -> surprise
    # one emotion is a path too: from the face's own expression to it
    assert main(["generate", "--plugin", "mesh_warp", "--image", str(hopper_path), "--animate", "all",
                 "--emotion", "happy", "--frames", "4", "--out", str(tmp_path / "one")]) == 0
    with Image.open(next((tmp_path / "one").glob("*.gif"))) as gif:
        assert gif.n_frames == 4
    assert main(["generate", "--plugin", "mesh_warp", "--image", str(hopper_path), "--option", "au12=lots",
                 "--out", str(tmp_path / "bad")]) != 0
