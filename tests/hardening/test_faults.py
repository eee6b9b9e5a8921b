"""Faults: a plugin that raises mid-request leaves the app serving the others; a process killed
while writing a checkpoint leaves the previous one loadable; an unwritable output folder is a
clear error before any work is done, for every command that writes."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from gradio_client import Client, handle_file

from fexlab.cli import COMMANDS, main
from fexlab.plugins.mini_xception import MiniXception
from fexlab.registry import Registry
from tests.conftest import ROOT
from tests.registry.test_registry import install_fake_distribution

FAULTY = '''
from dataclasses import dataclass
import torch
from fexlab.registry import Classifier

@dataclass
class Config:
    input_size: int = 16
    grayscale: bool = False

class Faulty(Classifier):
    description = "raises in the middle of every request"
    config_class = Config
    requires_weights = False

    def __init__(self, config=None, **kw):
        super().__init__(config, **kw)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 7))

    def torch_module(self):
        return self.net

    def predict(self, faces):
        raise RuntimeError("the model exploded mid-request")

class FailsToLoad(Faulty):
    def __init__(self, config=None, **kw):
        raise MemoryError("cannot allocate the model")
'''


@pytest.fixture(scope="module")
def faulty_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    install_fake_distribution(root, "fexlab-faulty", "[fexlab.classifiers]\nfaulty = faulty_plugin:Faulty\n"
                              "fails_to_load = faulty_plugin:FailsToLoad\n", {"faulty_plugin": FAULTY})
    sys.path.insert(0, str(root))
    try:
        from fexlab.app import build_demo

        registry = Registry()
        assert {"faulty", "fails_to_load", "mini_xception"} <= set(registry.ready_names("classifier"))
        demo = build_demo(registry)
        _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
        yield Client(url, verbose=False)
        demo.close()
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("faulty_plugin", None)


def _emotions(client, photo, classifiers):
    result = client.predict(handle_file(str(photo)), classifiers, "haar", api_name="/predict")[2]
    return [face["emotion"] for face in result["faces"]]


def test_a_plugin_failing_mid_request_leaves_the_others_serving(faulty_app, astronaut_path):
    assert _emotions(faulty_app, astronaut_path, ["mini_xception"]) == ["happy"]
    for broken in (["faulty"], ["mini_xception", "faulty"], ["fails_to_load"]):
        with pytest.raises(Exception, match="exploded mid-request|cannot allocate the model") as info:
            _emotions(faulty_app, astronaut_path, broken)
        assert "Traceback" not in str(info.value)
        assert _emotions(faulty_app, astronaut_path, ["mini_xception"]) == ["happy"]
    rows = {row[1]: row[2] for row in faulty_app.predict(api_name="/plugins")["data"]}
    assert rows["mini_xception"] == "ready" and rows["faulty"] == "ready"


# -- a kill while a checkpoint is written -----------------------------------------------------------
WRITER = textwrap.dedent('''
    import os, sys, time
    import torch
    from fexlab.plugins.mini_xception import MiniXception
    from fexlab.registry import checkpoint
    from fexlab.trainers.run import RunDirectory

    run_dir, where = sys.argv[1], sys.argv[2]
    plugin = MiniXception.from_config(widths=(8, 16))
    with torch.no_grad():
        for p in plugin.module.parameters():
            p.normal_()  # weights unlike the previous checkpoint's
    if where == "weights":
        original = MiniXception.save_weights
        def save_weights(self, directory):
            original(self, directory)
            data = (directory / "model.safetensors").read_bytes()
            (directory / "model.safetensors").write_bytes(data[: len(data) // 2])  # half written...
            print("writing", flush=True)
            time.sleep(120)  # ...when the kill comes
        MiniXception.save_weights = save_weights
    else:
        replace = os.replace
        def slow_replace(src, dst):
            replace(src, dst)
            if os.path.basename(str(dst)).startswith(".old-"):  # previous moved aside, new not yet in
                print("writing", flush=True)
                time.sleep(120)
        checkpoint.os.replace = slow_replace
    RunDirectory(run_dir).save_checkpoint(plugin, "best")  # as the trainers write best/ and last/
''')


@pytest.mark.slow
@pytest.mark.parametrize("where", ["weights", "between renames"])
def test_a_kill_while_writing_keeps_the_previous_checkpoint_loadable(tmp_path, where):
    """A training run's checkpoint write is killed (SIGKILL: no cleanup runs) while the new weights
    are half written, or between moving the previous folder aside and the new one in."""
    target = tmp_path / "run" / "best"
    previous = MiniXception.from_config(widths=(8, 16))
    previous.save_pretrained(target, metrics={"val_macro_f1": 0.5})
    faces = list(np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8))
    expected = previous.predict(faces)

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target.parent), where], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    for source in (target, tmp_path / "run"):  # the checkpoint, and the run folder that holds it
        loaded = MiniXception.from_pretrained(source)
        np.testing.assert_allclose(loaded.predict(faces), expected, atol=1e-6)
        assert loaded.metadata["metrics"] == {"val_macro_f1": 0.5}
    previous.save_pretrained(target)  # and the next save after the kill works
    assert MiniXception.from_pretrained(target) is not None


# -- an unwritable output folder --------------------------------------------------------------------
def _boom(*args, **kwargs):
    raise AssertionError("work started before the output folder was checked")


def _writing_commands(photo):
    """(argv with OUT for the output, module, what does the work) for every command that writes."""
    from fexlab.cli import TRAINERS

    commands = [
        (["predict", str(photo), "--annotate", "OUT"], "fexlab.pipeline.predict", "Predictor"),
        (["analyze", str(photo), "--out", "OUT"], "fexlab.pipeline.analysis", "Analysis"),
        (["generate", "--plugin", "facs_renderer", "--out", "OUT"], "fexlab.registry.registry", "Registry.load"),
        (["evaluate", "--classifier", "mini_xception", "--data", "synthetic:n=70", "--out", "OUT"], "fexlab.eval.harness",
         "evaluate"),
        (["prepare", "synthetic:n=14", "OUT"], "fexlab.preprocessing.prepare", "prepare"),
        (["synth", "OUT", "--n", "14"], "fexlab.preprocessing.prepare", "prepare"),
        (["augment-preview", str(photo), "OUT/preview.png"], "fexlab.preprocessing.augment", "save_preview"),
        (["avatar", str(photo), "--out", "OUT"], "fexlab.registry.registry", "Registry.load"),
    ]
    for trainer in TRAINERS:
        commands.append((["train", trainer, "--data", "synthetic:n=70", "--out", "OUT/run"], "fexlab.preprocessing.readers",
                         "open_dataset"))
    return commands


WRITING = _writing_commands(ROOT / "examples" / "astronaut.jpg")


def test_every_writing_command_is_covered():
    names = set(COMMANDS)
    read_only = {"plugins", "serve"}
    assert names - read_only == {argv[0] for argv, _, _ in WRITING}


@pytest.mark.parametrize("argv, module_name, attribute", WRITING, ids=[" ".join(c[0][:2]) for c in WRITING])
def test_unwritable_output_folder_fails_before_any_work(argv, module_name, attribute, tmp_path, capsys, monkeypatch):
    import importlib

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    module = importlib.import_module(module_name)
    owner, _, name = attribute.rpartition(".")
    monkeypatch.setattr(getattr(module, owner) if owner else module, name, _boom)
    code = main([arg.replace("OUT", str(blocker / "out")) for arg in argv])
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot write to the output folder" in err or "cannot create the run folder" in err, err
    assert not (blocker.parent / "out").exists()
