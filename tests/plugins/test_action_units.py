"""The declared blendshape -> action unit mapping."""

import pytest

from fexlab.plugins.face_mesh.action_units import ACTION_UNITS, action_units
from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES

REQUIRED = ["AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20",
            "AU23", "AU24", "AU25", "AU26", "AU28", "AU43"]


def test_every_required_unit_is_declared_with_its_name_and_recipe():
    assert set(REQUIRED) <= set(ACTION_UNITS)
    for unit, (name, recipe, rule) in ACTION_UNITS.items():
        assert name and recipe and callable(rule), unit


def test_recipes_name_only_real_blendshapes():
    stems = {n.removesuffix("Left").removesuffix("Right") for n in ARKIT_NAMES}
    for unit, (_, recipe, _) in ACTION_UNITS.items():
        named = [word for word in recipe.replace("(", " ").replace(")", " ").replace(",", " ").split()
                 if word[:1].islower() and any(c.isupper() for c in word)]
        assert named and all(word in stems or word in ARKIT_NAMES for word in named), (unit, named)


def test_neutral_face_has_no_action_units():
    assert action_units({}) == {unit: 0.0 for unit in ACTION_UNITS}
    assert all(v == 0.0 for v in action_units({name: 0.0 for name in ARKIT_NAMES}).values())


def test_each_unit_follows_its_blendshapes():
    units = action_units({"mouthSmileLeft": 0.8, "mouthSmileRight": 0.4, "browInnerUp": 0.7, "jawOpen": 0.6})
    assert units["AU12"] == pytest.approx(0.6)  # both sides averaged
    assert units["AU1"] == pytest.approx(0.7) and units["AU26"] == pytest.approx(0.6)
    assert units["AU25"] == pytest.approx(0.6) and units["AU4"] == 0.0
    # lips held together over an open jaw are not parted
    assert action_units({"jawOpen": 0.6, "mouthClose": 0.6})["AU25"] == 0.0


def test_cheek_raiser_comes_from_a_squint_with_a_smile():
    squint = {"eyeSquintLeft": 0.5, "eyeSquintRight": 0.5}
    assert action_units(squint)["AU6"] == 0.0 and action_units(squint)["AU7"] == pytest.approx(0.5)
    assert action_units({**squint, "mouthSmileLeft": 0.9, "mouthSmileRight": 0.9})["AU6"] == pytest.approx(0.5)
    assert action_units({"cheekSquintLeft": 0.3, "cheekSquintRight": 0.3})["AU6"] == pytest.approx(0.3)


def test_intensities_stay_in_range():
    units = action_units({name: 1.0 for name in ARKIT_NAMES})
    assert all(0.0 <= v <= 1.0 for v in units.values())
    assert units["AU12"] == 1.0


def test_docstring_says_these_are_estimates():
    import fexlab.plugins.face_mesh.action_units as module
    assert "not the output of a model trained on FACS-coded" in " ".join(module.__doc__.split())
