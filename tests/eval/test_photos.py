"""Classifiers scored end to end on whole photos (detector -> each classifier's crop) and the
crop-margin measurement built on it."""

import numpy as np
import pytest

from fexlab.eval.crop_fit import best_margins, crop_fit, markdown
from fexlab.eval.harness import evaluate
from fexlab.eval.photos import crops, largest_faces
from fexlab.eval.results import load_results
from fexlab.preprocessing.images import load_image
from fexlab.preprocessing.readers import ArrayDataset
from fexlab.registry import EMOTIONS, InputError, Registry


@pytest.fixture(scope="module")
def photos(astronaut_path, hopper_path):
    """Two real photos with a face and one blank image, as a labelled validation split."""
    blank = np.full((200, 300, 3), 128, np.uint8)
    images = [load_image(astronaut_path), load_image(hopper_path), blank]
    labels = [EMOTIONS.index("happy"), EMOTIONS.index("neutral"), EMOTIONS.index("angry")]
    return ArrayDataset(images, labels, ["val"] * 3, name="three photos")


def test_largest_faces_keeps_the_photos_with_a_face_and_crops_follow_the_margin(photos):
    registry = Registry()
    faces, found = largest_faces(registry.detector("blazeface"), photos)
    assert len(faces) == len(found) == 2 and list(found.labels()) == list(photos.labels()[:2])
    classifier = registry.classifier("mini_xception")
    images = found.images(range(2))
    tight, wide = crops(classifier, images, faces, margin=0.0), crops(classifier, images, faces, margin=0.4)
    for a, b, face in zip(tight, wide, faces):
        assert b.shape[0] > a.shape[0] >= face.box[2] - 2
    levelled = crops(classifier, images, faces, align=True, margin=0.0)
    assert all(x.shape[0] == x.shape[1] for x in levelled)


def test_evaluate_with_a_detector_scores_whole_photos_and_says_so(photos, tmp_path):
    report = evaluate(["mini_xception"], data=photos, split="val", out=tmp_path, detector="blazeface",
                      registry=Registry(), n_resamples=50, plots=False)
    (result,) = load_results(tmp_path / "results")
    assert result["data"]["detector"] == "blazeface" and result["data"]["photos"] == 3 and result["data"]["n"] == 2
    assert "whole photos through blazeface" in result["data"]["name"]
    assert "via-blazeface" in report.result_files[0].name
    # the same classifier on the crops as given is a separate result, not overwritten
    evaluate(["mini_xception"], data=ArrayDataset(photos.images(range(2)), photos.labels()[:2], ["val"] * 2,
                                                  name="three photos"),
             split="val", out=tmp_path, registry=Registry(), n_resamples=50, plots=False)
    assert len(load_results(tmp_path / "results")) == 2


def test_a_detector_that_finds_nothing_and_generators_are_refused(photos, tmp_path):
    blank = ArrayDataset([np.zeros((64, 64, 3), np.uint8)] * 2, [0, 1], ["val"] * 2, name="blank")
    with pytest.raises(InputError, match="found no face in the 2 images"):
        evaluate(["mini_xception"], data=blank, split="val", out=tmp_path, detector="blazeface", registry=Registry())
    with pytest.raises(InputError, match="without --detector"):
        evaluate([], ["facs_renderer"], data=photos, split="val", out=tmp_path, detector="blazeface",
                 registry=Registry())


def test_crop_fit_measures_every_margin_on_the_same_faces(photos, tmp_path, monkeypatch):
    import fexlab.preprocessing.readers as readers
    monkeypatch.setattr(readers, "open_dataset", lambda source, **_: photos)
    result = crop_fit(["mini_xception"], "three photos", "val", "blazeface", margins=(0.0, 0.3), registry=Registry())
    assert result["photos"] == 3 and result["faces"] == 2 and len(result["rows"]) == 4
    assert {(r["margin"], r["align"]) for r in result["rows"]} == {(0.0, False), (0.3, False), (0.0, True), (0.3, True)}
    table = markdown(result)
    assert "margin 0.3" in table and "*configured*" not in table.split("\n")[4]  # 0.1 is configured, not tried
    assert table.count("**") >= 2


def test_best_margins_picks_the_best_macro_f1_without_alignment():
    rows = [{"classifier": "a", "margin": m, "align": al, "macro_f1": f}
            for m, al, f in [(0.0, False, 0.4), (0.2, False, 0.6), (0.4, False, 0.5), (0.0, True, 0.9)]]
    assert best_margins({"rows": rows}) == {"a": 0.2}
    assert best_margins({"rows": rows}, align=True) == {"a": 0.0}


def test_crop_fit_per_class_keeps_at_most_n_photos_of_each_emotion(photos, monkeypatch):
    import fexlab.preprocessing.readers as readers
    doubled = ArrayDataset([*photos.images(range(3)), *photos.images(range(3))], [*photos.labels(), *photos.labels()],
                           ["val"] * 6, name="six photos")
    monkeypatch.setattr(readers, "open_dataset", lambda source, **_: doubled)
    result = crop_fit(["mini_xception"], "six", "val", "blazeface", margins=(0.1,), aligns=(False,),
                      registry=Registry(), per_class=1)
    assert result["photos"] == 3 and result["faces"] == 2 and "at most 1 photos per emotion" in result["split"]
