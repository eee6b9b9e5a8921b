"""``fexlab.pipeline.analysis``: photos and videos into one Parquet table, resumable, fault-tolerant."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fexlab.pipeline.analysis import (
    FILES_TABLE,
    Analysis,
    AnalysisSettings,
    FaceTable,
    Part,
    analyze_file,
    analyze_local,
    column_prefixes,
    frame_ranges,
)
from fexlab.pipeline.predict import Predictor
from fexlab.preprocessing.images import load_image
from fexlab.registry import EMOTIONS, InputError
from tests.videos import face_video, sway_video

MESH = AnalysisSettings(("efficientnet",), analyzers=("face_mesh",))
SORT = ["file", "frame", "box_x"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, two_faces, astronaut_path):
    """Two photos (two faces, one face), a 12-frame clip at 10 frames/s and a corrupt video."""
    folder = tmp_path_factory.mktemp("inputs")
    Image.fromarray(two_faces).save(folder / "two.png")
    Image.open(astronaut_path).save(folder / "one.jpg")
    face_video(folder / "clip.mp4", load_image(astronaut_path), count=12)
    (folder / "broken.mp4").write_bytes(b"this is no video" * 10)
    return [str(folder / name) for name in ("two.png", "one.jpg", "clip.mp4", "broken.mp4")]


@pytest.fixture(scope="module")
def mesh_predictor(registry):
    return MESH.predictor(registry)


def faces_table(out) -> pd.DataFrame:
    return pd.read_parquet(out / "faces").sort_values(SORT).reset_index(drop=True)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, inputs, registry):
    """The table of one uninterrupted run with the face mesh: what every resumed run must equal."""
    out = tmp_path_factory.mktemp("clean")
    outcomes = analyze_local(Analysis(out, MESH), inputs, registry=registry, workers=1)
    return out, outcomes, faces_table(out)


def test_one_table_a_row_per_face_per_frame_with_every_column(clean_run, inputs, mesh_predictor):
    out, outcomes, table = clean_run
    two, one, clip, broken = inputs
    assert list(outcomes) == inputs and outcomes[two] is outcomes[one] is outcomes[clip] is None
    assert "broken.mp4" in outcomes[broken] and "\n" not in outcomes[broken]
    assert table.groupby("file").size().to_dict() == {two: 2, one: 1, clip: 12}
    columns = list(table.columns)
    assert columns[:10] == ["file", "frame", "time", "track", "box_x", "box_y", "box_w", "box_h", "score", "emotion"]
    probabilities = [f"efficientnet_{emotion}" for emotion in EMOTIONS]
    assert columns[10:17] == probabilities
    analysed = ("presence", "AU12", "AU43", "mouthSmileLeft", "eyeBlinkRight", "head_yaw", "head_pitch", "head_roll")
    assert set(analysed) <= set(columns)
    # the probabilities are the classifier's: they sum to one and the emotion is their largest
    assert np.allclose(table[probabilities].sum(axis=1), 1.0, atol=1e-4)
    assert (table[probabilities].to_numpy().argmax(axis=1) == table.emotion.map(EMOTIONS.index)).all()
    # a photo's faces are those Predictor finds, numbered left to right as tracks; its frame is 0
    expected = mesh_predictor.predict_image(two).faces
    photo = table[table.file == two]
    assert photo.track.tolist() == [1, 2] and photo.frame.tolist() == [0, 0]
    for (_, row), face in zip(photo.iterrows(), expected):
        assert (row.box_x, row.box_y, row.box_w, row.box_h) == face.box
        assert row.AU12 == pytest.approx(face.analysis["action_units"]["AU12"], abs=1e-6)
        assert row.efficientnet_happy == pytest.approx(face.probabilities["efficientnet"][EMOTIONS.index("happy")],
                                                       abs=1e-6)
    video = table[table.file == clip]
    assert video.frame.tolist() == list(range(12)) and video.time.tolist() == pytest.approx(np.arange(12) / 10)
    assert set(video.track) == {1}
    assert (np.diff(video.box_x) > 0).mean() > 0.5  # the face drifts right


def test_the_files_table_says_what_became_of_each_input(clean_run, inputs):
    out, _, table = clean_run
    files = pd.read_parquet(out / FILES_TABLE).set_index("file")
    two, one, clip, broken = inputs
    assert files.loc[[two, one, clip], "status"].tolist() == ["done"] * 3
    assert files.loc[broken, "status"] == "error" and "broken.mp4" in files.loc[broken, "error"]
    assert files.loc[two, "faces"] == 2 and files.loc[clip, "frames"] == 12 and files.loc[clip, "faces"] == 12
    assert files.loc[clip, "seconds"] == pytest.approx(1.2)
    [track] = files.loc[clip, "tracks"]
    seconds = table[table.file == clip].emotion.value_counts() / 10
    assert track["track"] == 1 and track["seconds"] == pytest.approx(1.2)
    for emotion in EMOTIONS:
        assert track[emotion] == pytest.approx(seconds.get(emotion, 0.0))
    assert len(files.loc[two, "tracks"]) == 0  # photos have no time


def test_duckdb_and_polars_read_the_parts_as_one_table(clean_run):
    duckdb = pytest.importorskip("duckdb")
    polars = pytest.importorskip("polars")
    out, _, table = clean_run
    pattern = str(out / "faces" / "*.parquet")
    [(count, happy)] = duckdb.sql(f"SELECT count(*), sum(efficientnet_happy) FROM '{pattern}'").fetchall()
    assert count == len(table) and happy == pytest.approx(table.efficientnet_happy.sum(), rel=1e-5)
    assert polars.read_parquet(pattern).height == len(table)


def test_a_rerun_skips_finished_inputs_and_redoes_a_changed_one(tmp_path, inputs, registry, astronaut_path):
    inputs = inputs[:3]
    analyze_local(Analysis(tmp_path, MESH), inputs, registry=registry, workers=1)
    parts = {path: Analysis(tmp_path, MESH).part_path(path) for path in inputs}
    stamps = {path: part.stat().st_mtime_ns for path, part in parts.items()}
    analysis = Analysis(tmp_path, MESH)
    assert analysis.pending(inputs) == []
    analyze_local(analysis, inputs, registry=registry, workers=1)
    assert {path: part.stat().st_mtime_ns for path, part in parts.items()} == stamps
    # the photo changes (a mirror image): only its part is made again
    two = inputs[0]
    Image.fromarray(np.asarray(Image.open(two))[:, ::-1]).save(two)
    os.utime(two, ns=(stamps[two] + 10**9, stamps[two] + 10**9))
    try:
        assert analysis.pending(inputs) == [two]
        analyze_local(analysis, inputs, registry=registry, workers=1)
        assert parts[two].stat().st_mtime_ns != stamps[two]
        assert all(parts[path].stat().st_mtime_ns == stamps[path] for path in inputs[1:])
    finally:
        Image.fromarray(np.asarray(Image.open(two))[:, ::-1]).save(two)


def test_an_interrupted_run_goes_on_to_every_row_exactly_once(tmp_path, inputs, registry, clean_run):
    seen = []

    def stop_in_the_clip(frames):
        seen.append(frames)
        if len(seen) == 3:  # two photos done, the clip's first chunk written to its temporary file
            raise KeyboardInterrupt

    analysis = Analysis(tmp_path, MESH)
    with pytest.raises(KeyboardInterrupt):
        analyze_local(analysis, inputs, registry=registry, workers=1, on_frames=stop_in_the_clip)
    assert not list((tmp_path / "faces").glob(".*"))  # no half-written part left behind
    assert sorted(pd.read_parquet(tmp_path / "faces").file.unique()) == sorted(inputs[:2])
    assert pd.read_parquet(tmp_path / FILES_TABLE).file.tolist() == inputs[:2]
    assert analysis.pending(inputs) == inputs[2:]
    analyze_local(Analysis(tmp_path, MESH), inputs, registry=registry, workers=1)
    pd.testing.assert_frame_equal(faces_table(tmp_path), clean_run[2])
    assert pd.read_parquet(tmp_path / FILES_TABLE).file.tolist() == inputs


def test_a_damaged_part_and_a_killed_runs_temporary_file_are_redone(tmp_path, inputs, registry, clean_run):
    analyze_local(Analysis(tmp_path, MESH), inputs, registry=registry, workers=1)
    part = Analysis(tmp_path, MESH).part_path(inputs[2])
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])  # cut short, as by a full disk
    stale = tmp_path / "faces" / f".{part.name}.12345.tmp"
    stale.write_bytes(b"PAR1 half")
    analysis = Analysis(tmp_path, MESH)
    assert not stale.exists() and analysis.pending(inputs) == [inputs[2], inputs[3]]
    analyze_local(analysis, inputs, registry=registry, workers=1)
    pd.testing.assert_frame_equal(faces_table(tmp_path), clean_run[2])


def test_parts_made_with_other_settings_are_refused_or_overwritten(tmp_path, inputs, registry):
    analyze_local(Analysis(tmp_path, MESH), inputs[1:2], registry=registry, workers=1)
    with pytest.raises(InputError, match=r"1 part made with other settings \(analyzers \['face_mesh'\] \(now \[\]\)\)"):
        Analysis(tmp_path, AnalysisSettings())
    analysis = Analysis(tmp_path, AnalysisSettings(), overwrite=True)
    assert analysis.pending(inputs[1:2]) == inputs[1:2]
    analyze_local(analysis, inputs[1:2], registry=registry, workers=1)
    assert "AU12" not in pd.read_parquet(tmp_path / "faces").columns


def test_settings_are_checked():
    from fexlab.registry.classifier import DEFAULT_CLASSIFIER, DEFAULT_MESH_CLASSIFIER

    assert AnalysisSettings().classifiers == (DEFAULT_CLASSIFIER,)
    assert AnalysisSettings(analyzers=("face_mesh",)).classifiers == (DEFAULT_MESH_CLASSIFIER,)
    with pytest.raises(InputError, match="--every must be at least 1"):
        AnalysisSettings(every=0)
    with pytest.raises(InputError, match="--min-score must lie between 0 and 1"):
        AnalysisSettings(min_score=2)
    assert column_prefixes(["efficientnet.fer2013", "mini_xception:runs/a b", "efficientnet-fer2013"]) == {
        "efficientnet.fer2013": "efficientnet_fer2013", "mini_xception:runs/a b": "mini_xception_runs_a_b",
        "efficientnet-fer2013": "efficientnet_fer2013_2"}


def test_an_analyzer_that_does_not_name_its_outputs_is_refused(registry):
    from dataclasses import dataclass

    from fexlab.registry.analyzer import FaceAnalyzer

    @dataclass
    class NoConfig:
        pass

    class Unnamed(FaceAnalyzer):
        name = "unnamed"
        config_class = NoConfig
        outputs = ("blendshapes",)

        def analyze(self, image, faces):
            return [{"blendshapes": {"jawOpen": 0.5}} for _ in faces]

    with pytest.raises(InputError, match="unnamed does not name its blendshapes"):
        FaceTable(["efficientnet"], {"unnamed": Unnamed()})


def test_a_video_cut_into_frame_ranges_gives_the_rows_of_one_piece(tmp_path, mesh_predictor, astronaut_path):
    """Ranges of 240 analysed frames: the face mesh redetects on the same frames and the tracks
    run across the cut, so the rows equal those of the whole video."""
    photo = np.asarray(Image.open(astronaut_path).convert("RGB").resize((160, 160)))
    clip = str(sway_video(tmp_path / "long.mp4", photo))
    ranges = frame_ranges(clip, every=1, frames_per_range=100)
    assert ranges == [(0, 240), (240, None)]
    assert frame_ranges(clip, every=2, frames_per_range=240) == [(0, None)]  # 125 analysed frames
    table = FaceTable.of(mesh_predictor)
    analysis = Analysis(tmp_path / "out", MESH)

    def part_rows(pieces):
        with analysis.part(clip, table.schema) as part:
            for start, stop in pieces:
                for rows, frames in analyze_file(mesh_predictor, table, clip, start=start, stop=stop):
                    part.add(rows, frames)
            part.commit()
        return pd.read_parquet(part.path)

    whole, cut = part_rows([(0, None)]), part_rows(ranges)
    assert len(whole) == 250 and set(whole.track) == {1}
    pd.testing.assert_frame_equal(cut, whole, check_exact=False, atol=1e-5)


def test_part_is_atomic(tmp_path, registry):
    table = FaceTable(["efficientnet"], {})
    target = tmp_path / "a.parquet"
    with Part(target, table.schema, {}) as part:
        part.add(table.rows("x", []), 0)
        assert part.temp.exists() and not target.exists()
    assert not part.temp.exists() and not target.exists()  # left unfinished: nothing remains


def test_a_predictor_is_built_from_the_settings(registry):
    predictor = AnalysisSettings(("mini_xception", "efficientnet"), "full_frame", every=3).predictor(registry)
    assert isinstance(predictor, Predictor) and list(predictor.classifiers) == ["mini_xception", "efficientnet"]
    assert predictor.detector.name == "full_frame" and not predictor.analyzers


def test_worker_processes_give_the_rows_of_one_process_and_stop_on_ctrl_c(tmp_path, inputs, clean_run, astronaut_path):
    """Two processes take the photos and the ranges of a video in turn; the rows are those of one
    process. Ctrl-C stops them, leaves no temporary file, and the rerun completes the table."""
    photo = np.asarray(Image.open(astronaut_path).convert("RGB").resize((160, 160)))
    clip = str(sway_video(tmp_path / "sway.mp4", photo))
    paths = [*inputs, clip]
    one = analyze_local(Analysis(tmp_path / "one", MESH), [clip], workers=1)
    frames = []
    outcomes = analyze_local(Analysis(tmp_path / "two", MESH), paths, workers=2, frames_per_range=240,
                             on_frames=frames.append)
    assert outcomes == {**clean_run[1], **one}
    assert sorted(frames) == [1, 1, 10, 12, 240]  # photos, the short clip, the long one in two ranges
    both = faces_table(tmp_path / "two")
    pd.testing.assert_frame_equal(both[both.file != clip].reset_index(drop=True), clean_run[2],
                                  check_exact=False, atol=1e-5)
    pd.testing.assert_frame_equal(both[both.file == clip].reset_index(drop=True), faces_table(tmp_path / "one"),
                                  check_exact=False, atol=1e-5)

    def interrupt(frames):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze_local(Analysis(tmp_path / "stopped", MESH), paths, workers=2, frames_per_range=240, on_frames=interrupt)
    assert not list((tmp_path / "stopped" / "faces").glob(".*"))
    analyze_local(Analysis(tmp_path / "stopped", MESH), paths, workers=2, frames_per_range=240)
    pd.testing.assert_frame_equal(faces_table(tmp_path / "stopped"), both, check_exact=False, atol=1e-5)


def test_a_killed_worker_process_fails_only_what_was_running_and_the_rerun_does_it(tmp_path, inputs, clean_run):
    """Four ranges run at once on two workers; one is killed: the ranges then running fail, a new
    pool analyses the photos still queued, and the rerun does the failed ones."""
    import shutil

    psutil = pytest.importorskip("psutil")
    queued = [shutil.copy(inputs[1], tmp_path / f"more{i}.jpg") for i in range(3)]
    paths = [*inputs, *map(str, queued)]
    killed = []

    def kill_a_worker(frames):
        if not killed:
            worker = next(child for child in psutil.Process().children() if "spawn_main" in " ".join(child.cmdline()))
            worker.kill()
            killed.append(worker.pid)

    outcomes = analyze_local(Analysis(tmp_path / "out", MESH), paths, workers=2, on_frames=kill_a_worker)
    lost = [path for path, error in outcomes.items() if error and "a worker process stopped" in error]
    assert killed and lost
    # the new pool took the photos queued after the death (the first may have gone to the dying pool)
    assert outcomes[str(queued[-1])] is None and outcomes[str(queued[-2])] is None
    assert not list((tmp_path / "out" / "faces").glob(".*"))
    analyze_local(Analysis(tmp_path / "out", MESH), paths, workers=2)
    table = faces_table(tmp_path / "out")
    pd.testing.assert_frame_equal(table[table.file.isin(inputs)].reset_index(drop=True), clean_run[2],
                                  check_exact=False, atol=1e-5)
    assert (table.file.isin(list(map(str, queued)))).sum() == 3
