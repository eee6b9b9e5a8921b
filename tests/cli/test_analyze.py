"""``fexlab analyze``: folders into one table, the exit status, resuming, and Ray's install hint."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from PIL import Image

from fexlab.cli import main


@pytest.fixture
def study(tmp_path, astronaut_path, two_faces):
    """A folder with a photo, a subfolder with a photo of two faces, and a file that is no image."""
    folder = tmp_path / "study"
    (folder / "day2").mkdir(parents=True)
    Image.open(astronaut_path).save(folder / "one.jpg")
    Image.fromarray(two_faces).save(folder / "day2" / "two.png")
    (folder / "day2" / "notes.jpg").write_text("not a photo")
    return folder


def test_a_folder_and_its_subfolders_into_one_table_and_a_rerun_skips_what_is_done(study, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "2 of 3 inputs analysed" in captured.out
    assert "notes.jpg" in captured.err and "exit status 1" in captured.err
    faces = pd.read_parquet(out / "faces")
    assert sorted(faces.groupby("file").size().tolist()) == [1, 2]
    files = pd.read_parquet(out / "files.parquet").set_index("file")
    assert files.loc[str(study / "day2" / "notes.jpg"), "status"] == "error"
    assert main(["analyze", str(study), "--out", str(out)]) == 1
    assert "2 of 3 inputs already analysed with these settings: skipped" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "faces")) == 3  # no row twice
    (study / "day2" / "notes.jpg").unlink()
    assert main(["analyze", str(study), "--out", str(out)]) == 0


def test_ctrl_c_keeps_the_finished_inputs_and_says_how_to_go_on(study, tmp_path, capsys, monkeypatch):
    from fexlab.pipeline import analysis

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(analysis, "analyze_local", stop)
    assert main(["analyze", str(study), "--out", str(tmp_path / "out")]) == 130
    assert "run the same command again to go on" in capsys.readouterr().err


def test_the_ray_engine_without_ray_says_how_to_install_it_and_writes_nothing(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["analyze", str(study), "--out", str(tmp_path / "out"), "--engine", "ray"]) == 2
    assert "pip install 'fexlab[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_help_documents_the_table_resuming_and_the_engines(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = capsys.readouterr().out
    for said in ("OUT/faces/", "files.parquet", "box_x", "head_yaw", "pandas.read_parquet", "DuckDB", "--engine",
                 "--address", "--workers", "ray://host:10001", "run the same command again", "130 interrupted",
                 "--every", "--min-score", "--analyzer", "--classifier", "--detector"):
        assert said in text, said
