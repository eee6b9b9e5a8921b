"""Face editors scored on whole photos: each photo edited through editing.edit_photo, the judge
reading the face cut from the photo and from each edited photo at the detector's box."""

from dataclasses import dataclass
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from fexlab.eval.editing import photo_editing_metrics
from fexlab.eval.photos import crops, largest_faces
from fexlab.eval.results import leaderboard, leaderboard_markdown
from fexlab.pipeline.editing import edit_photo
from fexlab.pipeline.evaluation import evaluate
from fexlab.preprocessing.readers import ArrayDataset
from fexlab.registry import EMOTIONS, Generator, InputError, InputSpec, Registry
from fexlab.registry.registry import discover_entry_points
from tests.eval.test_editing import TargetReader
from tests.landmark_detector import DotsDetector
from tests.stargan_tiny import tiny_stargan

#: Photos whose face is too dark for PickyEditor.
DARK = (0, 1)


def _photos(n=14):
    """``n`` smooth gray-level photos (the ones in DARK dark), labelled with each emotion in turn."""
    import cv2

    rng = np.random.default_rng(0)
    photos = []
    for i in range(n):
        noise = rng.integers(0, 256, (120, 160, 3)).astype(np.uint8)
        photo = cv2.GaussianBlur(noise, (9, 9), 3.0)
        photos.append(photo // 8 if i in DARK else photo)
    return photos, np.arange(n) % 7


@dataclass
class _NoConfig:
    pass


class PickyEditor(Generator):
    """An editor that cannot edit a dark face (an InputError, as an editor that finds no face
    says), and draws each other face as a flat face of the emotion's brightness."""

    name = "picky"
    config_class = _NoConfig
    requires_weights = False
    options = {"image": None}
    needs_image = True

    def generate(self, emotions, seed=None, **options):
        from PIL import Image

        names = self.check_inputs(emotions, options)
        if np.asarray(options["image"]).mean() < 60:
            raise InputError("no face to edit in this dark crop")
        return [Image.fromarray(np.full((16, 16, 3), 37 * EMOTIONS.index(e) + 18, np.uint8)) for e in names]


class SpyJudge(TargetReader):
    """The brightness judge with a crop margin, keeping every face it is given."""

    def __init__(self):
        self.seen = []

    def input_spec(self):
        return InputSpec(48, crop_margin=0.2)

    def predict(self, faces):
        self.seen.append(list(faces))
        return super().predict(faces)


def _registry():
    extra = [EntryPoint(name="dots", value="tests.landmark_detector:DotsDetector", group="fexlab.detectors"),
             EntryPoint(name="picky", value="tests.eval.test_editing_photos:PickyEditor", group="fexlab.generators")]
    return Registry([*discover_entry_points(), *extra])


def test_the_judge_reads_the_face_cut_from_each_edited_photo_at_the_detectors_box():
    photos, labels = _photos(7)
    detector, judge = DotsDetector(), SpyJudge()
    faces, _ = largest_faces(detector, ArrayDataset(photos, labels))
    m = photo_editing_metrics(edit_photo, tiny_stargan(), detector, judge, iter(photos), faces, labels, n_resamples=20)
    assert m["n_faces"] == 7 and m["n_edits"] == 7 * 6 and m["n_skipped"] == 0
    seen = judge.seen[0]
    for face, expected in zip(seen[:7], crops(judge, photos, faces)):  # the inputs: the classifier path's crops
        assert np.array_equal(face, expected)
    assert seen[0].shape[0] > 16  # the photo's resolution, not the editor's 16 px
    edited = edit_photo(photos[0], tiny_stargan(), detector, EMOTIONS, seed=0, max_faces=1)
    happy = crops(judge, [edited.photos["happy"]], faces[:1])[0]
    assert np.array_equal(seen[7 + EMOTIONS.index("happy") - 1], happy)  # photo 0 (angry) edited to happy
    assert not np.array_equal(happy, seen[0])
    assert 0 < m["ssim"] < 1  # compared at 128 px, the edit is not the input
    assert set(m["target_recall_vs_real"]) == set(EMOTIONS)
    assert len(m["examples"]) == 7 and all(len(row) == 8 for row in m["examples"].values())


def test_photos_the_editor_cannot_edit_are_skipped_and_counted():
    photos, labels = _photos(7)
    detector = DotsDetector()
    faces, _ = largest_faces(detector, ArrayDataset(photos, labels))
    m = photo_editing_metrics(edit_photo, PickyEditor(), detector, SpyJudge(), iter(photos), faces, labels, n_resamples=20)
    assert m["n_skipped"] == len(DARK) and m["n_faces"] == 7 - len(DARK)
    assert m["skipped"] == ["no face to edit in this dark crop"]
    with pytest.raises(InputError, match="edited none of the 2 faces: no face to edit"):
        photo_editing_metrics(edit_photo, PickyEditor(), detector, SpyJudge(), iter(photos[:2]), faces[:2], labels[:2])
    with pytest.raises(InputError, match="one photo per face"):
        photo_editing_metrics(edit_photo, PickyEditor(), detector, SpyJudge(), iter(photos[2:4]), faces[2:5], labels[2:5])


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory):
    """Two editors side by side on 14 whole photos (2 per emotion) through the dots detector."""
    root = tmp_path_factory.mktemp("photo-run")
    tiny_stargan().save_pretrained(root / "tiny", training_data="random weights (test)")
    photos, labels = _photos(14)
    data = ArrayDataset(photos, labels, ["val"] * 14, name="fourteen photos")
    steps = []
    report = evaluate([], [f"stargan:{root / 'tiny'}", "picky"], data=data, split="val", out=root / "out",
                      judge="mini_xception", detector="dots", n_per_emotion=2, registry=_registry(), n_resamples=20,
                      progress=lambda fraction, message: steps.append((fraction, message)))
    return report, root, steps


