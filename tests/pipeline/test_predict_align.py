"""The predictor levels the eyes before the crop when asked and the detector gives eyes."""

import cv2
import numpy as np

from fexlab.pipeline.predict import Predictor
from fexlab.preprocessing.align import eye_angle
from fexlab.preprocessing.images import load_image


def _tilted(path, degrees):
    photo = load_image(path)
    height, width = photo.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(photo, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def test_align_levels_the_eyes_of_the_crop_the_classifier_sees(registry, hopper_path, monkeypatch):
    classifier, detector = registry.classifier("mini_xception"), registry.detector("blazeface")
    image = _tilted(hopper_path, 20)
    seen = {}
    original = type(classifier).predict
    for align in (False, True):
        monkeypatch.setattr(type(classifier), "predict",
                            lambda self, faces, align=align: seen.setdefault(align, faces[0]) is None or original(self, faces))
        Predictor(classifier, detector, align=align).predict_frames([image])
    angles = {align: eye_angle(detector.detect(np.ascontiguousarray(crop))[0].landmarks) for align, crop in seen.items()}
    assert abs(angles[False]) > 8  # the plain crop keeps the tilt
    assert abs(angles[True]) < 5  # the aligned one is level
    assert seen[True].shape[0] == seen[True].shape[1] == min(seen[False].shape[0], 256)  # same framing, at most 256 px


def test_align_without_eye_keypoints_crops_as_usual(registry, astronaut_path):
    classifier = registry.classifier("mini_xception")
    plain = Predictor(classifier, registry.detector("full_frame")).predict_image(astronaut_path)
    aligned = Predictor(classifier, registry.detector("full_frame"), align=True).predict_image(astronaut_path)
    np.testing.assert_allclose(plain.faces[0].probabilities["mini_xception"],
                               aligned.faces[0].probabilities["mini_xception"])


def test_the_cli_aligns_on_request(capsys, astronaut_path):
    import json

    from fexlab import cli
    assert cli.main(["predict", str(astronaut_path), "--json", "--align"]) == 0
    aligned = json.loads(capsys.readouterr().out)[0]["faces"][0]["probabilities"]
    assert cli.main(["predict", str(astronaut_path), "--json", "--no-align"]) == 0
    plain = json.loads(capsys.readouterr().out)[0]["faces"][0]["probabilities"]
    assert aligned != plain  # a different crop, so different probabilities
