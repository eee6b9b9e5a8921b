"""The analyzer plugin kind: found through ``fexlab.analyzers`` like the others, isolated when broken."""

import sys

import numpy as np
import pytest

from fexlab.registry import BrokenPluginError, FaceAnalyzer, Registry
from tests.registry.test_registry import install_fake_distribution

ANALYZER_MODULE = '''
from dataclasses import dataclass
from fexlab.registry import FaceAnalyzer

@dataclass
class NoConfig:
    pass

class Smiles(FaceAnalyzer):
    description = "an outside action-unit model"
    config_class = NoConfig
    outputs = ("action_units",)

    def analyze(self, image, faces):
        return [{"action_units": {"AU12": 0.5}} for _ in faces]

class Unfinished(FaceAnalyzer):
    config_class = NoConfig
'''


@pytest.fixture
def outside(tmp_path, monkeypatch):
    install_fake_distribution(
        tmp_path, "fexlab-au",
        """
        [fexlab.analyzers]
        smiles = outside_analyzer:Smiles
        unfinished = outside_analyzer:Unfinished
        needs_missing_lib = outside_broken_analyzer:Whatever
        """,
        {"outside_analyzer": ANALYZER_MODULE, "outside_broken_analyzer": "import a_library_that_is_not_installed\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Registry()
    for module in ("outside_analyzer", "outside_broken_analyzer"):
        sys.modules.pop(module, None)


def test_outside_analyzer_plugs_in_beside_face_mesh(outside):
    assert {"smiles", "face_mesh"} <= set(outside.names("analyzer"))
    analyzer = outside.analyzer("smiles")
    assert isinstance(analyzer, FaceAnalyzer) and analyzer.follow(np.zeros((4, 4, 3), np.uint8), []) is None
    from fexlab.registry import Face

    assert analyzer.analyze(np.zeros((8, 8, 3), np.uint8), [Face((0, 0, 4, 4))]) == [{"action_units": {"AU12": 0.5}}]
    assert analyzer.present({}) and analyzer.mesh_faces() is None


def test_broken_analyzers_are_isolated(outside):
    infos = {info.name: info for info in outside.infos("analyzer")}
    assert infos["needs_missing_lib"].status == "broken" and "a_library_that_is_not_installed" in infos["needs_missing_lib"].detail
    assert infos["unfinished"].status == "broken" and "does not implement analyze" in infos["unfinished"].detail
    assert infos["face_mesh"].status == "ready" and infos["smiles"].status == "ready"
    with pytest.raises(BrokenPluginError):
        outside.analyzer("needs_missing_lib")
