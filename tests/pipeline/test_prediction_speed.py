"""The lean prediction path's plumbing: video frames read ahead in a thread, interpreter threads."""

import threading

import numpy as np
import pytest

from fexlab.pipeline.predict import Predictor, read_ahead
from fexlab.registry import InputError
from fexlab.registry.litert import share_cores, shares_cores


def test_read_ahead_gives_every_item_in_order():
    assert list(read_ahead(iter(range(100)), 4)) == list(range(100))
    assert list(read_ahead(iter([]), 4)) == []


def test_read_ahead_raises_the_producers_error_in_the_consumer():
    def items():
        yield 1
        raise InputError("clip.mp4: no frame could be read")

    got = []
    with pytest.raises(InputError, match="no frame could be read"):
        for item in read_ahead(items(), 2):
            got.append(item)
    assert got == [1]


def test_stopping_early_stops_the_reader_and_closes_the_source():
    closed = threading.Event()

    def items():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    reader = read_ahead(items(), 2)
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    assert closed.wait(5)
    assert not any(t.name == "fexlab-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_a_video_reads_the_same_with_its_frames_read_ahead(tmp_path, registry, astronaut_path):
    import cv2

    from fexlab.preprocessing.images import load_image

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    photo = cv2.resize(load_image(astronaut_path), (200, 200))
    for shift in range(20):
        frame = np.full((240, 320, 3), 90, np.uint8)
        frame[20:220, 5 * shift : 5 * shift + 200] = photo
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    predictor = Predictor(registry.classifier("mini_xception"), registry.detector("blazeface"))
    frames = list(predictor.predict_video(path, batch_frames=4))
    assert [f.index for f in frames] == list(range(20))
    assert all(len(f.faces) == 1 for f in frames)
    assert len({f.faces[0].track for f in frames}) == 1


def test_only_the_marked_threads_share_the_cores():
    assert not shares_cores()
    seen = []

    def worker():
        share_cores()
        seen.append(shares_cores())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [True] and not shares_cores()


def test_tiles_run_side_by_side_with_the_same_faces_as_one_by_one(registry):
    from benchmarks.inputs import five_face_image
    from fexlab.preprocessing.images import load_image

    detector = registry.detector("blazeface")
    image = load_image(five_face_image())
    side_by_side = detector.detect(image)  # this thread shares no cores: the tiles run in parallel_pool
    one_by_one = []

    def worker():
        share_cores()  # as in a video frame's detection: the tiles run one after another
        one_by_one.extend(detector.detect(image))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(side_by_side) == 5 and one_by_one == side_by_side


def test_the_profile_table_reads_a_benchmark_runs_results(tmp_path):
    import json

    from benchmarks.profile import main

    before = {"profile": {"photos": {"total": [30.0, 0.0], "detect": [20.0, 1.0], "detect > tiles": [9.0, 0.5]}}}
    results = {"rows": [
        {"benchmark": "profile: photos", "case": "total", "value": 25.0, "unit": "ms", "note": ""},
        {"benchmark": "profile: photos", "case": "detect", "value": 15.0, "unit": "ms", "note": "1 calls per image"},
        {"benchmark": "profile: photos", "case": "detect > tiles", "value": 6.0, "unit": "ms",
         "note": "0.5 calls per image"},
        {"benchmark": "predict image (mini_xception)", "case": "1 face", "value": 33.0, "unit": "images/s", "note": ""},
    ]}
    (tmp_path / "before.json").write_text(json.dumps(before))
    (tmp_path / "results.json").write_text(json.dumps(results))
    table = tmp_path / "table.json"
    assert main(["--before", str(tmp_path / "before.json"), "--after", str(tmp_path / "results.json"),
                 "--save", str(table)]) == 0
    saved = json.loads(table.read_text())["profile"]
    assert saved == {"photos": {"total": [25.0, 0.0], "detect": [15.0, 1.0], "detect > tiles": [6.0, 0.5]}}
