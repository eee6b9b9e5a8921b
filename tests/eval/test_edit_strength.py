"""The harness's editors at a strength other than 1: each editor up to its own limit, the results
named by strength so both sit side by side, and an editor with no strength refused."""

import numpy as np
import pytest

from fexlab.eval.harness import evaluate
from fexlab.eval.results import leaderboard
from fexlab.registry import EMOTIONS, InputError, Registry
from tests.eval.test_editing_photos import PickyEditor


class FadingEditor(PickyEditor):
    """Moves each face ``strength`` of the way to a flat face of the emotion's brightness band."""

    name = "fading"
    options = {"image": None, "strength": 1.0}

    def generate(self, emotions, seed=None, **options):
        from PIL import Image

        names = self.check_inputs(emotions, options)
        face, amount = np.asarray(options["image"], np.float32), float(options["strength"])
        return [Image.fromarray((face * (1 - amount) + (37 * EMOTIONS.index(e) + 18) * amount).astype(np.uint8))
                for e in names]


def _with(*names):
    from importlib.metadata import EntryPoint

    from fexlab.registry.registry import discover_entry_points

    return Registry([*discover_entry_points(), *(EntryPoint(name=name, value=f"{module}:{cls}", group="fexlab.generators")
                                                 for name, module, cls in names)])


def test_the_harness_edits_at_the_strength_asked_up_to_each_editors_own_limit(tmp_path):
    registry = _with(("fading", "tests.eval.test_edit_strength", "FadingEditor"))
    runs = {}
    for strength in (0.4, 1.0, 2.0):
        report = evaluate([], ["fading"], data="synthetic:n=140,size=48", out=tmp_path / "out", judge="mini_xception",
                          n_per_emotion=2, registry=registry, n_resamples=20, plots=False, edit_strength=strength)
        [runs[strength]] = report.results
    assert runs[0.4]["model"] == "fading @ strength 0.4" and runs[0.4]["edit_strength"] == 0.4
    assert runs[1.0]["model"] == "fading"
    assert runs[2.0]["model"] == "fading" and runs[2.0]["edit_strength"] == 1.0  # it goes no further than 1
    assert runs[0.4]["metrics"]["ssim"] > runs[1.0]["metrics"]["ssim"]  # a weaker edit keeps more of the face
    assert runs[2.0]["metrics"]["ssim"] == pytest.approx(runs[1.0]["metrics"]["ssim"])
    models = set(leaderboard(tmp_path / "out" / "results")["model"])
    assert models == {"fading", "fading @ strength 0.4"}  # both strengths kept side by side


def test_an_editor_without_a_strength_is_only_evaluated_at_1(tmp_path):
    registry = _with(("picky", "tests.eval.test_editing_photos", "PickyEditor"))
    with pytest.raises(InputError, match="has no strength"):
        evaluate([], ["picky"], data="synthetic:n=140,size=48", out=tmp_path, judge="mini_xception",
                 n_per_emotion=2, registry=registry, n_resamples=20, plots=False, edit_strength=0.5)
    with pytest.raises(InputError, match="at most 2"):
        evaluate([], ["picky"], data="synthetic:n=140,size=48", out=tmp_path, judge="mini_xception",
                 n_per_emotion=2, registry=registry, edit_strength=2.5)
