"""The README and the pages under ``docs/``: the tests that check what the documentation says read
them all, so a section moved from the README to a page is still checked."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def doc_paths() -> list[Path]:
    """``README.md``, then every ``docs/*.md`` page in name order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_texts() -> list[tuple[Path, str]]:
    """(path, text) of the README and of every docs page."""
    return [(path, path.read_text(encoding="utf-8")) for path in doc_paths()]


def docs_text() -> str:
    """The README's text and every docs page's, one after the other."""
    return "\n\n".join(text for _, text in doc_texts())
