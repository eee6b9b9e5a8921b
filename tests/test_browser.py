"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

One walk through the tabs as a visitor would take it: a photo in Predict, a webcam stream in Live
(Chromium's fake camera playing a photo), the example video, a grid and an interpolation in
Generate, an evaluation on the Evaluate leaderboard, a short training run, the Plugins table. Each
tab is saved as a screenshot in docs/images/screenshots/ (the README shows them), so running this
test refreshes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.tabs.conftest import point_folders

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SCREENSHOTS = ROOT / "docs" / "images" / "screenshots"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def app_url(registry, tmp_path_factory):
    import app

    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make setup installs it)")
    with pytest.MonkeyPatch.context() as patch:
        point_folders(tmp_path_factory.mktemp("browser") / "srv", patch)
        demo = app.launch(port=None, registry=registry, prevent_thread_lock=True, quiet=True)
        try:
            yield demo.local_url
        finally:
            demo.close()


def _camera_file(path: Path) -> Path:
    """A Y4M video of the astronaut photo for Chromium's fake webcam."""
    import cv2

    from preprocessing.images import load_image

    face = cv2.resize(load_image(EXAMPLES / "astronaut.jpg"), (320, 320), interpolation=cv2.INTER_AREA)
    frame = cv2.cvtColor(face, cv2.COLOR_RGB2YUV_I420).tobytes()
    with path.open("wb") as handle:
        handle.write(b"YUV4MPEG2 W320 H320 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            handle.write(b"FRAME\n" + frame)
    return path


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    camera = _camera_file(tmp_path_factory.mktemp("camera") / "face.y4m")
    webcam = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + webcam)
        page = browser.new_page(viewport={"width": 1360, "height": 900}, permissions=["camera"])
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        page.get_by_text("fexlab: facial expression lab").wait_for()
        yield page
        browser.close()


def _open(page, tab: str) -> None:
    page.get_by_role("tab", name=tab, exact=True).click()


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)  # let images and plots finish drawing
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _images_are_whole(page, selector: str) -> None:
    """Every image in ``selector`` is drawn at its own aspect ratio: nothing cropped away."""
    boxes = page.eval_on_selector_all(
        f"{selector} img",
        "images => images.map(i => [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight])")
    assert boxes and all(w and h for w, h, _, _ in boxes), boxes
    for natural_w, natural_h, shown_w, shown_h in boxes:
        assert abs(shown_w / shown_h - natural_w / natural_h) < 0.03, boxes


def test_a_visit_through_every_tab(page):
    # Predict: a photo of two people gets a box and an emotion each, drawn whole
    page.locator("#predict-photo input[type=file]").set_input_files(str(EXAMPLES / "two_people.jpg"))
    page.get_by_role("button", name="Predict emotions").click()
    message = page.locator("#predict-message")
    message.get_by_text("2 faces found").wait_for()
    assert "face 1: happy" in message.inner_text() and "face 2: neutral" in message.inner_text()
    page.locator("#predict-gallery img").first.wait_for()
    _images_are_whole(page, "#predict-gallery")
    _screenshot(page, "predict")

    # Live: the (fake) webcam streams frames; each comes back with its box and emotion
    _open(page, "Live")
    page.locator("#live-camera").get_by_text("Click to Access Webcam").click()
    page.locator("#live-camera button", has_text="Record").first.click()
    page.locator("#live-status").get_by_text("1 face(s)").wait_for()
    page.locator("#live-output img").wait_for()  # the frame with its box and emotion drawn on it
    _screenshot(page, "live")
    page.locator("#live-camera button", has_text="Stop").first.click()

    _open(page, "Video")
    page.locator("#video-input input[type=file]").set_input_files(str(EXAMPLES / "two_people_pan.webm"))
    page.get_by_role("button", name="Analyse video").click()
    page.get_by_text("face detections in 2 track(s)").wait_for()
    _screenshot(page, "video")

    # Generate: a grid, then an interpolation browsed with its slider
    _open(page, "Generate")
    page.get_by_role("button", name="Generate grid").click()
    page.locator("#generate-message").get_by_text("first seed").wait_for()
    page.locator("#generate-gallery img").first.wait_for()
    _images_are_whole(page, "#generate-gallery")
    page.get_by_text("Interpolate between two emotions").click()
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.get_by_text("facs_renderer · neutral → happy at 0.57").wait_for()
    _screenshot(page, "generate")

    # Evaluate: the empty leaderboard says what to do; an evaluation fills it
    _open(page, "Evaluate")
    page.locator("#evaluate-message").get_by_text("No results yet").wait_for()
    page.locator("#evaluate-generators input").click()
    page.get_by_role("option", name="facs_renderer").click()
    data = page.locator("#evaluate-data input")
    data.fill("synthetic:n=490,size=64")
    data.press("Enter")
    page.get_by_role("button", name="Run evaluation").click()
    page.locator("#evaluate-message").get_by_text("2 result(s)").wait_for()
    assert "mini_xception" in page.locator("#leaderboard-classifiers").inner_text()
    _screenshot(page, "evaluate")

    # Train: a short run of one epoch, watched until it finishes
    _open(page, "Train")
    for slider, value in (("#train-faces", "280"), ("#train-epochs", "3")):
        box = page.locator(f"{slider} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-status").get_by_text("Finished runs/app-mini_xception-").wait_for()
    page.locator("#train-summary").get_by_text("best checkpoint").wait_for()
    _screenshot(page, "train")

    _open(page, "Plugins")
    page.get_by_text("Add a model from your own package").wait_for()
    _screenshot(page, "plugins")
