import numpy as np
import pytest

from fexlab.pipeline.predict import Predictor, annotate, is_video, read_video
from fexlab.preprocessing.images import load_image
from fexlab.registry import EMOTIONS, InputError
from tests.videos import face_video


@pytest.fixture(scope="module")
def predictor(registry):
    return Predictor.from_registry(registry, ["mini_xception"], "haar")


def test_smiling_astronaut_is_happy(predictor, astronaut_path):
    result = predictor.predict_image(astronaut_path)
    assert result.size == (512, 512)
    assert [face.emotion for face in result.faces] == ["happy"]
    face = result.faces[0].to_dict()
    assert set(face) == {"box", "score", "emotion", "probabilities"} and 0.5 <= face["score"] <= 1
    assert list(face["probabilities"]) == list(EMOTIONS)
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_all_faces_of_an_image_are_classified_in_one_batch(registry, two_faces, monkeypatch):
    classifier = registry.classifier("mini_xception")
    calls = []
    original = type(classifier).predict
    monkeypatch.setattr(type(classifier), "predict", lambda self, faces: calls.append(len(faces)) or original(self, faces))
    result = Predictor(classifier, registry.detector("haar")).predict_image(two_faces)
    assert len(result.faces) == 2 and calls == [2]
    assert "happy" in [face.emotion for face in result.faces]


def test_several_classifiers_side_by_side(registry, astronaut_path, tmp_path):
    from fexlab.plugins.mini_xception import MiniXception

    untrained = MiniXception.from_config()
    predictor = Predictor({"fer": registry.classifier("mini_xception"), "untrained": untrained},
                          registry.detector("haar"))
    face = predictor.predict_image(astronaut_path).faces[0]
    assert set(face.probabilities) == {"fer", "untrained"}
    assert face.top("fer")[0] == "happy"
    assert set(face.to_dict()["classifiers"]) == {"fer", "untrained"}


def test_boxes_are_in_original_pixels_when_the_image_was_scaled(predictor, astronaut_path):
    import cv2

    small = predictor.predict_image(astronaut_path).faces[0].box
    big = cv2.resize(load_image(astronaut_path), (4608, 4608))  # 21 MP: scaled down to 16 MP to work
    result = predictor.predict_image(big)
    assert result.size == (4608, 4608)
    np.testing.assert_allclose(np.array(result.faces[0].box) / 9, small, atol=6)


def test_no_face_is_an_empty_list_not_an_error(predictor):
    assert predictor.predict_image(np.full((200, 300, 3), 90, np.uint8)).faces == []


def test_video_is_streamed_every_kth_frame_with_tracks(predictor, astronaut_path, tmp_path):
    video = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=12, blank_every=4)
    frames = list(predictor.predict_video(video, every=2, batch_frames=4))
    assert [f.index for f in frames] == [0, 2, 4, 6, 8, 10]
    assert frames[1].time == pytest.approx(0.2)
    with_face = [f for f in frames if f.faces]
    assert len(with_face) >= 4 and all(f.faces[0].emotion == "happy" for f in with_face)
    assert len({f.faces[0].track for f in with_face[:1] + with_face[1:2]}) == 1  # frames 0 and 2 overlap


def test_video_streaming_holds_one_batch(predictor, astronaut_path, tmp_path):
    video = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=30)
    stream = predictor.predict_video(video, batch_frames=4, keep_frames=True)
    first = next(stream)
    assert first.index == 0 and first.frame.shape == (512, 512, 3)
    stream.close()


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"not a video at all" * 100, "no frame could be read|not a video OpenCV can open")])
def test_bad_videos_are_clear_errors(tmp_path, content, message, predictor):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(predictor.predict_video(path))
    with pytest.raises(InputError, match="no such file"):
        list(read_video(tmp_path / "missing.mp4"))


def test_annotate_draws_on_a_copy(predictor, astronaut_path):
    image = load_image(astronaut_path)
    result = predictor.predict_image(image)
    drawn = annotate(image, result.faces)
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    assert np.array_equal(image, load_image(astronaut_path))


def test_is_video():
    assert is_video("a/b.MP4") and is_video("x.webm") and not is_video("x.gif")


def test_no_classifier_is_an_error(registry):
    with pytest.raises(InputError, match="at least one classifier"):
        Predictor({}, registry.detector("haar"))


def test_writing_a_webm_leaves_stderr_clean(tmp_path, capfd):
    """OpenCV's "tag 'VP80' is not supported" note is not passed on; other stderr lines are."""
    import sys

    from fexlab.pipeline.predict import VideoWriter

    with VideoWriter(tmp_path / "clip.webm", 10) as writer:
        for shade in (0, 120, 240):
            writer.write(np.full((64, 64, 3), shade, np.uint8))
    import cv2

    assert cv2.VideoCapture(str(tmp_path / "clip.webm")).get(cv2.CAP_PROP_FRAME_COUNT) == 3
    captured = capfd.readouterr()
    assert "VP80" not in captured.err and "not supported" not in captured.err
    from fexlab.pipeline.predict import _without_fourcc_note

    with _without_fourcc_note():
        print("a line of its own", file=sys.stderr)
    assert "a line of its own" in capfd.readouterr().err


def test_a_large_jpeg_is_decoded_at_reduced_size_and_its_faces_placed_on_the_original(tmp_path, astronaut_path):
    import cv2
    from PIL import Image

    from fexlab.pipeline.predict import ANALYSIS_MAX_PIXELS, Predictor
    from fexlab.registry import default_registry

    photo = np.asarray(Image.open(astronaut_path).convert("RGB"))
    big = np.full((3024, 4032, 3), 128, np.uint8)  # a phone's 12 MP photo, the astronaut 3024 px tall in it
    big[:, :3024] = cv2.resize(photo, (3024, 3024), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    registry = default_registry()
    predictor = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector("yunet"))
    result = predictor.predict_image(tmp_path / "big.jpg", keep_image=True)
    assert result.size == (4032, 3024)
    assert result.image.shape[:2] == (1512, 2016) and 2016 * 1512 <= ANALYSIS_MAX_PIXELS  # JPEG's half-size decode
    [face] = result.faces
    small = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector("yunet"))
    [reference] = small.predict_image(astronaut_path).faces
    assert np.allclose(np.asarray(face.box) / (3024 / 512), reference.box, atol=6)  # its own scale, its own box
