"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

One walk through the tabs as a visitor would take it: a photo in Predict (and a file that is no
photo, then the face mesh), a webcam stream in Live with the face mesh (Chromium's fake camera
playing a photo), an upload browsers cannot
play and the example video, a grid and an interpolation in Generate, an evaluation on the Evaluate
leaderboard, a short training run and one that outlives a page reload and is stopped from the
reloaded page, the Plugins table; then a data set added
while the app runs. It checks what only the page shows: no earlier result beside an error, one
progress indicator per run, headers that wrap between words, disabled controls. With
``FEXLAB_SCREENSHOTS=1`` (``make screenshots``) each tab is saved as a screenshot in
docs/images/screenshots/ (the README shows them); otherwise the tracked screenshots are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from fexlab.registry import DEFAULT_CLASSIFIER
from tests.app.conftest import point_folders
from tests.conftest import EXAMPLES, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SCREENSHOTS = ROOT / "docs" / "images" / "screenshots"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def app_url(registry, tmp_path_factory):
    from fexlab import app
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

    from fexlab.preprocessing.images import load_image

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
    """Save the page as ``name``.png, only when ``FEXLAB_SCREENSHOTS=1`` asks for it."""
    if os.environ.get("FEXLAB_SCREENSHOTS") != "1":
        return
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


#: Words of each header of a table that the page breaks across lines ("accurac / y").
BROKEN_HEADER_WORDS = """selector => [...document.querySelectorAll(selector + " th .header")].flatMap(span => {
  const text = span.textContent, node = [...span.childNodes].find(n => n.nodeType === Node.TEXT_NODE);
  let at = 0;
  return text.split(" ").filter(word => {
    const start = text.indexOf(word, at), range = document.createRange();
    at = start + word.length;
    range.setStart(node, start);
    range.setEnd(node, start + word.length);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
  });
})"""
#: Whether the table in ``selector`` fits its block: no column cut off at the right.
TABLE_FITS = """selector => { const block = document.querySelector(selector), table = block.querySelector("table");
  return table.getBoundingClientRect().right <= block.getBoundingClientRect().right + 1; }"""
#: What ``selector`` shows (its images and the leaves holding text) that lies outside its box: cut
#: off at the bottom or the right; [] when everything is shown.
CONTENT_SHOWN = """selector => { const block = document.querySelector(selector), cut = [];
  const outside = (r, box) => r.bottom > box.bottom + 1 || r.right > box.right + 1;
  const clipped = (node, r) => { for (let a = node.parentElement; a && a !== block.parentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      if ((a === block || style.overflowX !== "visible" || style.overflowY !== "visible")
          && outside(r, a.getBoundingClientRect())) return true; }
    return false; };
  const texts = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    if (!node.textContent.trim() || node.parentElement.offsetParent === null) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (clipped(node, range.getBoundingClientRect())) cut.push(node.textContent.trim()); }
  for (const image of block.querySelectorAll("img"))
    if (image.offsetParent !== null && clipped(image, image.getBoundingClientRect())) cut.push("an image");
  return cut; }"""
#: Progress indicators on screen (Gradio's status trackers that are not hidden).
PROGRESS_SHOWN = """() => [...document.querySelectorAll('[data-testid="status-tracker"]')]
  .filter(e => !e.classList.contains("hide") && e.offsetParent !== null).length"""


def _error_toast(page, text: str) -> None:
    """Wait for the error message ``text``, then dismiss it (it would cover the next screenshot)."""
    toast = page.locator(".toast-body", has_text=text).last
    toast.wait_for()
    toast.locator(".toast-close").click()
    toast.wait_for(state="detached")