def test_editors_are_scored_side_by_side_on_whole_photos_through_a_detector(photo_run):
    report, root, steps = photo_run
    stargan, picky = report.results
    for result in (stargan, picky):
        assert result["kind"] == "editor" and result["data"]["detector"] == "dots"
        assert result["data"]["name"] == "fourteen photos, whole photos through dots"
        metrics = result["metrics"]
        assert isinstance(metrics["realism_fid"], float) and metrics["realism_fid"] > 0
        assert "tf_efficientnet_lite0" in metrics["realism_features"]
    assert stargan["metrics"]["n_faces"] == 14 and stargan["metrics"]["n_skipped"] == 0
    assert all(isinstance(v, float) for v in stargan["metrics"]["realism_fid_per_target"].values())
    # the dark angry and disgust photos were skipped: one real face of each is left, too few for a distance
    per_target = picky["metrics"]["realism_fid_per_target"]
    assert per_target["angry"] is None and per_target["disgust"] is None and per_target["happy"] > 0
    # every photo was edited, so the real faces beside the edits are the judge's whole split, read
    # through the same detector and crops
    real = stargan["metrics"]["judge_on_real"]["per_class"]
    assert {e: row["real"] for e, row in stargan["metrics"]["target_recall_vs_real"].items()} == {
        e: real[e]["recall"] for e in EMOTIONS}
    assert picky["metrics"]["n_faces"] == 12 and picky["metrics"]["n_skipped"] == 2
    assert any(w.startswith("2 of 14 photos were left out") for w in picky["warnings"])
    assert not any("left out" in w for w in stargan["warnings"])
    assert all("via-dots" in path.name for path in report.result_files)
    assert {"picky recall", "picky edits"} <= set(report.plots)
    markdown = leaderboard_markdown(leaderboard(root / "out" / "results"))
    assert "whole photos through dots" in markdown and "realism_fid" in markdown
    assert "| picky " in markdown.split("Recall of each target emotion")[1]


def test_editing_photos_fills_most_of_the_progress_bar(photo_run):
    *_, steps = photo_run
    fractions = [fraction for fraction, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    first_edit = next(fraction for fraction, message in steps if message.startswith("stargan:") and "edited" in message)
    assert first_edit < 0.5  # editing, not finding faces or the judge's pass, is where the time goes
    assert any(message == "picky: edited 14/14 photos" for _, message in steps)


def test_generators_that_draw_faces_are_still_refused_with_a_detector(tmp_path):
    photos, labels = _photos(7)
    data = ArrayDataset(photos, labels, ["val"] * 7, name="seven photos")
    with pytest.raises(InputError, match="facs_renderer draw faces of their own: evaluate generators without "
                                         "--detector"):
        evaluate([], ["picky", "facs_renderer"], data=data, split="val", out=tmp_path, detector="dots",
                 registry=_registry())
