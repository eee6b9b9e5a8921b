"""Security: checkpoints never unpickle untrusted data, hub loading never runs remote code, and a
path typed into the app stays inside the allowed folders."""

import ast
import json
import os
import pickle
from pathlib import Path

import pytest

from fexlab.plugins.mini_xception import MiniXception
from fexlab.registry import CheckpointError, FexlabError, InputError
from fexlab.registry.paths import allowed_roots, resolve_user_path
from tests.conftest import ROOT

SOURCE_FOLDERS = ("registry", "plugins", "preprocessing", "trainers", "eval", "tabs", "benchmarks")


class Payload:
    """Unpickling this creates the file ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pickle executed"))


def malicious_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"conv1.weight": Payload(marker)}))
    return path


def test_a_checkpoint_holding_only_a_pickle_is_refused_unexecuted(tmp_path):
    folder = MiniXception.from_config().save_pretrained(tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "marker"
    for name in ("pytorch_model.bin", "model.pt", "model.ckpt"):
        malicious_pickle(folder / name, marker)
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        MiniXception.from_pretrained(folder)
    assert not marker.exists()


def test_a_pickle_named_model_safetensors_is_a_clear_error(tmp_path):
    folder = MiniXception.from_config().save_pretrained(tmp_path / "ckpt")
    marker = tmp_path / "marker"
    malicious_pickle(folder / "model.safetensors", marker)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        MiniXception.from_pretrained(folder)
    assert not marker.exists()


def test_a_hub_style_folder_with_a_pickled_model_is_never_executed(tmp_path):
    """A Hugging Face folder whose weights are a malicious ``pytorch_model.bin``: only
    safetensors are loaded, so the payload never runs."""
    from fexlab.plugins.vit import ViT

    folder = tmp_path / "hub-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "vit", "architectures": ["ViTForImageClassification"], "image_size": 32, "patch_size": 8,
        "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
        "id2label": {str(i): e for i, e in enumerate(("angry", "disgust", "fear", "happy", "sad", "surprise",
                                                           "neutral"))},
    }))
    marker = tmp_path / "marker"
    malicious_pickle(folder / "pytorch_model.bin", marker)
    with pytest.raises(CheckpointError, match="never loads pickled weights"):
        ViT.from_pretrained(folder)
    assert not marker.exists()


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _python_files():
    for folder in SOURCE_FOLDERS:
        yield from (ROOT / folder).rglob("*.py")
    yield from ROOT.glob("*.py")


def test_no_torch_load_without_weights_only_and_no_remote_code():
    """Scan every module of the code base: ``torch.load`` only with ``weights_only=True``, and
    ``trust_remote_code`` never true (hub models are loaded as data, not as code)."""
    offences = []
    for path in _python_files():
        if ".peer-venv" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for call in _calls(tree):
            func = ast.unparse(call.func)
            keywords = {k.arg: k.value for k in call.keywords if k.arg}
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if func.endswith("torch.load"):
                value = keywords.get("weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    offences.append(f"{where}: {ast.unparse(call)}")
            value = keywords.get("trust_remote_code")
            if value is not None and not (isinstance(value, ast.Constant) and value.value is False):
                offences.append(f"{where}: {ast.unparse(call)}")
        if "trust_remote_code=True" in path.read_text(encoding="utf-8"):
            offences.append(f"{path.relative_to(ROOT)}: mentions trust_remote_code=True")
    assert not offences, "unsafe loading:\n" + "\n".join(offences)


def test_the_scan_catches_what_it_looks_for():
    bad = ast.parse("import torch\ntorch.load('x')\nAutoModel.from_pretrained('a/b', trust_remote_code=True)\n"
                    "torch.load('y', weights_only=False)\ntorch.load('z', weights_only=True)\n")
    flagged = [call for call in _calls(bad) if ast.unparse(call.func).endswith("torch.load")
               and not any(k.arg == "weights_only" and getattr(k.value, "value", None) is True for k in call.keywords)]
    assert len(flagged) == 2
    assert any(k.arg == "trust_remote_code" for call in _calls(bad) for k in call.keywords)


# -- paths typed into the app --------------------------------------------------------------------------
@pytest.fixture
def roots(tmp_path, monkeypatch):
    data, results, runs = (tmp_path / "srv" / name for name in ("data", "results", "runs"))
    for folder in (data, results, runs):
        folder.mkdir(parents=True)
    (data / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    (data / "raf").mkdir()
    (tmp_path / "srv" / "secret.txt").write_text("not for users")
    (tmp_path / "srv" / "data-evil").mkdir()
    (tmp_path / "srv" / "data-evil" / "x.csv").write_text("")
    monkeypatch.chdir(tmp_path / "srv")
    for name, folder in (("FEXLAB_DATA_DIR", data), ("FEXLAB_RESULTS_DIR", results), ("FEXLAB_RUNS_DIR", runs)):
        monkeypatch.setenv(name, str(folder))
    return data, results, runs


def test_paths_inside_the_roots_resolve(roots):
    data, results, runs = roots
    assert allowed_roots() == [data, results, runs]
    assert resolve_user_path("fer2013.csv") == data / "fer2013.csv"
    assert resolve_user_path("data/fer2013.csv", must_exist=True) == data / "fer2013.csv"
    assert resolve_user_path(str(data / "raf")) == data / "raf"
    assert resolve_user_path("results/run1") == results / "run1"  # a folder to create
    assert resolve_user_path("raf/../fer2013.csv") == data / "fer2013.csv"
    assert resolve_user_path(str(runs)) == runs


@pytest.mark.parametrize("typed", [
    "../secret.txt", "../../etc/passwd", "data/../secret.txt", "/etc/passwd", "/", "/root/.ssh/id_rsa",
    "data/../../srv/secret.txt", "results/../../secret.txt", "../data-evil/x.csv", "data-evil/x.csv",
])
def test_escapes_are_refused(roots, typed):
    with pytest.raises(InputError, match="outside the folders this app may read and write"):
        resolve_user_path(typed)


def test_a_tilde_is_a_name_not_the_home_folder(roots):
    data, _, _ = roots
    assert resolve_user_path("~/.ssh/id_rsa") == data / "~" / ".ssh" / "id_rsa"


def test_absolute_path_of_a_sibling_with_the_same_prefix_is_refused(roots):
    data, _, _ = roots
    with pytest.raises(InputError, match="outside"):
        resolve_user_path(str(data.parent / "data-evil" / "x.csv"))


def test_a_symlink_out_of_a_root_is_refused_and_one_within_is_followed(roots, tmp_path):
    data, results, _ = roots
    (data / "escape").symlink_to(tmp_path / "srv")
    (data / "secret-link.txt").symlink_to(tmp_path / "srv" / "secret.txt")
    (results / "to-data").symlink_to(data)
    for typed in ("escape/secret.txt", "secret-link.txt", str(data / "escape")):
        with pytest.raises(InputError, match="outside"):
            resolve_user_path(typed)
    assert resolve_user_path("results/to-data/fer2013.csv") == data / "fer2013.csv"


@pytest.mark.parametrize("typed, message", [("", "type a path"), ("   ", "type a path"), ("a\x00b", "NUL"),
                                            ("missing.csv", "no such file")])
def test_empty_nul_and_missing(roots, typed, message):
    with pytest.raises(InputError, match=message):
        resolve_user_path(typed, must_exist=True)


def test_explicit_roots_and_errors_are_fexlab_errors(tmp_path):
    (tmp_path / "only").mkdir()
    assert resolve_user_path("a.txt", [tmp_path / "only"]) == (tmp_path / "only" / "a.txt").resolve()
    with pytest.raises(FexlabError):
        resolve_user_path(os.path.join("..", "a.txt"), [tmp_path / "only"])