def test_a_visit_through_every_tab(page, tmp_path):
    # Predict: a photo of two people gets a box and an emotion each from every real-face model compared
    # by default, drawn whole, with keypoints
    page.locator("#predict-photo input[type=file]").set_input_files(str(EXAMPLES / "two_people.jpg"))
    page.locator("#predict-keypoints input").check()
    page.get_by_role("button", name="Predict emotions").click()
    message = page.locator("#predict-message")
    message.get_by_text("2 faces found").wait_for()
    assert page.evaluate(CONTENT_SHOWN, "#predict-photos") == []  # "Or several photos at once" shown whole
    # a table, one row per face, each classifier's emotion with its probability
    header = message.locator("table th").all_inner_texts()
    assert header == ["face", "efficientnet", "mini_xception.ferplus", "convnext"], header
    rows = [row.locator("td").all_inner_texts() for row in message.locator("table tbody tr").all()]
    assert [row[:2] for row in rows] == [["1", rows[0][1]], ["2", rows[1][1]]] and rows[0][1].startswith("happy ")
    assert rows[1][1].startswith("neutral ") and all(cell.endswith("%") for row in rows for cell in row[1:])
    page.locator("#predict-gallery img").first.wait_for()
    _images_are_whole(page, "#predict-gallery")
    _screenshot(page, "predict")
    # a file that is no image: its error, and no earlier result left beside it
    (tmp_path / "notes.jpg").write_text("just text")
    page.locator("#predict-photo input[type=file]").set_input_files(str(tmp_path / "notes.jpg"))
    page.get_by_role("button", name="Predict emotions").click()
    _error_toast(page, "notes.jpg is not an image")
    page.locator("#predict-gallery img").first.wait_for(state="detached")
    assert "faces found" not in message.inner_text()
    # the face mesh: drawn on each face, each face's action units and blendshapes as bars (said to
    # be estimates), the first face's mesh in 3D, each face's avatar, the meshes to download
    page.locator("#predict-photo input[type=file]").set_input_files(str(EXAMPLES / "two_people.jpg"))
    page.locator("#predict-mesh input").check()
    page.get_by_role("button", name="Predict emotions").click()
    message.get_by_text("estimates derived from the face mesh's blendshapes").wait_for()
    page.locator("#predict-units img").wait_for()
    page.locator("#predict-model canvas").wait_for()
    page.locator("#predict-avatars img").nth(1).wait_for()
    assert page.locator("#predict-meshes").get_by_text("face2").count() == 2  # face2.obj, face2.glb
    # the 3D view draws only what is on screen: the whole page on screen for its screenshot
    page.set_viewport_size({"width": 1360, "height": page.evaluate("document.body.scrollHeight")})
    page.locator("#predict-model canvas").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    _screenshot(page, "face_mesh")
    page.set_viewport_size({"width": 1360, "height": 900})

    # Live: the (fake) webcam streams frames; each comes back with its box and emotion
    _open(page, "Live")
    page.locator("#live-mesh input").check()
    page.locator("#live-camera").get_by_text("Click to Access Webcam").click()
    page.locator("#live-camera button", has_text="Record").first.click()
    page.locator("#live-status").get_by_text("1 face(s)").wait_for()
    page.locator("#live-output img").wait_for()  # the frame with its box and emotion drawn on it
    page.locator("#live-avatar img").wait_for()  # the avatar mirrors the webcam, beside its action units
    page.locator("#live-status").get_by_text("frames recorded").wait_for()
    # the preview is not mirrored, as the frames analysed and drawn are not: one convention
    assert page.eval_on_selector("#live-camera video", "v => getComputedStyle(v).transform") in (
        "none", "matrix(1, 0, 0, 1, 0, 0)")
    _screenshot(page, "live")
    page.locator("#live-camera button", has_text="Stop").first.click()
    page.get_by_role("button", name="Download the recording").click()
    page.locator("#live-recording").get_by_text("webcam.live_link").wait_for()  # .csv, beside the .json

    # Video: an MPEG-4 part 2 upload gets a preview that plays; the example video is analysed
    # with one progress indicator, not one per output panel
    _open(page, "Video")
    from fexlab.preprocessing.images import load_image
    from tests.videos import face_video

    clip = face_video(tmp_path / "holiday.mp4", load_image(EXAMPLES / "astronaut.jpg"), count=10)
    page.locator("#video-input input[type=file]").set_input_files(str(clip))
    page.wait_for_function("""() => { const v = document.querySelector("#video-preview video");
        return v && v.currentSrc.endsWith("holiday.webm") && v.readyState >= 1 && !v.error; }""")
    assert not [text for text in page.locator(".toast-body").all_inner_texts() if "not playable" in text]
    page.locator("#video-input button[aria-label='Clear']").first.click()
    page.locator("#video-input input[type=file]").set_input_files(str(EXAMPLES / "two_people_pan.webm"))
    page.wait_for_function("""() => { const v = document.querySelector("#video-preview video");
        return v && v.currentSrc.endsWith("two_people_pan.webm") && v.readyState >= 1; }""")
    page.wait_for_function(f"() => ({PROGRESS_SHOWN})() == 0")  # the preview is done
    page.locator("#video-mesh input").check()
    page.get_by_role("button", name="Analyse video").click()
    page.wait_for_function(f"() => ({PROGRESS_SHOWN})() > 0")
    shown = page.evaluate(PROGRESS_SHOWN)
    page.locator("#video-message").get_by_text("face detections in 2 tracks").wait_for()
    assert shown == 1
    page.locator("#video-units img").wait_for()  # action units over time, per track
    page.wait_for_function("""() => { const v = document.querySelector("#video-avatar video");
        return v && v.currentSrc.endsWith("two_people_pan.avatar.webm") && v.readyState >= 1; }""")
    assert page.locator("#video-exports").get_by_text("two_people_pan.live_link").count() == 1
    _screenshot(page, "video")
    # a text file named .mp4: its error, and the emptied table keeps its headers
    (tmp_path / "notes.mp4").write_text("just text " * 50)
    page.locator("#video-input button[aria-label='Clear']").first.click()
    page.locator("#video-input input[type=file]").set_input_files(str(tmp_path / "notes.mp4"))
    _error_toast(page, "notes.mp4 is not a video")
    page.get_by_role("button", name="Analyse video").click()
    _error_toast(page, "notes.mp4 is not a video")
    page.wait_for_timeout(500)
    headers = [text.strip() for text in page.locator("#video-table th").all_inner_texts()]
    assert headers[:4] == ["frame", "time", "track", "x"], headers

    # Generate: a grid; with no emotion ticked, its error replaces the grid's summary; an
    # interpolation shows the frame its slider says
    _open(page, "Generate")
    page.get_by_role("button", name="Generate grid").click()
    page.locator("#generate-message").get_by_text("first seed").wait_for()
    page.locator("#generate-gallery img").first.wait_for()
    _images_are_whole(page, "#generate-gallery")
    page.get_by_text("Interpolate between two emotions").click()
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.get_by_text("facs_renderer · neutral → happy, frame 4 of 8 (0.43)").wait_for()
    assert page.locator("#generate-frame-slider input[type=number]").input_value() == "4"
    # editing a face works offline: the photo in the seven emotions, pasted back, with downloads
    page.get_by_text("Edit a face: the same person in every emotion").click()
    page.locator("#generate-edit-photo input[type=file]").set_input_files(str(EXAMPLES / "astronaut.jpg"))
    page.locator("#generate-edit-button").click()
    page.locator("#generate-edit-message").get_by_text("found 1 face(s)").wait_for()
    page.locator("#generate-pasted img").first.wait_for()
    assert page.locator("#generate-edited img").count() == 1 + 7  # the face as it is, then in the seven emotions
    _images_are_whole(page, "#generate-edited")
    assert page.evaluate(CONTENT_SHOWN, "#generate-edited") == []  # no column cut off at the right
    assert page.locator("#generate-edit-files").get_by_text(".gif").count() >= 1
    assert "mesh_warp" in page.locator("#generate-edit-message").inner_text()
    # one action unit on its own (strength 0): the mouth opens, the summary says so
    page.get_by_text("Action units one by one (mesh_warp)").click()
    page.locator("#generate-edit-units-set").get_by_label("AU26", exact=True).check()
    page.locator("#generate-edit-strength input[type=number]").fill("0")
    page.locator("#generate-edit-strength input[type=number]").press("Enter")
    page.locator("#generate-edit-button").click()
    page.locator("#generate-edit-message").get_by_text("Edited with strength 0:").wait_for()
    _screenshot(page, "generate")
    for emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
        page.locator("#generate-emotions").get_by_label(emotion, exact=True).uncheck()
    page.get_by_role("button", name="Generate grid").click()
    _error_toast(page, "tick at least one emotion")
    page.locator("#generate-gallery img").first.wait_for(state="detached")
    assert "first seed" not in page.locator("#generate-message").inner_text()

    # Evaluate: the empty leaderboard says what to do; an evaluation fills it, its headers
    # whole words, the judge and the tiny split explained beside it
    _open(page, "Evaluate")
    page.locator("#evaluate-message").get_by_text("No results yet").wait_for()
    page.locator("#evaluate-generators input").click()
    page.get_by_role("option", name="facs_renderer").click()
    data = page.locator("#evaluate-data input")
    data.fill("synthetic:n=490,size=64")
    data.press("Enter")
    page.get_by_role("button", name="Run evaluation").click()
    page.locator("#evaluate-message").get_by_text("2 result(s)").wait_for()
    assert DEFAULT_CLASSIFIER in page.locator("#leaderboard-classifiers").inner_text()
    assert "Take care" in page.locator("#evaluate-message").inner_text()
    assert "reads the judge as much as the generator" in page.locator("#evaluate-judge-note").inner_text()
    for table in ("#leaderboard-classifiers", "#leaderboard-generators"):
        assert page.evaluate(BROKEN_HEADER_WORDS, table) == [], table
        assert page.evaluate(TABLE_FITS, table), f"{table} is wider than the page shows"
    _screenshot(page, "evaluate")

    # Train: "its pretrained weights" where there are some (every built-in classifier has shipped
    # weights; the tab's unit tests cover one without); a short run watched until it finishes; a
    # stopped run stays in view after Stop and Refresh
    _open(page, "Train")
    start_from = page.locator("#train-start-from")
    start_from.get_by_text("its pretrained weights").wait_for()
    page.locator("#train-plugin input").click()
    page.get_by_role("option", name="convnext").click()
    start_from.get_by_text("its pretrained weights").wait_for()
    page.locator("#train-plugin input").click()
    page.get_by_role("option", name="mini_xception").click()
    start_from.get_by_text("its pretrained weights").wait_for()
    for slider, value in (("#train-faces", "280"), ("#train-epochs", "3")):
        box = page.locator(f"{slider} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-status").get_by_text("Finished runs/app-mini_xception-").wait_for()
    page.locator("#train-summary").get_by_text("best checkpoint").wait_for()
    _screenshot(page, "train")
    page.locator("#train-trainer").get_by_label("cgan", exact=True).check()
    box = page.locator("#train-epochs input[type=number]")
    box.fill("20")
    box.press("Enter")
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-status").get_by_text(re.compile(r"epoch [\d.]+ of 20")).first.wait_for()  # it has begun
    # a reload does not end the run: the Train tab finds it again, and its Stop still works
    page.reload()
    page.get_by_text("fexlab: facial expression lab").wait_for()
    _open(page, "Train")
    page.locator("#train-status").get_by_text(re.compile(r"Training runs/app-cgan-.*epoch")).first.wait_for()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.locator("#train-status").get_by_text(re.compile("Run runs/app-cgan-.* was stopped")).wait_for()
    page.locator("#train-summary").get_by_text("runs/app-cgan-").first.wait_for()
    page.get_by_role("button", name="Refresh", exact=True).click()
    page.wait_for_timeout(1500)
    assert "runs/app-cgan-" in page.locator("#train-summary").inner_text()

    _open(page, "Plugins")
    page.get_by_text("Add a model from your own package").wait_for()
    assert "convnext:runs/convnext" not in page.locator("#plugins-table").inner_text()
    _screenshot(page, "plugins")


def test_a_data_set_added_later_is_offered_after_a_reload_or_a_refresh(page, tmp_path):
    from fexlab.registry.paths import allowed_roots

    data = allowed_roots()[0]
    (data / "added-before-reload").mkdir()
    page.reload()
    page.get_by_text("fexlab: facial expression lab").wait_for()
    _open(page, "Evaluate")
    page.locator("#evaluate-data input").click()
    page.get_by_role("option", name="data/added-before-reload").wait_for()
    page.keyboard.press("Escape")
    (data / "added-while-open").mkdir()
    page.locator("#evaluate-refresh-data").click()
    page.locator("#evaluate-data input").click()
    page.get_by_role("option", name="data/added-while-open").wait_for()
    page.keyboard.press("Escape")
