"""What the tabs offer: ready plugins, their further shipped tags, the default comparison."""

from fexlab.app.common import DEFAULT_COMPARISON, default_comparison, plugin_choices
from fexlab.registry import DEFAULT_CLASSIFIER


def test_shipped_tags_are_offered_beside_their_plugin(registry):
    classifiers = plugin_choices(registry, "classifier")
    assert classifiers.index("mini_xception.ferplus") == classifiers.index("mini_xception") + 1
    detectors = plugin_choices(registry, "detector")
    assert "blazeface" in detectors and "blazeface.short" in detectors
    assert not any(name.startswith("vit.fer2013") for name in classifiers)  # a hub tag, not on this machine


def test_the_default_comparison_is_the_real_face_models_that_are_ready():
    assert default_comparison(["mini_xception", "mini_xception.ferplus", "vit"]) == ["mini_xception.ferplus"]
    assert default_comparison(["efficientnet", "mini_xception", "mini_xception.ferplus"]) == [
        "efficientnet", "mini_xception.ferplus"]
    assert DEFAULT_COMPARISON[0] == DEFAULT_CLASSIFIER
    assert default_comparison(["haar_only_classifier"]) == ["haar_only_classifier"]
    assert default_comparison([]) == []
    assert set(DEFAULT_COMPARISON) >= {"mini_xception.ferplus"}


def test_a_tag_chosen_in_the_tab_predicts(registry, astronaut_path):
    from fexlab.app.common import load_plugins

    models = load_plugins(registry, "classifier", ["mini_xception.ferplus", "mini_xception"])
    assert set(models) == {"mini_xception.ferplus", "mini_xception"}
    assert models["mini_xception.ferplus"].metadata["source"].endswith("ferplus")


def test_ticking_the_face_mesh_swaps_the_default_classifier_for_the_one_that_reads_the_mesh():
    from fexlab.app.common import mesh_classifiers
    from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER

    choices = [DEFAULT_CLASSIFIER, DEFAULT_MESH_CLASSIFIER, "mini_xception.ferplus"]
    compared = [DEFAULT_CLASSIFIER, "mini_xception.ferplus"]
    ticked = mesh_classifiers(compared, True, choices)
    assert ticked == [DEFAULT_MESH_CLASSIFIER, "mini_xception.ferplus"]
    assert mesh_classifiers(ticked, False, choices) == compared
    assert mesh_classifiers(DEFAULT_CLASSIFIER, True, choices) == DEFAULT_MESH_CLASSIFIER  # one-choice dropdowns
    assert mesh_classifiers("mini_xception.ferplus", True, choices) == "mini_xception.ferplus"  # the user's own choice
    assert mesh_classifiers([DEFAULT_CLASSIFIER, DEFAULT_MESH_CLASSIFIER], True, choices) == [DEFAULT_MESH_CLASSIFIER]
    assert mesh_classifiers(compared, True, compared) == compared  # the mesh classifier is not ready here
    assert mesh_classifiers(None, True, choices) is None
