"""``fexlab prepare`` end to end on real photos, a faceless image and corrupt files; ``fexlab synth``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fexlab import cli
from fexlab.preprocessing.prepare import prepare
from fexlab.preprocessing.readers import open_dataset
from fexlab.registry import EMOTIONS, InputError


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def raw(tmp_path, hopper_path, astronaut_path) -> Path:
    """happy/: two real photos; sad/: Grace Hopper again, a faceless image and three broken files."""
    root = tmp_path / "raw"
    (root / "happy").mkdir(parents=True)
    (root / "sad").mkdir()
    shutil.copy(hopper_path, root / "happy" / "hopper.jpg")
    shutil.copy(astronaut_path, root / "happy" / "astronaut.jpg")
    shutil.copy(hopper_path, root / "sad" / "hopper copy.jpg")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(root / "sad" / "wall.png")
    (root / "sad" / "truncated.jpg").write_bytes(Path(hopper_path).read_bytes()[:600])
    (root / "sad" / "text.jpg").write_text("this is not an image")
    (root / "sad" / "empty.png").write_bytes(b"")
    return root


@pytest.mark.parametrize("detector_name", ["blazeface", "haar"])
def test_prepare_detects_aligns_reports_and_skips_bad_files(raw, tmp_path, registry, detector_name):
    before = _snapshot(raw)
    out = tmp_path / "out"
    report = prepare(str(raw), out, detector=registry.detector(detector_name), align=True, size=48, gray=True,
                     split="1,0,0", progress=False)
    assert _snapshot(raw) == before  # the source is never modified
    assert report["images"] == 7 and report["faces"] == 3
    assert report["no_face"] == ["sad/wall.png"]
    assert sorted(f["path"] for f in report["failed"]) == ["sad/empty.png", "sad/text.jpg", "sad/truncated.jpg"]
    assert all(f["error"] for f in report["failed"])
    assert report["classes"] == {**dict.fromkeys(EMOTIONS, 0), "happy": 2, "sad": 1}
    on_disk = json.loads((out / "report.json").read_text())
    assert {"images", "faces", "no_face", "failed", "classes"} <= set(on_disk)
    crops = sorted(out.rglob("*.png"))
    crops = [p for p in crops if p.name != "class_balance.png"]
    assert len(crops) == 3 and all(p.parent.parent.name == "train" for p in crops)
    assert all(Image.open(p).size == (48, 48) and Image.open(p).mode == "L" for p in crops)
    assert (out / "class_balance.png").is_file()
    # the prepared folder is itself a data set the readers open
    data = open_dataset(out)
    assert data.class_counts()["happy"] == 2 and data[0].image.shape == (48, 48, 3)


def test_rerun_does_not_duplicate_and_drops_stale_crops(raw, tmp_path):
    out = tmp_path / "out"
    first = prepare(str(raw), out, size=32, split="0.5,0.5,0", seed=0, progress=False)
    files = lambda: sorted(str(p.relative_to(out)) for p in out.rglob("*.png") if p.name != "class_balance.png")  # noqa: E731
    listing = files()
    assert len(listing) == first["faces"] == 4  # no detection: every readable image is one crop
    prepare(str(raw), out, size=32, split="0.5,0.5,0", seed=0, progress=False)
    assert files() == listing
    assert any(name.startswith("val/") for name in listing)
    prepare(str(raw), out, size=32, split="1,0,0", seed=0, progress=False)  # everything moves to train
    assert len(files()) == 4 and all(name.startswith("train/") for name in files())


def test_output_inside_the_source_is_refused(raw):
    with pytest.raises(InputError, match="inside the source"):
        prepare(str(raw), raw / "crops", progress=False)


def test_cli_prepare_and_synth(raw, tmp_path, capsys):
    assert cli.main(["prepare", str(raw), str(tmp_path / "p"), "--detect", "--size", "40"]) == 1  # it skipped some
    printed = capsys.readouterr()
    assert "3 faces from 7 images" in printed.out and "skipped sad/" in printed.err
    assert printed.err.strip().splitlines()[-1].startswith("fexlab: skipped 3 of 7 images")
    assert cli.main(["prepare", str(tmp_path / "missing"), str(tmp_path / "q")]) == 2
    assert "not found" in capsys.readouterr().err

    assert cli.main(["synth", str(tmp_path / "s"), "--n", "70", "--size", "48", "--gray", "--seed", "2"]) == 0
    printed = capsys.readouterr()
    assert "70 SYNTHETIC faces" in printed.out and (tmp_path / "s" / "grid.png").is_file()
    assert "synth:" in printed.err and "prepare:" not in printed.err  # its progress bar is its own
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["synthetic"] and "SYNTHETIC" in report["source"] and report["faces"] == 70
    assert set(report["classes"].values()) == {10}
    faces = sorted((tmp_path / "s").glob("*/*/*.png"))  # SPLIT/EMOTION/face.png
    assert len(faces) == 70 and Image.open(faces[0]).mode == "L" and Image.open(faces[0]).size == (48, 48)
    # identity-disjoint splits survive the round trip through folders
    ids = {split: {p.name.split("_")[2] for p in (tmp_path / "s" / split).rglob("*.png")} for split in ("train", "test")}
    assert ids["train"] and ids["test"] and ids["train"].isdisjoint(ids["test"])
