"""``fexlab analyze --engine ray``: on a local Ray with 2 CPUs, the rows of the local engine, and
every input's rows exactly once after a worker is killed."""

from __future__ import annotations

import signal

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fexlab.pipeline.analysis import FILES_TABLE, Analysis, analyze_local
from fexlab.registry import InputError
from tests.pipeline.test_analysis import MESH, faces_table
from tests.videos import sway_video

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, two_faces, astronaut_path):
    """A photo of two faces, a 250-frame clip (two ranges of 240 frames) and a corrupt video."""
    folder = tmp_path_factory.mktemp("inputs")
    Image.fromarray(two_faces).save(folder / "two.png")
    photo = np.asarray(Image.open(astronaut_path).convert("RGB").resize((160, 160)))
    sway_video(folder / "sway.mp4", photo)
    (folder / "broken.mp4").write_bytes(b"no video here" * 10)
    return [str(folder / name) for name in ("two.png", "sway.mp4", "broken.mp4")]


@pytest.fixture(scope="module")
def local(tmp_path_factory, inputs, registry):
    out = tmp_path_factory.mktemp("local")
    outcomes = analyze_local(Analysis(out, MESH), inputs, registry=registry)
    return outcomes, faces_table(out), pd.read_parquet(out / FILES_TABLE)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module (analyze_ray joins it and leaves it running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def workers() -> list:
    """The processes of the analysis actors (Ray names them after the actor's class)."""
    return [p for p in psutil.process_iter(["cmdline"])
            if any("ray::RangeWorker" in part for part in p.info["cmdline"] or [])]


def test_the_ray_engine_gives_the_rows_of_the_local_engine(tmp_path, inputs, local, local_ray):
    from fexlab.pipeline.analysis_ray import analyze_ray

    frames = []
    outcomes = analyze_ray(Analysis(tmp_path, MESH), inputs, workers=2, frames_per_range=240, on_frames=frames.append)
    assert outcomes == local[0] and "broken.mp4" in outcomes[inputs[2]]
    assert sorted(frames) == [1, 10, 240]  # the photo, and the clip in two ranges
    pd.testing.assert_frame_equal(faces_table(tmp_path), local[1], check_exact=False, atol=1e-5)
    files = pd.read_parquet(tmp_path / FILES_TABLE)
    pd.testing.assert_frame_equal(files.drop(columns="tracks"), local[2].drop(columns="tracks"))
    assert files.tracks.map(list).tolist() == local[2].tracks.map(list).tolist()


def test_a_killed_worker_leaves_every_row_exactly_once(tmp_path, inputs, local, local_ray, monkeypatch):
    """Killed with its ranges in flight, the workers are restarted and their ranges run again;
    with no tries left, the inputs they held are error rows and the rerun does them."""
    from fexlab.pipeline import analysis_ray

    killed = []

    def kill_the_workers(frames):
        if not killed:
            for process in workers():
                process.send_signal(signal.SIGKILL)
                killed.append(process.pid)

    outcomes = analysis_ray.analyze_ray(Analysis(tmp_path / "retried", MESH), inputs, workers=2,
                                        frames_per_range=240, on_frames=kill_the_workers)
    assert killed and outcomes == local[0]
    pd.testing.assert_frame_equal(faces_table(tmp_path / "retried"), local[1], check_exact=False, atol=1e-5)

    killed.clear()
    monkeypatch.setattr(analysis_ray, "RETRIES", 0)
    analysis = Analysis(tmp_path / "rerun", MESH)
    outcomes = analysis_ray.analyze_ray(analysis, inputs, workers=2, frames_per_range=240, on_frames=kill_the_workers)
    lost = [path for path, error in outcomes.items() if error and "worker analysing it stopped" in error]
    assert killed and inputs[1] in lost  # the clip's ranges were running when the workers were killed
    assert not list((tmp_path / "rerun" / "faces").glob(".*"))
    assert set(lost) <= set(analysis.pending(inputs))
    monkeypatch.undo()
    outcomes = analysis_ray.analyze_ray(Analysis(tmp_path / "rerun", MESH), inputs, workers=2, frames_per_range=240)
    assert outcomes == local[0]
    pd.testing.assert_frame_equal(faces_table(tmp_path / "rerun"), local[1], check_exact=False, atol=1e-5)


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch, tmp_path):
    import sys

    from fexlab.pipeline.analysis_ray import analyze_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"pip install 'fexlab\[ray\]'"):
        analyze_ray(Analysis(tmp_path, MESH), ["x.jpg"])
