import numpy as np
import pytest
from PIL import Image

from fexlab.app.predict import EXAMPLES_DIR, predict_photo
from fexlab.registry import FexlabError, InputError


def test_faces_are_numbered_left_to_right_on_the_image_and_in_the_message(registry):
    gallery, _, payload, message, _ = predict_photo(registry, str(EXAMPLES_DIR / "two_people.jpg"), ["mini_xception"],
                                                    "haar")
    boxes = [face["box"] for face in payload["faces"]]
    assert len(boxes) == 2 and boxes[0][0] < boxes[1][0]
    assert [face["emotion"] for face in payload["faces"]] == ["happy", "neutral"]
    for number, face in enumerate(payload["faces"], start=1):  # a table row per face, with its probability
        assert f"| {number} | **{face['emotion']}** {face['probabilities'][face['emotion']]:.0%} |" in message
    annotated = np.asarray(Image.open(gallery[0][0]).convert("RGB"))
    x, y, w, h = boxes[0]  # the number badge is white at the start of the label, above the box
    assert (annotated[y - 4, x + 2] > 240).all()


def test_a_checkpoint_folder_is_compared_beside_the_installed_classifiers(registry, folders, astronaut_path):
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "fer-copy" / "best")
    gallery, figure, payload, message, _ = predict_photo(registry, str(astronaut_path), ["mini_xception"], "haar",
                                                         "runs/fer-copy")
    assert [caption for _, caption in gallery] == ["mini_xception", "mini_xception: runs/fer-copy"]
    verdicts = payload["faces"][0]["classifiers"]
    assert {v["emotion"] for v in verdicts.values()} == {"happy"}
    first, second = (list(v["probabilities"].values()) for v in verdicts.values())
    np.testing.assert_allclose(first, second, atol=1e-6)  # the same weights, loaded from the folder
    assert "| face | mini_xception | mini_xception: runs/fer-copy |" in message
    assert "| 1 | **happy** 100% | **happy** 100% |" in message
    assert len(figure.legends[0].get_texts()) == 2


@pytest.mark.parametrize("typed, error", [
    ("/etc", "outside the folders this app may read and write"),
    ("../outside", "outside the folders"),
    ("runs/missing", "no such file or folder"),
    ("runs", "'runs' is not a fexlab checkpoint"),
])
def test_bad_checkpoint_paths_say_what_is_wrong(registry, folders, astronaut_path, typed, error):
    with pytest.raises(FexlabError, match=error):
        predict_photo(registry, str(astronaut_path), [], "haar", typed)


def test_a_generator_checkpoint_is_not_a_classifier(registry, folders, astronaut_path):
    registry.generator("facs_renderer").save_pretrained(folders["runs"] / "renderer")
    with pytest.raises(FexlabError, match="'runs/renderer' is a generator checkpoint, not a classifier"):
        predict_photo(registry, str(astronaut_path), [], "haar", "runs/renderer")


def test_no_classifier_and_no_checkpoint(registry, astronaut_path):
    with pytest.raises(InputError, match="choose at least one classifier"):
        predict_photo(registry, str(astronaut_path), [], "haar", "")


def test_a_checkpoint_path_cannot_ride_in_on_a_classifier_name(registry, astronaut_path):
    """The API receives names unchecked: a ``name:path`` spec must not bypass the folder check."""
    with pytest.raises(InputError, match="choose classifiers by name"):
        predict_photo(registry, str(astronaut_path), ["mini_xception:/etc"], "haar")


def test_old_output_files_are_swept_when_a_request_writes_new_ones(monkeypatch, tmp_path):
    import os
    import time

    from fexlab.app import common

    monkeypatch.setattr(common, "OUTPUT_DIR", tmp_path)
    old_folder, old_file, fresh = tmp_path / "zip-old", tmp_path / "old.png", tmp_path / "fresh.png"
    old_folder.mkdir()
    for path in (old_file, fresh):
        path.write_bytes(b"png")
    hour_ago = time.time() - 2 * common.KEEP_SECONDS
    for path in (old_folder, old_file):
        os.utime(path, (hour_ago, hour_ago))
    new = common.output_folder("zip")
    assert new.is_dir() and fresh.exists() and not old_file.exists() and not old_folder.exists()


