"""The registry finds plugins from any installed distribution, lazily, and isolates broken ones.

The tests install fake distributions (a ``*.dist-info`` folder with ``entry_points.txt`` on
``sys.path``), exactly what ``pip install`` of a third-party plugin package leaves behind.
"""

import sys
import textwrap

import numpy as np
import pytest

from fexlab.registry import (
    BrokenPluginError,
    NeedsWeightsError,
    Registry,
    UnknownPluginError,
    default_registry,
    parse_spec,
)

PLUGIN_MODULE = '''
from dataclasses import dataclass
import torch
from fexlab.registry import Classifier, InputSpec

IMPORTS = globals().setdefault("IMPORTS", 0) + 1

@dataclass
class TinyConfig:
    size: int = 16

class Tiny(Classifier):
    description = "a tiny outside classifier"
    config_class = TinyConfig
    weights_hint = "train it"

    def __init__(self, config=None, **kw):
        super().__init__(config, **kw)
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * self.config.size ** 2, 7))

    def torch_module(self):
        return self.net

    def input_spec(self):
        return InputSpec(self.config.size)

class Abstract(Classifier):
    config_class = TinyConfig

def not_a_class():
    return None
'''


def install_fake_distribution(root, name, entry_points, modules):
    """Write modules and a dist-info folder under ``root`` as pip would."""
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist = root / f"{name.replace('-', '_')}-0.1.dist-info"  # as pip names it
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def outside(tmp_path, monkeypatch):
    install_fake_distribution(
        tmp_path,
        "fexlab-outside",
        """
        [fexlab.classifiers]
        tiny = outside_plugin:Tiny
        abstract = outside_plugin:Abstract
        function = outside_plugin:not_a_class
        needs_missing_lib = outside_broken:Whatever

        [fexlab.detectors]
        tiny_detector = outside_plugin:Tiny
        """,
        {"outside_plugin": PLUGIN_MODULE, "outside_broken": "import a_library_that_is_not_installed\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield Registry()
    for module in ("outside_plugin", "outside_broken"):
        sys.modules.pop(module, None)


def test_outside_plugin_is_found_with_no_edit_here(outside):
    assert "tiny" in outside.names("classifier")
    assert "mini_xception" in outside.names("classifier")  # built-ins register the same way
    info = outside.info("classifier", "tiny")
    assert info.package == "fexlab-outside 0.1"
    assert info.status == "needs weights" and "train it" in info.detail
    assert info.description == "a tiny outside classifier"


def test_loading_is_lazy_and_once(outside):
    assert "outside_plugin" not in sys.modules
    outside.names("classifier")
    assert "outside_plugin" not in sys.modules
    cls = outside.plugin_class("classifier", "tiny")
    assert "outside_plugin" in sys.modules
    assert outside.plugin_class("classifier", "tiny") is cls
    assert sys.modules["outside_plugin"].IMPORTS == 1


def test_broken_plugins_are_isolated(outside):
    infos = {i.name: i for i in outside.infos("classifier")}
    assert infos["needs_missing_lib"].status == "broken"
    assert "a_library_that_is_not_installed" in infos["needs_missing_lib"].detail
    assert infos["function"].status == "broken" and "not a subclass" in infos["function"].detail
    assert infos["abstract"].status == "broken" and "does not implement" in infos["abstract"].detail
    assert infos["mini_xception"].status == "ready"
    with pytest.raises(BrokenPluginError, match="a_library_that_is_not_installed"):
        outside.classifier("needs_missing_lib")
    assert outside.classifier("mini_xception").predict([np.zeros((64, 64, 3), np.uint8)]).shape == (1, 7)


def test_plugin_of_the_wrong_kind_is_broken(outside):
    assert outside.info("detector", "tiny_detector").status == "broken"


def test_unknown_name_lists_available_and_closest(outside):
    with pytest.raises(UnknownPluginError, match=r"available: .*mini_xception.*did you mean 'tiny'"):
        outside.classifier("tiyn")
    with pytest.raises(UnknownPluginError, match=r"did you mean 'haar' \(a detector\)"):
        outside.classifier("haar")
    with pytest.raises(UnknownPluginError, match="kinds: classifier, generator, detector"):
        outside.names("decoder")


def test_needs_weights_then_checkpoint_loads_and_is_cached(outside, tmp_path):
    with pytest.raises(NeedsWeightsError, match="train it"):
        outside.classifier("tiny")
    cls = outside.plugin_class("classifier", "tiny")
    saved = cls.from_config(size=8).save_pretrained(tmp_path / "ckpt")
    first = outside.classifier(f"tiny:{saved}")
    assert first.config.size == 8
    assert outside.classifier("tiny", checkpoint=str(saved)) is first


def test_same_name_from_two_packages_keeps_the_first_and_says_so(tmp_path, monkeypatch):
    for index in (1, 2):
        root = tmp_path / f"site{index}"
        root.mkdir()
        install_fake_distribution(
            root, f"pkg{index}", f"[fexlab.detectors]\nclash = mod{index}:Detector\n",
            {f"mod{index}": "from plugins.detectors.full_frame import FullFrame as Detector\n"},
        )
        monkeypatch.syspath_prepend(str(root))
    info = Registry().info("detector", "clash")
    assert "also claimed" in info.detail
    for module in ("mod1", "mod2"):
        sys.modules.pop(module, None)


def test_default_registry_has_the_built_ins():
    reg = default_registry()
    assert {"mini_xception"} <= set(reg.names("classifier"))
    assert {"haar", "full_frame"} <= set(reg.names("detector"))
    assert reg is default_registry()


@pytest.mark.parametrize(
    "spec, parsed",
    [("convnext", ("convnext", None, None)), ("vit.fer2013", ("vit", "fer2013", None)),
     ("convnext:runs/a", ("convnext", None, "runs/a")), ("cgan.synthetic:ckpt", ("cgan", "synthetic", "ckpt"))],
)
def test_parse_spec(spec, parsed):
    assert parse_spec(spec) == parsed
