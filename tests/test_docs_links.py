"""Every relative link of the README and the docs pages points to a file that exists, and every docs
page starts with its title and a link back to the README."""

from __future__ import annotations

import re

import pytest

from tests.docs_text import doc_texts

_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|\bsrc=\"([^\"]+)\"")


def _relative_links(text: str) -> list[str]:
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold commands, not links
    targets = [a or b for a, b in _LINK.findall(prose)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize(("path", "text"), doc_texts(), ids=lambda value: getattr(value, "name", ""))
def test_every_relative_link_points_to_a_file_that_exists(path, text):
    links = _relative_links(text)
    missing = [link for link in links if not (path.parent / link.split("#", 1)[0]).exists()]
    assert not missing, f"{path.name} links to files that do not exist: {missing}"


def test_the_readme_links_every_docs_page():
    pages = doc_texts()
    readme = pages[0][1]
    assert len(pages) > 1
    for path, _ in pages[1:]:
        assert f"](docs/{path.name})" in readme or f"](docs/{path.name}#" in readme, path.name


@pytest.mark.parametrize(("path", "text"), doc_texts()[1:], ids=lambda value: getattr(value, "name", ""))
def test_every_docs_page_starts_with_its_title_and_a_link_back_to_the_readme(path, text):
    first, rest = text.split("\n", 1)
    assert first.startswith("# ") and len(first) > 2
    assert rest.lstrip("\n").startswith("[Back to the README](../README.md)")