def test_show_keypoints_draws_the_detectors_landmarks(tmp_path):
    from fexlab.pipeline.predict import KEYPOINT_COLOR
    from tests.landmark_detector import KEYPOINT_NAMES, dots_registry

    registry = dots_registry()
    Image.new("RGB", (400, 300), (128, 128, 128)).save(tmp_path / "two.png")
    plain, _, payload, message, _ = predict_photo(registry, str(tmp_path / "two.png"), ["mini_xception"], "dots")
    dotted, _, _, message, _ = predict_photo(registry, str(tmp_path / "two.png"), ["mini_xception"], "dots", "", True)
    plain, dotted = (np.asarray(Image.open(g[0][0]).convert("RGB")) for g in (plain, dotted))
    assert [face["box"][0] for face in payload["faces"]] == [40, 240] and "| 2 |" in message
    for face in payload["faces"]:
        assert list(face["keypoints"]) == list(KEYPOINT_NAMES)
        for x, y in face["keypoints"].values():
            assert tuple(dotted[round(y), round(x)]) == KEYPOINT_COLOR
            assert tuple(plain[round(y), round(x)]) != KEYPOINT_COLOR
    assert "gives no keypoints" not in message


def test_show_keypoints_says_when_the_detector_gives_none(registry, astronaut_path):
    _, _, _, message, _ = predict_photo(registry, str(astronaut_path), ["mini_xception"], "haar", "", True)
    assert message.startswith("1 face found. The haar detector gives no keypoints.")


def test_labels_and_numbers_stay_readable_on_a_large_photo():
    from fexlab.pipeline.predict import FacePrediction, annotate
    from fexlab.registry.emotions import EMOTION_COLORS

    image = np.zeros((3840, 7120, 3), np.uint8)  # a 7120x3840 photo with two small faces
    happy = {"c": np.array([0, 0, 0, 1, 0, 0, 0], np.float32)}
    faces = [FacePrediction((3000, 1500, 120, 120), 1.0, happy), FacePrediction((4000, 1500, 120, 120), 1.0, happy)]
    drawn = annotate(image, faces, numbers=True)
    row = drawn[1490, 3000:3600]  # the label above the first box: its number badge, then its emotion
    badge_w = int(np.argmax(np.all(row == EMOTION_COLORS["happy"], axis=1)))
    label = int(np.all(drawn[:1500, 3000 + badge_w + 1] == EMOTION_COLORS["happy"], axis=1).sum())
    badge = int(np.all(drawn[:1500, 3001] == 255, axis=1).sum())
    assert label >= 0.02 * 3840 and badge >= 0.02 * 3840, (label, badge)
    small = annotate(np.zeros((300, 400, 3), np.uint8), [FacePrediction((100, 100, 60, 60), 1.0, happy)])
    assert int(np.all(small[:100, 101] == EMOTION_COLORS["happy"], axis=1).sum()) < 30  # a small photo: small text


def test_the_summary_is_a_table_with_percentages_for_one_classifier_too(registry):
    _, _, payload, message, _ = predict_photo(registry, str(EXAMPLES_DIR / "two_people.jpg"), "mini_xception", "haar")
    head, table = message.split("\n\n", 1)
    assert head == "2 faces found."
    rows = table.splitlines()
    assert rows[0] == "| face | mini_xception |" and len(rows) == 2 + 2
    assert all(row.count("%") == 1 for row in rows[2:])


