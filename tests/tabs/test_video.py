import csv

import pytest

from preprocessing.images import load_image
from registry import EMOTIONS, InputError
from tabs import video as video_tab
from tabs.video import analyse_video
from tests.videos import face_video


@pytest.fixture
def clip(tmp_path, astronaut_path):
    return face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=10, blank_every=5)


def test_video_gives_annotated_webm_csv_and_tracks(registry, clip):
    import cv2

    seen = []
    annotated, table, rows, message = analyse_video(registry, {"path": str(clip), "orig_name": "clip.mp4"},
                                                    ["mini_xception"], "haar", 2, progress=lambda *a, **k: seen.append(a[0]))
    capture = cv2.VideoCapture(annotated)
    assert annotated.endswith(".webm") and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()
    with open(table) as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(rows) >= 3
    assert {r["emotion"] for r in records} == {"happy"} and set(EMOTIONS) <= set(records[0])
    assert {r["track"] for r in records[:2]} == {"0"}
    assert seen[-1] == (5, 5) and "Analysed 5 frames" in message


def test_long_videos_are_capped(registry, clip, monkeypatch):
    monkeypatch.setattr(video_tab, "MAX_ANALYSED_FRAMES", 3)
    _, _, _, message = analyse_video(registry, str(clip), ["mini_xception"], "haar", 1)
    assert "Analysed 3 frames" in message and "Stopped at 3 frames" in message


@pytest.mark.parametrize("name, content, message", [
    ("notes.mp4", b"text, not a video" * 50, "notes.mp4 is not a video"),
    ("photo.jpg", b"\xff\xd8\xff", "does not look like a video"),
    ("empty.mp4", b"", "empty"),
])
def test_bad_videos_say_what_is_wrong(registry, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        analyse_video(registry, {"path": str(path), "orig_name": name}, ["mini_xception"], "haar", 1)


def test_missing_video_or_classifier(registry, clip):
    with pytest.raises(InputError, match="upload a video"):
        analyse_video(registry, None, ["mini_xception"], "haar")
    with pytest.raises(InputError, match="at least one classifier"):
        analyse_video(registry, str(clip), [], "haar")
