import json

import pytest

from fexlab.app.evaluate import (
    FACE_CROPS,
    QUICK_SYNTHETIC,
    YOUR_CLASSIFIER,
    data_choices,
    data_sets,
    face_choices,
    judge_note,
    leaderboard_view,
    load_all_results,
    resolve_data,
    run_evaluation,
)
from fexlab.registry import EMOTIONS, FexlabError, InputError


def test_data_choices_are_the_synthetic_sets_and_what_the_data_folder_holds(folders):
    (folders["data"] / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    (folders["data"] / "rafdb").mkdir()
    (folders["data"] / "notes.txt").write_text("not a data set")
    choices = dict(data_choices())
    assert list(choices.values())[0] == QUICK_SYNTHETIC
    assert choices["data/fer2013.csv"] == str(folders["data"] / "fer2013.csv")
    assert choices["data/rafdb"] == str(folders["data"] / "rafdb") and "data/notes.txt" not in choices


def test_a_data_set_added_later_is_offered_when_the_list_is_refreshed(folders):
    assert "data/added-later" not in dict(data_sets().choices)
    (folders["data"] / "added-later").mkdir()
    assert dict(data_sets().choices)["data/added-later"] == str(folders["data"] / "added-later")


def test_typed_data_is_checked(folders):
    (folders["data"] / "faces").mkdir()
    assert resolve_data(" synthetic:n=140 ") == "synthetic:n=140"
    assert resolve_data("data/faces") == str(folders["data"] / "faces")
    for typed, error in (("", "choose a data set"), ("synthetic:n=999999", "at most 20000 synthetic faces"),
                         ("/etc", "outside the folders"), ("data/missing.csv", "no such file")):
        with pytest.raises(InputError, match=error):
            resolve_data(typed)


def test_empty_results_folder_says_what_to_do(folders):
    chooser, classifiers, generators, figure, message, csv, note, _ = leaderboard_view(None)
    assert "No results yet" in message and figure is None and csv is None and note == ""
    assert classifiers.empty and "accuracy" in classifiers.columns


@pytest.mark.slow
def test_an_evaluation_fills_the_leaderboard_and_is_there_when_reloaded(registry, folders):
    seen = []
    chooser, classifiers, generators, figure, message, csv, note, _ = run_evaluation(
        registry, ["mini_xception"], "", ["facs_renderer"], "mini_xception", "synthetic:n=140,size=64", "test", 2, 0,
        progress=lambda fraction, desc: seen.append(fraction))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert list(classifiers["model"]) == ["mini_xception"] and 0 <= classifiers["accuracy"][0] <= 1
    assert list(generators["model"]) == ["facs_renderer"] and generators["judge"][0] == "mini_xception"
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == [
        "mini_xception", "facs_renderer (judged by mini_xception)"]
    assert "2 result(s)" in message and "SYNTHETIC" in message
    assert "scored by the judge **mini_xception**, trained on FER2013" in note and "right " in note
    assert "reads the judge as much as the generator" in note
    assert "**Take care**, some figures here mean little:" in message
    assert "- facs_renderer: Frechet and kernel distances" in message
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


def _result(kind, model, **extra):
    return {"kind": kind, "model": model, "data": {"name": "synthetic", "split": "test", "synthetic": True},
            "metrics": {"accuracy": 0.42}, "seed": 0, **extra}


def test_the_judge_note_says_what_the_judge_knows_and_how_it_does_here():
    shown = [_result("classifier", "mini_xception"),
             _result("generator", "facs_renderer", judge="mini_xception", judge_training_data="FER2013 photos")]
    note = judge_note(shown)
    assert note.startswith("Generators and editors are scored by the judge **mini_xception**, trained on FER2013 photos; on "
                           "the faces of this split it is itself right 42% of the time.")
    assert "SYNTHETIC cartoons" in note and YOUR_CLASSIFIER in note
    assert judge_note(shown[:1]) == ""


def test_the_generator_table_shows_the_judge_on_real_faces_beside_the_generated_ones(folders):
    from fexlab.eval.results import write_result

    data = {"name": "faces", "split": "test", "synthetic": False, "n": 30, "fingerprint": "abc"}
    per_class = {e: {"recall": r, "support": 3} for e, r in zip(EMOTIONS, (1, 1, 0.5, 1, 1, 1, 0.25))}
    real = {"accuracy": 0.9, "balanced_accuracy": 0.75, "macro_f1": 0.7}
    write_result({"kind": "generator", "model": "cgan", "judge": "vit", "data": data, "seed": 0,
                  "metrics": {"expression_accuracy": 0.82, "expression": {"per_class": per_class},
                              "judge_on_real": real}}, folders["results"] / "results")
    _, _, generators, _, _, _, note, _ = leaderboard_view(None)
    row = generators.iloc[0]
    assert (row["expression accuracy"], row["judge on real faces, balanced"], row["judge on real faces"],
            row["lowest recall"]) == (0.82, 0.75, 0.9, 0.25)
    assert ("on the faces of this split it is itself right 90% of the time, 75% averaged over the emotions: generated "
            "faces are as many per emotion, so read their expression accuracy against this one.") in note


def test_tiny_splits_are_warned_about_beside_the_leaderboard(folders):
    from fexlab.eval.harness import MIN_SPLIT_FACES, split_warnings
    from fexlab.preprocessing.readers import open_dataset

    part = open_dataset("synthetic:n=30,size=48").split("test")
    warnings = split_warnings(part, "test")
    assert len(part) < MIN_SPLIT_FACES and warnings[0].startswith(f"only {len(part)} faces in the test split")
    assert warnings[1].startswith("only ") and " faces of " in warnings[1]
    result = _result("classifier", "mini_xception", warnings=warnings, created="2024")
    result["_key"] = "synthetic|test|-"
    result["metrics"] = {"accuracy": 0.5}
    message = leaderboard_view(None, [result])[4]
    assert f"**Take care**, some figures here mean little:\n- mini_xception: only {len(part)} faces in the test" in message


@pytest.mark.slow
def test_a_classifier_typed_in_can_be_the_judge(registry, folders):
    registry.classifier("mini_xception").save_pretrained(folders["runs"] / "judge" / "best")
    with pytest.raises(InputError, match="type your classifier's folder"):
        run_evaluation(registry, [], "", ["facs_renderer"], YOUR_CLASSIFIER, "synthetic:n=140,size=48", "test", 2, 0)
    *_, note, _ = run_evaluation(registry, [], "runs/judge", ["facs_renderer"], YOUR_CLASSIFIER, "synthetic:n=140,size=48",
                              "test", 2, 0)
    assert "judge **mini_xception:runs/judge/best**" in note


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


def test_an_editor_is_scored_into_its_own_table_beside_the_judge(folders, monkeypatch):
    from fexlab.plugins.stargan import StarGAN
    from fexlab.registry import Registry
    from tests.stargan_tiny import tiny_stargan

    tiny_stargan().save_pretrained(folders["runs"] / "tiny-stargan", training_data="random weights (test)")
    monkeypatch.setattr(StarGAN, "pretrained", {"fer2013": str(folders["runs"] / "tiny-stargan")})
    *_, note, editors = run_evaluation(Registry(), [], "", ["stargan"], "mini_xception", "synthetic:n=140,size=48",
                                       "test", 2, 0)
    assert list(editors["model"]) == ["stargan"]
    assert {"target accuracy", "SSIM to the input", "judge on real faces, balanced", "realism FID (ImageNet)"} <= set(
        editors.columns)
    assert 0 <= float(editors["SSIM to the input"].iloc[0]) <= 1
    assert float(editors["realism FID (ImageNet)"].iloc[0]) > 0
    # each target emotion's recall of the edits beside the judge's recall of real faces of it
    assert list(editors.columns[-7:]) == [f"{emotion}: edits / real" for emotion in EMOTIONS]
    (result,) = load_all_results()
    for emotion in EMOTIONS:
        pair = result["metrics"]["target_recall_vs_real"][emotion]
        assert editors[f"{emotion}: edits / real"].iloc[0] == f"{pair['edits']:.2f} / {pair['real']:.2f}"
    assert "Generators and editors are scored by the judge **mini_xception**" in note


def test_an_editor_at_another_strength_gets_its_own_row(folders, monkeypatch):
    from fexlab.plugins.stargan import StarGAN
    from fexlab.registry import Registry
    from tests.stargan_tiny import tiny_stargan

    tiny_stargan().save_pretrained(folders["runs"] / "tiny-stargan", training_data="random weights (test)")
    monkeypatch.setattr(StarGAN, "pretrained", {"fer2013": str(folders["runs"] / "tiny-stargan")})
    for strength in (1.0, 0.5):
        *_, editors = run_evaluation(Registry(), [], "", ["stargan"], "mini_xception", "synthetic:n=140,size=48",
                                     "test", 2, 0, FACE_CROPS, None, strength)
    assert sorted(editors["model"]) == ["stargan", "stargan @ strength 0.5"]
    assert sorted(r["edit_strength"] for r in load_all_results()) == [0.5, 1.0]
    with pytest.raises(InputError, match="at most 2"):
        run_evaluation(Registry(), [], "", ["stargan"], "mini_xception", "synthetic:n=140,size=48", "test", 2, 0,
                       FACE_CROPS, None, 2.5)


def test_editors_edit_whole_photos_through_a_detector_chosen_in_the_tab(folders):
    import cv2

    from tests.eval.test_editing_photos import _photos, _registry
    from tests.stargan_tiny import tiny_stargan

    registry = _registry()
    assert ("whole photos: the largest face dots finds", "dots") in face_choices(registry)
    assert face_choices(registry)[0] == ("face crops, as they are", FACE_CROPS)
    (folders["data"] / "photos" / "val").mkdir(parents=True)
    rows = ["image,emotion"]
    for i, (photo, label) in enumerate(zip(*_photos(14))):
        cv2.imwrite(str(folders["data"] / "photos" / "val" / f"p{i}.png"), photo[..., ::-1])
        rows.append(f"val/p{i}.png,{EMOTIONS[label]}")
    (folders["data"] / "photos" / "legend.csv").write_text("\n".join(rows) + "\n")
    tiny_stargan().save_pretrained(folders["runs"] / "tiny-stargan", training_data="random weights (test)")
    with pytest.raises(InputError, match="choose detectors by name"):
        run_evaluation(registry, [], "", ["picky"], "mini_xception", "data/photos/legend.csv", "val", 2, 0,
                       "dots:/etc")
    chooser, *_, message, _, _, editors = run_evaluation(registry, [], "", ["picky"], "mini_xception",
                                                         "data/photos/legend.csv", "val", 2, 0, "dots")
    (result,) = load_all_results()
    assert result["data"]["detector"] == "dots" and "whole photos through dots" in result["data"]["name"]
    assert list(editors["model"]) == ["picky"] and float(editors["realism FID (ImageNet)"].iloc[0]) > 0
    assert "2 of 14 photos were left out" in message  # the two dark photos, named beside the leaderboard


def test_tables_one_level_down_are_offered_too(folders):
    (folders["data"] / "fer2013").mkdir()
    (folders["data"] / "fer2013" / "ferplus_votes.csv").write_text("image,neutral\n")
    choices = dict(data_choices())
    assert choices["data/fer2013"] == str(folders["data"] / "fer2013")
    assert choices["data/fer2013/ferplus_votes.csv"] == str(folders["data"] / "fer2013" / "ferplus_votes.csv")



def test_the_classifier_table_shows_the_posed_like_faces_where_the_data_has_votes():
    from fexlab.app.evaluate import _CLASSIFIER_COLUMNS, _table

    data = {"name": "FER+ faces", "split": "val", "synthetic": False, "n": 40, "fingerprint": "abc"}
    voted = {"kind": "classifier", "model": "efficientnet.ferplus", "data": data, "seed": 0,
             "metrics": {"accuracy": 0.8, "macro_f1": 0.7, "posed_like": {"n": 25, "accuracy": 0.92}}}
    table = _table([voted], "classifier", _CLASSIFIER_COLUMNS)
    column = "posed-like accuracy (8+ of 10 votes agree)"
    assert table.iloc[0][column] == 0.92 and list(table.columns).index(column) == list(table.columns).index("macro F1") + 1
    plain = {**voted, "metrics": {"accuracy": 0.8, "macro_f1": 0.7}}
    assert column not in _table([plain], "classifier", _CLASSIFIER_COLUMNS).columns
