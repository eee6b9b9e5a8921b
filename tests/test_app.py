"""The app through its HTTP API (gradio_client), as the hosted Space is used: every endpoint with
good and bad input. The tabs' handlers are tested in detail in tests/app/."""

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from fexlab.app import build_demo
from fexlab.registry import EMOTIONS
from tests.app.conftest import point_folders
from tests.conftest import ROOT

ENDPOINTS = {"/predict", "/live", "/live_recording", "/clear_live_recording", "/playable_video", "/video",
             "/generate", "/identity_grid", "/interpolate",
             "/interpolation_frame", "/animate", "/edit_expression", "/leaderboard", "/evaluate", "/data_sets", "/runs",
             "/show_run", "/trainer_changed", "/train", "/stop_training", "/continue_training", "/follow_training",
             "/plugins", "/predict_mesh_classifiers", "/video_mesh_classifier", "/live_mesh_classifier"}
#: Endpoints whose outputs are choices or a preview, not results: nothing to clear after an error.
NO_RESULTS = {"data_sets", "trainer_changed", "stop_training", "predict_mesh_classifiers", "video_mesh_classifier",
              "live_mesh_classifier"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        yield point_folders(tmp_path_factory.mktemp("app") / "srv", patch)


@pytest.fixture(scope="module")
def client(registry, folders):
    demo = build_demo(registry)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    yield Client(url, verbose=False)
    demo.close()


def _error(client, *args, api_name, match):
    with pytest.raises(Exception, match=match) as info:
        client.predict(*args, api_name=api_name)
    assert "Traceback" not in str(info.value) and "/tmp/gradio" not in str(info.value)


def test_every_event_has_an_api_name_and_each_is_tested_here(client):
    api = client.view_api(return_format="dict")
    assert set(api["named_endpoints"]) == ENDPOINTS
    assert not api["unnamed_endpoints"]


def test_every_result_is_cleared_in_the_page_when_its_event_fails(registry):
    """After an error no earlier result stays on screen beside it: each event that shows results
    has a browser-side follow-up, run on failure only, that empties its visible outputs."""
    dependencies = build_demo(registry).config["dependencies"]
    clearers = {d["trigger_after"]: d for d in dependencies if d["trigger_only_on_failure"]}
    for event in dependencies:
        if event["api_visibility"] != "public" or event["api_name"] in NO_RESULTS | {"load_example"}:
            continue
        clearer = clearers.get(event["id"])
        assert clearer is not None and clearer["js"] and not clearer["backend_fn"], event["api_name"]
        assert set(clearer["outputs"]) <= set(event["outputs"]) and len(clearer["outputs"]) >= 1
    assert all(not d["backend_fn"] for d in clearers.values())  # no server call, no endpoint


def test_one_progress_indicator_per_run(registry):
    """A run with several output panels shows its progress on one of them, not on each."""
    for event in build_demo(registry).config["dependencies"]:
        if event["backend_fn"] and event["show_progress"] != "hidden" and len(event["outputs"]) > 1:
            assert len(event["show_progress_on"] or []) == 1, event["api_name"]


def _edit_section(monkeypatch, pretrained, mesh_warp=None):
    from fexlab.plugins.mesh_warp import MeshWarp
    from fexlab.plugins.stargan import StarGAN
    from fexlab.registry import Registry

    monkeypatch.setattr(StarGAN, "pretrained", pretrained)
    monkeypatch.setattr(MeshWarp, "pretrained", mesh_warp or {})
    components = {c["id"]: c for c in build_demo(Registry()).config["components"]}
    by_id = {c["props"].get("elem_id"): c for c in components.values() if c["props"].get("elem_id")}
    return by_id


def test_the_edit_section_is_disabled_until_a_generator_can_edit(monkeypatch):
    section = _edit_section(monkeypatch, {})
    assert section["generate-edit-button"]["props"]["interactive"] is False
    note = section["generate-edit-note"]["props"]["value"]
    assert "**stargan** needs weights" in note and "**sd_lora** needs weights" in note


def test_the_edit_section_offers_stargan_and_the_grid_does_not(monkeypatch, tmp_path):
    from tests.stargan_tiny import tiny_stargan

    tiny_stargan().save_pretrained(tmp_path / "tiny", training_data="random weights (test)")
    section = _edit_section(monkeypatch, {"fer2013": str(tmp_path / "tiny")})
    assert section["generate-edit-button"]["props"]["interactive"] is True
    assert "generate-edit-note" not in section
    assert section["generate-editors"]["props"]["value"] == ["stargan"]
    grid_choices = [c[0] if isinstance(c, (list, tuple)) else c
                    for c in section["generate-generators"]["props"]["choices"]]
    assert "stargan" not in grid_choices and "cgan" in grid_choices


def test_the_edit_section_offers_mesh_warp_first_with_its_action_units(monkeypatch):
    from fexlab.plugins.mesh_warp import MeshWarp

    section = _edit_section(monkeypatch, {}, dict(MeshWarp.pretrained))
    assert section["generate-edit-button"]["props"]["interactive"] is True
    assert section["generate-editors"]["props"]["value"] == ["mesh_warp"]
    assert section["generate-edit-units"]["props"]["visible"] is True
    assert section["generate-edit-au12"]["props"]["label"] == "AU12 lip corner puller"
    assert section["generate-edit-units-set"]["props"]["value"] == []


def test_the_app_starts_without_diffusers_or_transformers():
    code = ("import sys, time; t = time.perf_counter(); from fexlab.app import build_demo; build_demo(); "
            "print(round(time.perf_counter() - t, 1), sorted(m for m in ('diffusers', 'transformers', 'timm', "
            "'accelerate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seconds, loaded = done.stdout.strip().split(" ", 1)
    assert loaded == "[]", done.stdout  # the build time is measured in benchmarks/, never asserted


# -- Predict, Live, Video -------------------------------------------------------------------------------
def test_real_photo_gets_a_box_and_happy(client, astronaut_path, hopper_path):
    gallery, _, result, message, files, *_ = client.predict(handle_file(str(astronaut_path)), ["mini_xception"], "haar",
                                                        api_name="/predict")
    assert [f["emotion"] for f in result["faces"]] == ["happy"]
    assert "1 face found" in message and "happy" in message
    assert len(gallery) == 1 and gallery[0]["caption"] == "mini_xception"
    annotated = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"))
    assert annotated.shape == (512, 512, 3)
    assert [Path(f).name for f in files] == ["emotions.csv", "emotions.json"]
    _, _, result, *_ = client.predict(handle_file(str(hopper_path)), ["mini_xception"], "haar", api_name="/predict")
    assert len(result["faces"]) == 1


def test_predict_with_a_run_folder_beside_the_installed_classifier(client, registry, folders, astronaut_path):
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "copy" / "best")
    gallery, _, result, *_ = client.predict(handle_file(str(astronaut_path)), ["mini_xception"], "haar", "runs/copy",
                                              api_name="/predict")
    assert [g["caption"] for g in gallery] == ["mini_xception", "mini_xception: runs/copy"]
    assert set(result["faces"][0]["classifiers"]) == {"mini_xception", "mini_xception: runs/copy"}
    _error(client, handle_file(str(astronaut_path)), ["mini_xception"], "haar", "/etc", api_name="/predict",
           match="outside the folders")


@pytest.mark.parametrize(
    "name, content, message",
    [("notes.jpg", b"just text", "notes.jpg is not an image"), ("empty.jpg", b"", "empty.jpg is empty")],
)
def test_bad_uploads_get_a_one_line_message(client, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    _error(client, handle_file(str(path)), ["mini_xception"], "haar", api_name="/predict", match=message)


def test_photo_without_a_face_says_so(client, tmp_path):
    Image.new("RGB", (300, 200), (90, 120, 200)).save(tmp_path / "sky.png")
    _, _, result, message, _, *_ = client.predict(handle_file(str(tmp_path / "sky.png")), ["mini_xception"], "haar",
                                              api_name="/predict")
    assert result["faces"] == [] and "No face found" in message


def test_missing_upload_and_unknown_classifier(client, astronaut_path):
    _error(client, None, ["mini_xception"], "haar", api_name="/predict", match="upload a photo")
    _error(client, handle_file(str(astronaut_path)), ["nope"], "haar", api_name="/predict",
           match="no classifier named 'nope'|not in the list of choices")


def _stream_once(client, api_name, frame, *args, session=None):
    """One frame through a streaming event the way the browser sends it (gradio_client does not
    speak streaming events): upload, join the queue, read the first answer from the event stream.
    ``session``: the session to send it in (the client's own, to share its state), else a new one."""
    import json
    import uuid

    import httpx

    dependency = next(d for d in client.config["dependencies"] if d.get("api_name") == api_name.strip("/"))
    with open(frame, "rb") as handle:
        [path] = httpx.post(client.src + "gradio_api/upload", files={"files": (frame.name, handle)}).json()
    session = session or uuid.uuid4().hex
    data = [{"path": path, "orig_name": frame.name, "meta": {"_type": "gradio.FileData"}}, *args, None]  # None: state
    httpx.post(client.src + "gradio_api/queue/join", json={"data": data, "fn_index": dependency["id"],
                                                          "session_hash": session}).raise_for_status()
    with httpx.stream("GET", client.src + f"gradio_api/queue/data?session_hash={session}", timeout=60) as events:
        for line in events.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") in ("process_streaming", "process_completed"):
                return message


def test_live_frame_through_the_event_stream(client, astronaut_path):
    answer = _stream_once(client, "/live", astronaut_path, "mini_xception", "", "haar", False, False)
    shown, _, status, avatar = answer["output"]["data"]
    assert avatar is None  # the face mesh is off
    assert np.asarray(Image.open(shown["path"])).shape[:2] == (512, 512) and status.startswith("1 face(s)")
    answer = _stream_once(client, "/live", astronaut_path, None, "", "haar", False, False)
    assert not answer["success"] and answer["output"]["error"] == "choose a classifier, or type your model's folder"


def test_live_face_mesh_recording_downloads_and_clears(client, astronaut_path):
    _error(client, api_name="/live_recording", match="nothing is recorded yet")
    for _ in range(2):
        answer = _stream_once(client, "/live", astronaut_path, "mini_xception", "", "blazeface", False, True,
                              session=client.session_hash)
    _, _, status, avatar = answer["output"]["data"]
    assert "frames recorded" in status and np.asarray(Image.open(avatar["path"])).shape == (256, 456, 3)
    files = client.predict(api_name="/live_recording")
    assert [Path(f).name for f in files] == ["webcam.live_link.csv", "webcam.blendshapes.json"]
    assert Path(files[0]).read_text().startswith("Timecode,BlendShapeCount,EyeBlinkLeft")
    assert client.predict(api_name="/clear_live_recording").startswith("Cleared ")
    _error(client, api_name="/live_recording", match="nothing is recorded yet")


def test_predict_with_the_face_mesh(client, astronaut_path):
    _, _, result, message, _, units, model, avatars, meshes = client.predict(
        handle_file(str(astronaut_path)), ["mini_xception"], "blazeface", "", False, 0.5, [], True,
        api_name="/predict")
    assert result["faces"][0]["action_units"]["AU12"] > 0.5 and "estimates derived from" in message
    assert units["type"] == "matplotlib" and [a["caption"] for a in avatars] == ["face 1"]
    assert str(model).endswith("face1.glb") and [Path(f).name for f in meshes] == ["face1.obj", "face1.glb"]
    _, _, result, _, _, units, model, avatars, meshes = client.predict(
        handle_file(str(astronaut_path)), ["mini_xception"], "blazeface", api_name="/predict")
    assert "mesh" not in result["faces"][0] and units is None and model is None and not avatars and not meshes


def test_ticking_the_face_mesh_switches_each_tabs_default_classifier(client):
    from fexlab.registry import DEFAULT_CLASSIFIER
    from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER

    compared = [DEFAULT_CLASSIFIER, "mini_xception.ferplus"]
    ticked = client.predict(True, compared, api_name="/predict_mesh_classifiers")
    assert ticked == [DEFAULT_MESH_CLASSIFIER, "mini_xception.ferplus"]
    assert client.predict(False, ticked, api_name="/predict_mesh_classifiers") == compared
    for tab in ("video", "live"):
        assert client.predict(True, DEFAULT_CLASSIFIER, api_name=f"/{tab}_mesh_classifier") == DEFAULT_MESH_CLASSIFIER
        assert client.predict(True, "mini_xception", api_name=f"/{tab}_mesh_classifier") == "mini_xception"


def test_video_endpoint(client, astronaut_path, tmp_path):
    from fexlab.preprocessing.images import load_image
    from tests.videos import face_video

    clip = face_video(tmp_path / "clip.mp4", load_image(astronaut_path), count=6)
    annotated, timeline, table_file, table, message, *_ = client.predict(handle_file(str(clip)), ["mini_xception"], "",
                                                                     "haar", 2, api_name="/video")
    assert "Analysed 3 frames" in message and timeline["type"] == "matplotlib"
    assert {row[8] for row in table["data"]} == {"happy"} and all(0.5 <= row[7] <= 1 for row in table["data"])
    assert str(annotated["video"] if isinstance(annotated, dict) else annotated).endswith(".webm")
    (tmp_path / "notes.mp4").write_bytes(b"not a video" * 20)
    _error(client, handle_file(str(tmp_path / "notes.mp4")), ["mini_xception"], "", "haar", 1, api_name="/video",
           match="notes.mp4 is not a video")
    preview = client.predict(handle_file(str(clip)), api_name="/playable_video")  # MPEG-4 part 2: made playable
    *_, table, message, units, avatar, exports = client.predict(handle_file(str(clip)), "mini_xception", "",
                                                                "blazeface", 2, 0.5, True, api_name="/video")
    headers = table["headers"]  # the face mesh's columns: action units, head pose, then blendshapes
    assert headers.index("AU43") < headers.index("head_yaw") < headers.index("jawOpen")
    assert len(table["data"][0]) == len(headers)
    assert units["type"] == "matplotlib" and "estimates derived from" in message
    assert str(avatar["video"] if isinstance(avatar, dict) else avatar).endswith("clip.avatar.webm")
    assert [Path(f).name for f in exports] == ["clip.live_link.csv", "clip.blendshapes.json"]
    assert str(preview["video"] if isinstance(preview, dict) else preview).endswith("clip.webm")


# -- Generate ---------------------------------------------------------------------------------------------
def test_generate_grid_and_zip(client):
    gallery, archive, message = client.predict(["facs_renderer"], "", ["happy", "sad"], 2, 7, api_name="/generate")
    assert [g["caption"] for g in gallery] == ["facs_renderer · seeds 7–8"]
    with zipfile.ZipFile(archive) as files:
        assert len([n for n in files.namelist() if "_seed" in n]) == 4
    assert "first seed **7**" in message
    gallery, archive, _ = client.predict(["facs_renderer"], "", 3, api_name="/identity_grid")
    with zipfile.ZipFile(archive) as files:
        assert sorted(n.split("_")[2] for n in files.namelist() if "_seed" in n) == sorted(
            ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    _error(client, ["facs_renderer"], "", [], 2, 7, api_name="/generate", match="tick at least one emotion")
    _error(client, ["facs_renderer"], "", ["happy"], 2, 7, 1.0, 1.0, 0.0, 0, api_name="/generate",
           match="less than minimum value 1")  # the slider's own bound
    _error(client, [], "/etc", ["happy"], 1, 0, api_name="/generate", match="outside the folders")


def test_interpolation_and_its_slider(client):
    strip, position, frame = client.predict(["facs_renderer"], "", "sad", "happy", 2, "", 4, api_name="/interpolate")
    assert (position["maximum"], position["value"]) == (4, 2) and frame[0]["caption"].endswith("frame 2 of 4 (0.33)")
    [first] = client.predict(1, api_name="/interpolation_frame")
    assert first["caption"] == "facs_renderer · sad → happy, frame 1 of 4 (0.00)"
    _error(client, ["facs_renderer"], "", "sad", "happy", 2, "x", 4, api_name="/interpolate", match="whole number")


def test_animation_downloads(client):
    shown, files, message = client.predict(["facs_renderer"], "", "all", "neutral", "happy", 1, "", 2, 6,
                                           api_name="/animate")
    assert [Path(f).name for f in files] == ["facs_renderer_all_seed1.gif", "facs_renderer_all_seed1.webm"]
    assert shown[0]["caption"] == "facs_renderer · " + " → ".join(EMOTIONS) + ", seed 1"
    assert Path(shown[0]["image"]).read_bytes()[:6] == b"GIF89a"  # shown as the animated GIF itself
    with Image.open(files[0]) as gif:
        assert gif.n_frames == 7
    assert message.startswith("1 animation(s) of 7 frames")
    _error(client, ["facs_renderer"], "", "interpolate", "sad", "sad", 1, "", 4, 6, api_name="/animate",
           match="starts and ends on the same face")


def test_interpolation_frame_needs_an_interpolation_first(registry):
    fresh = build_demo(registry)  # a new session has no frames in its state
    _, url, _ = fresh.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        _error(Client(url, verbose=False), 2, api_name="/interpolation_frame", match="press Interpolate first")
    finally:
        fresh.close()


def test_expression_editing_explains_what_it_needs(client, astronaut_path):
    _error(client, ["facs_renderer"], "", handle_file(str(astronaut_path)), ["happy"], 0, 0.6,
           api_name="/edit_expression", match="none of facs_renderer can edit a face; choose stargan")
    _error(client, ["facs_renderer"], "", None, ["happy"], 0, 0.6, api_name="/edit_expression",
           match="upload a face photo")


# -- Evaluate ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_evaluate_then_the_leaderboard_keeps_the_result(client):
    chooser, classifiers, generators, confusion, message, csv, note, editors = client.predict(
        ["mini_xception"], "", [], "mini_xception", "synthetic:n=70,size=64", "test", 10, 0, api_name="/evaluate")
    assert [row[0] for row in classifiers["data"]] == ["mini_xception"] and not generators["data"] and not editors["data"]
    assert confusion["type"] == "matplotlib" and "SYNTHETIC" in message
    assert "synthetic:n=70,size=64" in open(csv).read() and note == ""
    again = client.predict(None, api_name="/leaderboard")
    assert again[1]["data"] == classifiers["data"] and again[4] == message
    unknown = client.predict("no such data set", api_name="/leaderboard")  # falls back to the latest
    assert unknown[0]["value"] == chooser["value"]
    _error(client, [], "", [], "mini_xception", "synthetic:n=70", "test", 10, 0, api_name="/evaluate",
           match="choose at least one classifier or generator")
    _error(client, ["mini_xception"], "", [], "mini_xception", "../secrets.csv", "test", 10, 0, api_name="/evaluate",
           match="outside the folders")


def test_the_data_set_list_is_read_when_asked(client, folders):
    (folders["data"] / "late-faces").mkdir()
    chooser = client.predict(api_name="/data_sets")
    assert ["data/late-faces", str(folders["data"] / "late-faces")] in chooser["choices"]


# -- Train --------------------------------------------------------------------------------------------------
def test_runs_list_and_show(client, folders, without_fexlab_tags):
    from tests.app.test_train import _fake_run

    _fake_run(folders["runs"] / "cgan-shown")
    chooser, curves, samples, summary = client.predict("", api_name="/runs")
    assert chooser["value"] == str(folders["runs"] / "cgan-shown") and "cgan" in summary
    assert samples["visible"] and len(samples["value"]) == 2
    curves, samples, summary = client.predict("runs/cgan-shown", api_name="/show_run")
    assert curves["type"] == "matplotlib" and "`runs/cgan-shown`" in summary
    _error(client, "/etc", api_name="/show_run", match="outside the folders")
    _, start_from = client.predict("classifier", "convnext", api_name="/trainer_changed")
    assert start_from["choices"] == [["scratch", "scratch"]] and start_from["value"] == "scratch"
    _error(client, "gan", "mini_xception", api_name="/trainer_changed", match="not in the list of choices")
    _error(client, "runs/cgan-shown", 3, api_name="/continue_training", match="has no saved epoch to continue from")
    _error(client, "/etc", 3, api_name="/continue_training", match="outside the folders")
    client.predict(api_name="/follow_training")  # no run of this page or browser is training: nothing to follow


@pytest.mark.slow
def test_train_starts_reports_progress_and_stops(client, without_fexlab_tags):
    _error(client, "classifier", "mini_xception", "scratch", 10, 1, 0, api_name="/train",
           match="less than minimum value 70")
    _error(client, "classifier", "convnext", "its pretrained weights", 140, 1, 0, api_name="/train",
           match="not in the list of choices|convnext has no pretrained weights")
    assert client.predict(api_name="/stop_training") == "No run of yours is training."
    job = client.submit("cgan", None, "scratch", 140, 20, 0, api_name="/train")
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.outputs() and job.outputs()[0][0].startswith("**Training runs/app-cgan-")
    assert client.predict(api_name="/stop_training").startswith("Stopped runs/app-cgan-")
    outcome, *_ = job.result(timeout=60)  # the run ends by itself, and says so
    assert "stopped" in outcome
    assert client.predict(api_name="/stop_training") == "No run of yours is training."


# -- Plugins ------------------------------------------------------------------------------------------------
def test_plugins_table(client):
    table = client.predict(api_name="/plugins")
    rows = {row[1]: row for row in table["data"]}
    assert rows["mini_xception"][2] == "ready" and rows["haar"][0] == "detector"
    assert rows["facs_renderer"][3].startswith("SYNTHETIC")
    assert all(row[4] for row in rows.values() if row[2] != "ready")  # what to do, for every unavailable one


def test_every_api_example_in_the_readme_runs_against_the_app(client, monkeypatch):
    """Each ```python block of the README and the docs pages that uses gradio_client, run as written
    against this app."""
    import contextlib
    import io
    import re

    from tests.conftest import ROOT
    from tests.docs_text import docs_text

    blocks = [b for b in re.findall(r"```python\n(.*?)```", docs_text(), re.S) if "gradio_client" in b]
    assert blocks
    monkeypatch.chdir(ROOT)  # the examples name examples/... as from a clone's root
    for block in blocks:
        assert 'Client("http://127.0.0.1:7860/")' in block
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(block.replace("http://127.0.0.1:7860/", client.src), {})
        assert "happy" in printed.getvalue()


def test_every_api_parameter_has_a_readable_name(client):
    """The action-unit sliders are au1, au12, ... in the API, not param_18 to param_32."""
    import re

    endpoints = client.view_api(return_format="dict")["named_endpoints"]
    names = {endpoint: [p["parameter_name"] for p in info["parameters"]] for endpoint, info in endpoints.items()}
    assert not [(endpoint, n) for endpoint, ps in names.items() for n in ps if n.startswith("param_")]
    units = [n for n in names["/edit_expression"] if re.fullmatch(r"au\d+", n)]
    assert "au12" in units and units == sorted(units, key=lambda n: int(n[2:]))
