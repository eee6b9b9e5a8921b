import csv

import pytest

from fexlab.app import video as video_tab
from fexlab.app.video import analyse_video
from fexlab.preprocessing.images import load_image
from fexlab.registry import EMOTIONS, InputError
from tests.videos import face_video


@pytest.fixture
def clip(tmp_path, astronaut_path):
    return face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=10, blank_every=5)


def test_video_gives_annotated_webm_csv_and_tracks(registry, clip):
    import cv2

    seen = []
    annotated, timeline, table, rows, message, *_ = analyse_video(
        registry, {"path": str(clip), "orig_name": "clip.mp4"}, ["mini_xception"], "haar", 2,
        progress=lambda *a, **k: seen.append(a[0]))
    capture = cv2.VideoCapture(annotated)
    assert annotated.endswith(".webm") and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()
    with open(table) as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(rows) >= 3
    assert {r["emotion"] for r in records} == {"happy"} and set(EMOTIONS) <= set(records[0])
    assert {r["track"] for r in records[:2]} == {"1"}  # tracks are numbered from 1, as in the plot
    assert seen[-1] == (5, 5) and "Analysed 5 frames" in message
    tracks = sorted({int(r["track"]) for r in records})  # the blank frame ends a track
    assert len(timeline.axes) == len(tracks)  # a panel per face track: its emotions over time
    axes = timeline.axes[0]
    assert axes.get_title(loc="left") == "face track 1: mostly happy"
    happy = next(line for line in axes.get_lines() if line.get_label() == "happy")
    assert list(happy.get_xdata()) == [float(r["time"]) for r in records if r["track"] == "1"]
    assert min(happy.get_ydata()) > 0.5


def test_the_timeline_has_a_panel_per_track_longest_first(registry, monkeypatch):
    from fexlab.app.predict import EXAMPLES_DIR

    _, timeline, _, rows, message, *_ = analyse_video(registry, str(EXAMPLES_DIR / "two_people_pan.webm"),
                                                  ["mini_xception"], "haar", 4)
    titles = [ax.get_title(loc="left") for ax in timeline.axes]
    # track 1 is the face on the left, face 1 of the photo in the Predict tab, and track 1 in the CSV
    assert titles == ["face track 1: mostly happy", "face track 2: mostly neutral"], titles
    first = [row for row in rows if row[2] == 1]
    assert first and all(row[3] < other[3] for row in first for other in rows if other[0] == row[0] and other[2] == 2)
    assert "Analysed 10 frames (every 4): 20 face detections in 2 tracks." == message
    monkeypatch.setattr(video_tab, "MAX_TIMELINE_TRACKS", 1)
    figure = video_tab.timeline_figure(rows, "mini_xception")
    assert len(figure.axes) == 1


def test_long_videos_are_capped(registry, clip, monkeypatch):
    monkeypatch.setattr(video_tab, "MAX_ANALYSED_FRAMES", 3)
    _, _, _, _, message, *_ = analyse_video(registry, str(clip), ["mini_xception"], "haar", 1)
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


def test_your_model_labels_the_video(registry, folders, clip):
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "mine" / "best")
    _, timeline, _, rows, _, *_ = analyse_video(registry, str(clip), [], "haar", 5, checkpoint="runs/mine")
    assert timeline._suptitle.get_text() == "Emotion over time (mini_xception: runs/mine)" and rows[0][8] == "happy"


def test_an_upload_browsers_cannot_play_gets_a_webm_copy_that_they_can(clip):
    import cv2

    from fexlab.pipeline.predict import BROWSER_CODECS, video_codec

    assert video_codec(clip) in ("fmp4", "mp4v") and video_codec(clip) not in BROWSER_CODECS  # MPEG-4 part 2
    copy = video_tab.preview_video({"path": str(clip), "orig_name": "holiday.mp4"})
    assert copy.endswith("holiday.webm") and video_codec(copy) == "vp80"
    capture = cv2.VideoCapture(copy)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    capture.release()
    from fexlab.app.predict import EXAMPLES_DIR

    example = str(EXAMPLES_DIR / "two_people_pan.webm")
    assert video_tab.preview_video(example) == example and video_tab.preview_video(None) is None  # as it is
    photo = clip.with_name("photo.jpg")
    photo.write_bytes(b"\xff\xd8\xff")
    with pytest.raises(InputError, match="photo.jpg does not look like a video"):
        video_tab.preview_video({"path": str(photo), "orig_name": "photo.jpg"})


def test_an_error_empties_the_table_but_keeps_its_headers(registry):
    """After an error the page empties the outputs; the per-frame table keeps "frame, time, ..."."""
    import json

    import gradio as gr

    with gr.Blocks() as demo:
        video_tab.build(registry)
    empties = [dep["js"] for dep in demo.get_config_file()["dependencies"]
               if dep.get("js") and dep["js"].startswith("() => [")]
    tables = [value for js in empties for value in json.loads(js[len("() => "):]) if isinstance(value, dict)]
    assert tables and all(table["headers"] == video_tab.HEADERS and table["data"] == [] for table in tables)


