"""The app through its HTTP API (gradio_client), as the hosted Space is used."""

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app import build_demo


@pytest.fixture(scope="module")
def client(registry):
    demo = build_demo(registry)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    yield Client(url, verbose=False)
    demo.close()


def test_every_event_has_an_api_name(client):
    names = set(client.view_api(return_format="dict")["named_endpoints"])
    assert {"/predict", "/plugins", "/video", "/live"} <= names


def test_real_photo_gets_a_box_and_happy(client, astronaut_path, hopper_path):
    gallery, _, result, message = client.predict(handle_file(str(astronaut_path)), ["mini_xception"], "haar",
                                                 api_name="/predict")
    assert [f["emotion"] for f in result["faces"]] == ["happy"]
    assert "1 face found" in message and "happy" in message
    assert len(gallery) == 1 and gallery[0]["caption"] == "mini_xception"
    annotated = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"))
    assert annotated.shape == (512, 512, 3)
    _, _, result, _ = client.predict(handle_file(str(hopper_path)), ["mini_xception"], "haar", api_name="/predict")
    assert len(result["faces"]) == 1


@pytest.mark.parametrize(
    "name, content, message",
    [("notes.jpg", b"just text", "notes.jpg is not an image"), ("empty.jpg", b"", "empty.jpg is empty")],
)
def test_bad_uploads_get_a_one_line_message(client, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Exception, match=message) as info:
        client.predict(handle_file(str(path)), ["mini_xception"], "haar", api_name="/predict")
    assert "Traceback" not in str(info.value) and "/tmp/gradio" not in str(info.value)


def test_photo_without_a_face_says_so(client, tmp_path):
    Image.new("RGB", (300, 200), (90, 120, 200)).save(tmp_path / "sky.png")
    _, _, result, message = client.predict(handle_file(str(tmp_path / "sky.png")), ["mini_xception"], "haar",
                                           api_name="/predict")
    assert result["faces"] == [] and "No face found" in message


def test_missing_upload_and_unknown_classifier(client, astronaut_path):
    with pytest.raises(Exception, match="upload a photo"):
        client.predict(None, ["mini_xception"], "haar", api_name="/predict")
    with pytest.raises(Exception, match="no classifier named 'nope'"):
        client.predict(handle_file(str(astronaut_path)), ["nope"], "haar", api_name="/predict")


def test_plugins_table(client):
    table = client.predict(api_name="/plugins")
    rows = {row[1]: row for row in table["data"]}
    assert rows["mini_xception"][2] == "ready" and rows["haar"][0] == "detector"


def test_video_endpoint(client, astronaut_path, tmp_path):
    from preprocessing.images import load_image
    from tests.videos import face_video

    clip = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=6)
    annotated, table_file, table, message = client.predict(handle_file(str(clip)), ["mini_xception"], "haar", 2,
                                                           api_name="/video")
    assert "Analysed 3 frames" in message
    assert {row[7] for row in table["data"]} == {"happy"}
    assert str(annotated["video"] if isinstance(annotated, dict) else annotated).endswith(".webm")