def test_several_photos_at_once_with_csv_and_json_downloads(registry, tmp_path):
    import csv
    import json

    (tmp_path / "notes.jpg").write_text("just text")
    photos = [str(EXAMPLES_DIR / "astronaut.jpg"), str(tmp_path / "notes.jpg"), str(EXAMPLES_DIR / "grace_hopper.jpg")]
    gallery, figure, payload, message, files = predict_photo(
        registry, None, ["mini_xception", "vit"], "haar", photos=photos)
    assert [caption for _, caption in gallery] == ["astronaut.jpg · mini_xception", "astronaut.jpg · vit",
                                                   "grace_hopper.jpg · mini_xception", "grace_hopper.jpg · vit"]
    assert message.startswith("2 faces found in 2 photos.")
    assert "| photo | face | mini_xception | vit |" in message and "| astronaut.jpg | 1 | **happy**" in message
    assert "Skipped: notes.jpg is not an image" in message
    assert [ax.get_title() for ax in figure.axes] == ["astronaut.jpg, face 1", "grace_hopper.jpg, face 1"]
    assert [record["file"] for record in payload["photos"]] == ["astronaut.jpg", "grace_hopper.jpg"]
    csv_path, json_path = files
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["photo"], r["face"], r["classifier"]) for r in rows] == [
        ("astronaut.jpg", "1", "mini_xception"), ("astronaut.jpg", "1", "vit"),
        ("grace_hopper.jpg", "1", "mini_xception"), ("grace_hopper.jpg", "1", "vit")]
    assert rows[0]["emotion"] == "happy" and 0.5 <= float(rows[0]["score"]) <= 1 and float(rows[0]["happy"]) > 0.5
    records = json.loads(open(json_path).read())
    assert [r["file"] for r in records] == ["astronaut.jpg", "grace_hopper.jpg"]
    assert set(records[0]["faces"][0]) >= {"box", "score", "emotion", "probabilities", "classifiers"}


def test_the_minimum_face_score_leaves_out_doubtful_faces(registry):
    photo = str(EXAMPLES_DIR / "two_people.jpg")
    _, _, payload, _, _ = predict_photo(registry, photo, "mini_xception", "blazeface")
    scores = sorted(face["score"] for face in payload["faces"])
    threshold = sum(scores) / 2
    _, _, payload, message, _ = predict_photo(registry, photo, "mini_xception", "blazeface", min_score=threshold)
    assert [face["score"] for face in payload["faces"]] == scores[1:]
    assert message.startswith(f"1 face found. 1 more face scored below the minimum face score {threshold:g} and is left "
                              "out.")
    *_, message, _ = predict_photo(registry, photo, "mini_xception", "blazeface", min_score=1.0)
    assert message.startswith("No face found.") and "2 more faces scored below the minimum face score 1" in message


def test_a_large_photo_shows_its_progress_and_a_screen_sized_picture(registry, tmp_path):
    from fexlab.app import predict as predict_tab

    big = tmp_path / "big.jpg"
    Image.open(EXAMPLES_DIR / "astronaut.jpg").resize((4000, 4000)).save(big)
    steps = []
    gallery, _, payload, _, _ = predict_photo(registry, str(big), "mini_xception", "haar",
                                              progress=lambda done, **kw: steps.append((done, kw["desc"])))
    assert steps == [((0, 2), "the photo: reading it, finding faces and emotions"),
                     ((1, 2), "the photo: drawing the boxes")]
    assert payload["size"] == [4000, 4000] and payload["faces"][0]["box"][2] > 500  # boxes in the photo's pixels
    # analysed from JPEG's half-size decode (2000 px), shown at most screen-sized
    assert 1500 < max(Image.open(gallery[0][0]).size) <= predict_tab.SHOWN_MAX_SIDE


def test_every_webcam_shows_what_the_camera_sees_unmirrored(registry):
    import gradio as gr

    from fexlab.app import generate, live
    from fexlab.app import predict as predict_tab

    with gr.Blocks() as demo:
        for tab in (predict_tab, live, generate):
            tab.build(registry)
    cameras = [c for c in demo.get_config_file()["components"]
               if c["props"].get("elem_id") in ("predict-photo", "live-camera", "generate-edit-photo")]
    assert len(cameras) == 3 and all("webcam" in c["props"]["sources"] for c in cameras)
    assert all(c["props"]["webcam_options"]["mirror"] is False for c in cameras)