def test_a_jpeg_named_mp4_is_called_what_it_is(registry, tmp_path, astronaut_path):
    fake = tmp_path / "upload.mp4"
    fake.write_bytes(astronaut_path.read_bytes())
    upload = {"path": str(fake), "orig_name": "holiday.mp4"}
    with pytest.raises(InputError, match=r"^holiday.mp4 is a JPEG image, not a video"):
        analyse_video(registry, upload, ["mini_xception"], "haar", 1)
    with pytest.raises(InputError, match=r"^holiday.mp4 is a JPEG image, not a video"):
        video_tab.preview_video(upload)


def test_one_classifier_at_a_time_and_the_detector_score_in_the_csv(registry, clip):
    with pytest.raises(InputError, match="one classifier at a time; choose one of mini_xception, vit"):
        analyse_video(registry, str(clip), ["mini_xception", "vit"], "haar", 2)
    _, _, table, rows, _, *_ = analyse_video(registry, str(clip), "mini_xception", "haar", 2)
    with open(table) as handle:
        records = list(csv.DictReader(handle))
    assert records and all(0.5 <= float(r["score"]) <= 1 for r in records)
    _, _, _, none, message, *_ = analyse_video(registry, str(clip), "mini_xception", "haar", 2, min_score=1.0)
    assert none == [] and "0 face detections" in message


def test_a_typed_model_replaces_the_chosen_classifier(registry, clip, folders):
    from fexlab.plugins.mini_xception import MiniXception

    MiniXception.from_config().save_pretrained(folders["runs"] / "mine")
    _, timeline, _, rows, _, *_ = analyse_video(registry, str(clip), "vit", "haar", 2, checkpoint="runs/mine")
    assert rows and timeline._suptitle.get_text() == "Emotion over time (mini_xception: runs/mine)"


def test_the_timeline_starts_at_0_seconds(registry, tmp_path, astronaut_path):
    """A face that appears late is plotted on the video's own time axis, from 0 s to its end."""
    import numpy as np

    from fexlab.pipeline.predict import VideoWriter

    face = load_image(astronaut_path)
    with VideoWriter(tmp_path / "late.webm", 10) as writer:
        for index in range(20):
            writer.write(face if index >= 10 else np.full_like(face, 128))
    _, timeline, _, rows, _, *_ = analyse_video(registry, str(tmp_path / "late.webm"), "mini_xception", "haar", 2)
    assert rows and min(row[1] for row in rows) >= 0.9
    start, end = timeline.axes[0].get_xlim()
    assert start == 0 and end >= 1.8


def test_the_face_mesh_adds_action_units_over_time_live_link_files_and_an_avatar_video(registry, clip):
    import cv2

    from fexlab.app.common import AU_NOTE
    from fexlab.pipeline.exports import LIVE_LINK_HEADER

    annotated, _, table, rows, message, units, avatar, files = analyse_video(
        registry, {"path": str(clip), "orig_name": "holiday.mp4"}, "mini_xception", "blazeface", 1, mesh=True)
    with open(table) as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == len(rows) >= 6 and float(records[0]["AU12"]) > 0.5 and "AU43" in records[0]
    assert list(records[0])[len(video_tab.HEADERS)] == "AU1"  # the units follow the emotions, in FACS order
    assert float(records[0]["head_yaw"]) == rows[0][list(records[0]).index("head_yaw")]  # as the Predict CSV
    assert 0.0 <= float(records[0]["jawOpen"]) <= 1.0 and list(records[0])[-1] != "AU43"
    assert AU_NOTE in message and "face track 1" in message
    tracks = sorted({r["track"] for r in records})
    assert [ax.get_title(loc="left") for ax in units.axes] == [f"face track {t}" for t in tracks]
    assert "AU12" in [line.get_label() for line in units.axes[0].get_lines()]
    assert [f.rsplit("/", 1)[1] for f in files] == ["holiday.live_link.csv", "holiday.blendshapes.json"]
    with open(files[0]) as handle:
        live_link = list(csv.reader(handle))
    assert tuple(live_link[0]) == LIVE_LINK_HEADER
    assert len(live_link) - 1 == sum(r["track"] == "1" for r in records)
    capture = cv2.VideoCapture(avatar)
    width, count = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_COUNT)
    capture.release()
    assert avatar.endswith("holiday.avatar.webm") and count == 10 and width > 256  # each frame beside its avatar
    plain = analyse_video(registry, str(clip), "mini_xception", "blazeface", 1)
    assert plain[5:] == (None, None, []) and "AU1" not in open(plain[2]).readline()
