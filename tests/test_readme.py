"""The README's ``fexlab predict`` examples on the shipped example files run as written and print
what the README shows."""

from __future__ import annotations

import re
import shlex

import pytest

from fexlab.cli import main
from tests.conftest import ROOT


def _examples() -> list[tuple[str, list[str]]]:
    """(command, shown output lines up to any "...") of each example on ``examples/`` files."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Predict from the command line", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    examples = []
    for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
        command, *shown = chunk.strip("\n").split("\n")
        if "examples/" not in command:
            continue
        shown = [line for line in shown if line.strip()]
        if "  ..." in shown:
            shown = shown[: shown.index("  ...")]
        examples.append((command, shown))
    return examples


def test_the_readme_has_predict_examples():
    assert len(_examples()) >= 3


@pytest.mark.parametrize(("command", "shown"), _examples(), ids=lambda value: str(value)[:60])
def test_readme_predict_example_prints_what_the_readme_shows(command, shown, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0].endswith("fexlab")
    code = main(argv[1:])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[: len(shown)] == shown