def test_labels_cover_no_other_face_and_no_other_label_on_a_group_photo():
    from fexlab.pipeline.predict import FacePrediction, annotate, label_places

    sad = {"c": np.array([0.1, 0, 0, 0, 0.8, 0, 0.1], np.float32)}
    # a row of faces side by side, the top one at the photo's edge: no room above the first row
    boxes = [(10 + 70 * k, 0, 60, 60) for k in range(5)] + [(40 + 70 * k, 75, 60, 60) for k in range(4)]
    faces = [FacePrediction(box, 1.0, sad) for box in boxes]
    sizes = [(70, 16)] * len(boxes)
    places = label_places(boxes, sizes, (300, 400))
    rects = [(x, y, w, h) for (x, y), (w, h) in zip(places, sizes)]

    def overlap(a, b):
        return max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])) * max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))

    for i, rect in enumerate(rects):
        assert 0 <= rect[0] and rect[0] + rect[2] <= 400 and 0 <= rect[1] and rect[1] + rect[3] <= 300
        assert not [j for j, other in enumerate(rects) if j != i and overlap(rect, other)], i
        assert not [j for j, box in enumerate(boxes) if j != i and overlap(rect, box)], i
    drawn = annotate(np.zeros((300, 400, 3), np.uint8), faces, numbers=True)
    assert drawn.shape == (300, 400, 3)


def test_the_face_mesh_is_drawn_and_its_analysis_shown_as_bars_3d_and_avatars(registry):
    from fexlab.app.common import AU_NOTE
    from fexlab.app.predict import face_analysis

    photo = str(EXAMPLES_DIR / "two_people.jpg")
    plain, *_ = predict_photo(registry, photo, ["mini_xception"], "blazeface")
    gallery, _, payload, message, _ = predict_photo(registry, photo, ["mini_xception"], "blazeface", mesh=True)
    assert AU_NOTE in message and AU_NOTE not in predict_photo(registry, photo, ["mini_xception"], "blazeface")[3]
    with_mesh, without = (np.asarray(Image.open(g[0][0]).convert("RGB")) for g in (gallery, plain))
    x, y, w, h = payload["faces"][0]["box"]
    assert (with_mesh != without)[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4].any(axis=2).mean() > 0.2
    smile = payload["faces"][0]
    assert len(smile["mesh"]) == 478 and smile["action_units"]["AU12"] > 0.5 and set(smile["head_pose"]) == {
        "yaw", "pitch", "roll"}

    figure, model, avatars, files = face_analysis(registry, payload)
    assert [ax.get_title() for ax in figure.axes] == ["face 1: action units", "face 1: strongest blendshapes",
                                                       "face 2: action units", "face 2: strongest blendshapes"]
    bars = {label.get_text(): patch.get_width() for label, patch in zip(figure.axes[0].get_yticklabels(),
                                                                        figure.axes[0].patches)}
    assert bars["AU12"] == pytest.approx(smile["action_units"]["AU12"]) and AU_NOTE in figure.get_supxlabel()
    assert [caption for _, caption in avatars] == ["face 1", "face 2"]
    assert np.asarray(Image.open(avatars[0][0])).shape == (256, 256, 3)
    assert [f.rsplit("/", 1)[1] for f in files] == ["face1.obj", "face1.glb", "face2.obj", "face2.glb"]
    assert model == files[1] and open(model, "rb").read(4) == b"glTF"
    assert sum(line.startswith("f ") for line in open(files[0])) == 898
    assert face_analysis(registry, predict_photo(registry, photo, ["mini_xception"], "blazeface")[2]) == (
        None, None, [], [])


def test_several_photos_name_their_faces_meshes(registry, tmp_path, astronaut_path, hopper_path):
    from fexlab.app.predict import face_analysis

    _, _, payload, _, _ = predict_photo(registry, str(astronaut_path), "mini_xception", "blazeface",
                                        photos=[str(hopper_path)], mesh=True)
    _, _, avatars, files = face_analysis(registry, payload)
    assert [caption for _, caption in avatars] == ["astronaut.jpg, face 1", "grace_hopper.jpg, face 1"]
    assert [f.rsplit("/", 1)[1] for f in files][::2] == ["astronaut.face1.obj", "grace_hopper.face1.obj"]


