"""fexlab installs as one package, ``fexlab``, whose layers import downwards only, and a working
directory with folders of the same names as fexlab's parts does not shadow it."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fexlab"

#: fexlab's layers, bottom up: a module may import its own layer and those below, never above.
LAYERS = {"registry": 0, "preprocessing": 1, "eval": 1, "plugins": 2, "pipeline": 3, "trainers": 4, "app": 5, "cli": 5}


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, fexlab layer) of every import of a fexlab layer in ``tree``, relative ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from fexlab import app` names the layer in the imported names
            names = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "fexlab" else [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "fexlab" and len(parts) > 1 and parts[1] in LAYERS:
                found.append((node.lineno, parts[1]))
    return found


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """``path:line: layer -> higher layer`` for every import that goes up the layers."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if len(parts) == 1:  # fexlab/__init__.py: the public API above every layer
            continue
        layer = parts[0]
        assert layer in LAYERS, f"{path}: fexlab/{layer} is in no layer; add it to LAYERS"
        for line, target in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if LAYERS[target] > LAYERS[layer]:
                bad.append(f"{path.relative_to(package.parent)}:{line}: {layer} -> {target}")
    return bad


def test_imports_go_down_the_layers_only():
    assert layer_violations() == []


def test_the_layer_check_finds_an_import_that_goes_up(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "scores.py").write_text("from fexlab.pipeline.editing import edit_photo\n")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "model.py").write_text("from fexlab import app\nfrom fexlab.registry import Classifier\n")
    assert [line.split(": ", 1)[1] for line in layer_violations(tmp_path)] == ["eval -> pipeline", "plugins -> app"]


def test_the_old_top_level_names_are_gone_from_the_tree():
    """Everything fexlab installs lives in fexlab/; the root keeps the Space's app.py only."""
    old = ["registry", "plugins", "trainers", "eval", "preprocessing", "tabs", "cli.py", "predict.py", "editing.py",
           "animation.py", "avatar.py", "exports.py"]
    assert [name for name in old if (ROOT / name).exists()] == []
    assert "import fexlab" in (ROOT / "app.py").read_text() or "from fexlab" in (ROOT / "app.py").read_text()


@pytest.mark.slow
def test_the_wheel_holds_the_single_top_level_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True, cwd=tmp_path, timeout=600)
    [wheel] = tmp_path.glob("fexlab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"fexlab"}
    # the default weights and their cards ship inside it
    assert "fexlab/plugins/efficientnet/weights/ferplus/model.safetensors" in names
    assert "fexlab/plugins/face_mesh/weights/face_landmarker.task" in names
    assert "fexlab/plugins/mesh_warp/weights/fer2013/README.md" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry_points).decode()
    assert "fexlab = fexlab.cli:main" in text and "efficientnet = fexlab.plugins.efficientnet:EfficientNet" in text


SHADOWS = {
    "eval/__init__.py": "raise ImportError('the notebook folder eval/ was imported')\n",
    "plugins/__init__.py": "raise ImportError('the notebook folder plugins/ was imported')\n",
    "registry/__init__.py": "raise ImportError('the notebook folder registry/ was imported')\n",
    "app.py": "raise ImportError('the notebook app.py was imported')\n",
}

PREDICT = """
import json, sys
import fexlab
from fexlab import Predictor, default_registry
registry = default_registry()
predictor = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector("blazeface"))
faces = predictor.predict_image(sys.argv[1]).faces
print(json.dumps({"faces": len(faces), "emotion": faces[0].emotion, "file": fexlab.__file__}))
"""


def test_a_working_directory_with_folders_of_the_same_names_does_not_shadow_fexlab(tmp_path, astronaut_path):
    for name, text in SHADOWS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    done = subprocess.run([sys.executable, "-c", PREDICT, str(astronaut_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert result["faces"] == 1 and result["emotion"] in {"angry", "disgust", "fear", "happy", "sad", "surprise",
                                                         "neutral"}
    assert Path(result["file"]).parent.name == "fexlab"


def test_the_public_api_is_at_the_top_and_import_fexlab_stays_light():
    code = ("import sys, fexlab\n"
            "light = not any(m in sys.modules for m in ('torch', 'gradio', 'cv2', 'diffusers'))\n"
            "from fexlab import (Predictor, default_registry, Classifier, Generator, FaceDetector, FaceAnalyzer,\n"
            "                    InputSpec, EMOTIONS, InputError)\n"
            "from fexlab.registry import Classifier as Base\n"
            "from fexlab.pipeline.predict import Predictor as P\n"
            "print(light, Classifier is Base, Predictor is P, len(EMOTIONS), sorted(set(fexlab.__all__) - set(dir(fexlab))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True", "7", "[]"]
