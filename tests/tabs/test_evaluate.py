import json

import pytest

from registry import FexlabError, InputError
from tabs.evaluate import QUICK_SYNTHETIC, data_choices, leaderboard_view, resolve_data, run_evaluation


def test_data_choices_are_the_synthetic_sets_and_what_the_data_folder_holds(folders):
    (folders["data"] / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    (folders["data"] / "rafdb").mkdir()
    (folders["data"] / "notes.txt").write_text("not a data set")
    choices = dict(data_choices())
    assert list(choices.values())[0] == QUICK_SYNTHETIC
    assert choices["data/fer2013.csv"] == str(folders["data"] / "fer2013.csv")
    assert choices["data/rafdb"] == str(folders["data"] / "rafdb") and "data/notes.txt" not in choices


def test_typed_data_is_checked(folders):
    (folders["data"] / "faces").mkdir()
    assert resolve_data(" synthetic:n=140 ") == "synthetic:n=140"
    assert resolve_data("data/faces") == str(folders["data"] / "faces")
    for typed, error in (("", "choose a data set"), ("synthetic:n=999999", "at most 20000 synthetic faces"),
                         ("/etc", "outside the folders"), ("data/missing.csv", "no such file")):
        with pytest.raises(InputError, match=error):
            resolve_data(typed)


def test_empty_results_folder_says_what_to_do(folders):
    chooser, classifiers, generators, figure, message, csv = leaderboard_view(None)
    assert "No results yet" in message and figure is None and csv is None
    assert classifiers.empty and "accuracy" in classifiers.columns


@pytest.mark.slow
def test_an_evaluation_fills_the_leaderboard_and_is_there_when_reloaded(registry, folders):
    seen = []
    chooser, classifiers, generators, figure, message, csv = run_evaluation(
        registry, ["mini_xception"], "", ["facs_renderer"], "mini_xception", "synthetic:n=140,size=64", "test", 2, 0,
        progress=lambda fraction, desc: seen.append(fraction))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert list(classifiers["model"]) == ["mini_xception"] and 0 <= classifiers["accuracy"][0] <= 1
    assert list(generators["model"]) == ["facs_renderer"] and generators["judge"][0] == "mini_xception"
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == [
        "mini_xception", "facs_renderer (judged by mini_xception)"]
    assert "2 result(s)" in message and "SYNTHETIC" in message
    assert "mini_xception" in open(csv).read()
    assert len(list((folders["results"] / "results").glob("*.json"))) == 2

    # later: a result written by `fexlab evaluate --out results/other` and a damaged file are both found/skipped
    other = folders["results"] / "other" / "results"
    other.mkdir(parents=True)
    for path in (folders["results"] / "results").glob("classifier--*.json"):
        payload = json.loads(path.read_text())
        payload["model"] = "mini_xception.copy"
        (other / path.name).write_text(json.dumps(payload))
    (other / "broken.json").write_text("{not json")
    reloaded = leaderboard_view(None)
    assert sorted(reloaded[1]["model"]) == ["mini_xception", "mini_xception.copy"]
    assert reloaded[0].value == chooser.value and "3 result(s)" in reloaded[4]


def test_bad_evaluations(registry, folders, monkeypatch):
    monkeypatch.delenv("FEXLAB_SD_BASE_MODEL", raising=False)
    with pytest.raises(InputError, match="choose at least one classifier or generator"):
        run_evaluation(registry, [], "", [], None, QUICK_SYNTHETIC, "test", 10, 0)
    with pytest.raises(InputError, match="faces per emotion must be between 2 and 100"):
        run_evaluation(registry, [], "", ["facs_renderer"], None, QUICK_SYNTHETIC, "test", 1, 0)
    with pytest.raises(InputError, match="outside the folders"):
        run_evaluation(registry, ["mini_xception"], "", [], None, "/etc", "test", 10, 0)
    for generators, judge in ((["cgan:/etc"], None), (["facs_renderer"], "mini_xception:/etc")):
        with pytest.raises(InputError, match="choose .*s by name; type a checkpoint folder into the box"):
            run_evaluation(registry, [], "", generators, judge, QUICK_SYNTHETIC, "test", 2, 0)
    with pytest.raises(FexlabError, match="sd_lora cannot load its base model|not cached"):  # needs weights offline
        run_evaluation(registry, [], "", ["sd_lora"], None, QUICK_SYNTHETIC, "test", 2, 0)
