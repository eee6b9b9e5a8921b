"""docs/analysis.md: its Python and SQL run on a table ``fexlab analyze`` made of the example
photos and video, and say what the page says they give."""

from __future__ import annotations

import re

import pytest

from fexlab.cli import main
from tests.docs_text import ROOT

PAGE = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, flags=re.S)


@pytest.fixture(scope="module")
def results(tmp_path_factory, monkeypatch_module):
    """``fexlab analyze examples/ --out results/ --analyzer face_mesh`` run from the repository's root."""
    out = tmp_path_factory.mktemp("study") / "results"
    monkeypatch_module.chdir(ROOT)
    assert main(["analyze", "examples", "--out", str(out), "--analyzer", "face_mesh", "--workers", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_pages_python_runs_on_the_table(results, tmp_path, monkeypatch):
    for code in blocks("python"):
        code = code.replace('"results/', f'"{results}/').replace('"timeline.png"', f'"{tmp_path / "timeline.png"}"')
        namespace: dict = {}
        exec(compile(code, "docs/analysis.md", "exec"), namespace)
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    assert namespace["tracks"].keys() == {"track 1", "track 2"}


def test_the_pages_sql_gives_the_table_it_shows(results):
    duckdb = pytest.importorskip("duckdb")
    first, second = (query.strip() for query in blocks("sql")[0].split(";") if query.strip())
    rows = duckdb.sql(first.replace("'results/", f"'{results}/")).fetchall()
    shown = re.findall(r"^\| (examples/\S+) \| (\d) \| (\w+) \| (\d+) \| ([\d.]+) \|$", PAGE, flags=re.M)
    assert [(f, int(t), e, int(n), float(s)) for f, t, e, n, s in shown] == [
        (f, t, e, n, pytest.approx(s, abs=0.006)) for f, t, e, n, s in rows]
    tracks = duckdb.sql(second.replace("'results/", f"'{results}/")).fetchall()
    assert [(t, seconds, happy, neutral) for _, t, seconds, happy, neutral in tracks] == [(1, 4.0, 4.0, 0.0),
                                                                                         (2, 4.0, 0.0, 4.0)]