def test_the_face_mesh_says_when_it_is_not_available(registry, astronaut_path, monkeypatch):
    from fexlab.plugins.face_mesh.plugin import FaceMesh
    from fexlab.registry import BROKEN, PluginStatus, Registry

    monkeypatch.setattr(FaceMesh, "status", classmethod(lambda cls: PluginStatus(BROKEN, "the bundle is damaged")))
    with pytest.raises(InputError, match="^the face mesh is not available: the bundle is damaged$"):
        predict_photo(Registry(), str(astronaut_path), "mini_xception", "haar", mesh=True)


def test_a_file_name_a_spreadsheet_would_run_is_escaped_in_the_csv(registry, tmp_path):
    import csv
    import shutil

    photos = [shutil.copy(EXAMPLES_DIR / "astronaut.jpg", tmp_path / name) for name in ("=1+2.jpg", "@SUM(A1).jpg")]
    *_, files = predict_photo(registry, None, "mini_xception", "haar", photos=[str(p) for p in photos])
    with open(files[0]) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["photo"] for row in rows] == ["'=1+2.jpg", "'@SUM(A1).jpg"]
    assert float(rows[0]["happy"]) > 0.5  # numbers stay numbers


def test_the_charts_say_when_they_show_fewer_faces_than_were_found(registry, monkeypatch, astronaut_path):
    from fexlab.app import predict

    monkeypatch.setattr(predict, "MAX_BAR_FACES", 1)
    monkeypatch.setattr(predict, "MAX_MESH_FACES", 1)
    photos = [str(astronaut_path), str(EXAMPLES_DIR / "grace_hopper.jpg")]
    *_, payload, message, _ = predict_photo(registry, None, "mini_xception", "haar", photos=photos, mesh=True)
    assert "The chart shows the first 1 of the 2 faces; the table has every face." in message
    figure, _, avatars, files = predict.face_analysis(registry, payload)
    assert len(avatars) == 1 and len([f for f in files if f.endswith(".obj")]) == 2
    assert any("The first 1 of the 2 faces are shown here" in text.get_text() for text in figure.texts)


def test_the_csv_has_the_face_meshs_columns_as_the_video_csv_has(registry, astronaut_path):
    import csv

    from fexlab.app.predict import CSV_HEADERS

    *_, payload, _, files = predict_photo(registry, str(astronaut_path), "mini_xception", "haar", mesh=True)
    with open(files[0]) as handle:
        [row] = list(csv.DictReader(handle))
    [face] = payload["faces"]
    columns = list(row)[len(CSV_HEADERS):]
    assert columns[0] == "AU1" and columns[columns.index("head_yaw"):][:3] == ["head_yaw", "head_pitch", "head_roll"]
    assert float(row["AU12"]) == pytest.approx(face["action_units"]["AU12"], abs=1e-4)
    assert float(row["head_roll"]) == pytest.approx(face["head_pose"]["roll"], abs=1e-4)
    assert float(row["mouthSmileLeft"]) == pytest.approx(face["blendshapes"]["mouthSmileLeft"], abs=1e-4)
    *_, plain = predict_photo(registry, str(astronaut_path), "mini_xception", "haar")
    assert open(plain[0]).readline().strip().split(",") == CSV_HEADERS


def test_the_mesh_obj_has_texture_coordinates_as_the_clis(registry, astronaut_path):
    from fexlab.app.predict import face_analysis

    *_, payload, _, _ = predict_photo(registry, str(astronaut_path), "mini_xception", "haar", mesh=True)
    *_, files = face_analysis(registry, payload)
    lines = open(files[0]).read().splitlines()
    assert sum(line.startswith("vt ") for line in lines) == sum(line.startswith("v ") for line in lines) == 468
    a, b, c = next(line for line in lines if line.startswith("f ")).split()[1:]
    assert a.split("/")[0] == a.split("/")[1]  # each corner names its texture coordinate
