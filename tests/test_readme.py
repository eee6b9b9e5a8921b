"""The ``fexlab predict`` examples of the README and the docs pages on the shipped example files run
as written and print what the documentation shows."""

from __future__ import annotations

import re
import shlex

import pytest

from fexlab.cli import main
from tests.conftest import ROOT
from tests.docs_text import doc_texts


def _examples(texts=None) -> list[tuple[str, list[str]]]:
    """(command, shown output lines up to any "...") of each ``fexlab predict`` example on
    ``examples/`` files in a ```console block; a command shown twice is kept with its longest output."""
    found: dict[str, list[str]] = {}
    for _, text in texts if texts is not None else doc_texts():
        for block in re.findall(r"```console\n(.*?)```", text, re.S):
            for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
                command, *shown = chunk.strip("\n").split("\n")
                if "fexlab predict" not in command or "examples/" not in command:
                    continue
                shown = [line for line in shown if line.strip()]
                if "  ..." in shown:
                    shown = shown[: shown.index("  ...")]
                command = " ".join(shlex.split(command, comments=True))
                if len(shown) >= len(found.get(command, [])):
                    found[command] = shown
    return sorted(found.items())


def test_the_readme_has_predict_examples():
    readme = [(ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8"))]
    assert len([shown for _, shown in _examples(readme) if shown]) >= 3


@pytest.mark.parametrize(("command", "shown"), _examples(), ids=lambda value: str(value)[:60])
def test_readme_predict_example_prints_what_the_readme_shows(command, shown, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0].endswith("fexlab")
    code = main(argv[1:])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[: len(shown)] == shown
