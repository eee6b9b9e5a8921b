"""The tracked screenshots are retaken only on request, so running the tests leaves a clone clean."""

from __future__ import annotations

from tests import test_browser


class _Page:
    def __init__(self):
        self.saved = []

    def wait_for_timeout(self, ms):
        pass

    def screenshot(self, path, full_page):
        self.saved.append(path)


def test_screenshots_are_not_written_unless_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(test_browser, "SCREENSHOTS", tmp_path)
    monkeypatch.delenv("FEXLAB_SCREENSHOTS", raising=False)
    page = _Page()
    test_browser._screenshot(page, "predict")
    assert page.saved == [] and not list(tmp_path.iterdir())


def test_screenshots_are_written_when_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(test_browser, "SCREENSHOTS", tmp_path)
    monkeypatch.setenv("FEXLAB_SCREENSHOTS", "1")
    page = _Page()
    test_browser._screenshot(page, "predict")
    assert page.saved == [str(tmp_path / "predict.png")]
