"""Fixtures of the app's tab tests: the data / results / runs folders in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest


def point_folders(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Make ``root`` the working directory with ``data``, ``results`` and ``runs`` inside it, named by
    the FEXLAB_*_DIR variables, as a deployed app has them."""
    folders = {name: root / name for name in ("data", "results", "runs")}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(root)
    for variable, name in (("FEXLAB_DATA_DIR", "data"), ("FEXLAB_RESULTS_DIR", "results"), ("FEXLAB_RUNS_DIR", "runs")):
        monkeypatch.setenv(variable, str(folders[name]))
    return folders


@pytest.fixture
def folders(tmp_path, monkeypatch) -> dict[str, Path]:
    """``{"data": ..., "results": ..., "runs": ...}``, configured for the app and empty."""
    return point_folders(tmp_path / "srv", monkeypatch)
