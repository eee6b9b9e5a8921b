"""Generator metrics: judge-based expression scores, Frechet / kernel distances, diversity, identity."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eval.generation import JudgeFeatures, feature_distances, generator_metrics, identity_consistency, within_diversity
from registry import EMOTIONS, Classifier, InputError, InputSpec

SIDE = 28


class _BandNet(torch.nn.Module):
    """Logits = 20 x the brightness of each of 7 horizontal bands (band e lit means emotion e)."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(7, 7)
        with torch.no_grad():
            self.head.weight.copy_(20 * torch.eye(7))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(x.mean(1, keepdim=True), (7, 1)).flatten(1))


@dataclass
class _Config:
    input_size: int = SIDE
    grayscale: bool = False


class BandJudge(Classifier):
    """A judge whose answer a reader can predict: the brightest band names the emotion."""

    name = "band_judge"
    config_class = _Config

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        self.net = _BandNet().eval()

    def torch_module(self):
        return self.net

    def input_spec(self):
        return InputSpec(SIDE, False, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def band_face(emotion: int, texture_seed: int) -> np.ndarray:
    """A dark face-sized image with band ``emotion`` lit and a texture fixed by ``texture_seed``."""
    rng = np.random.default_rng(texture_seed)
    image = 40 + rng.integers(0, 30, (SIDE, SIDE, 3))
    rows = slice(emotion * SIDE // 7, (emotion + 1) * SIDE // 7)
    image[rows] += 150
    return image.astype(np.uint8)


def generated_faces(n_seeds, draw):
    return {name: [draw(e, k) for k in range(n_seeds)] for e, name in enumerate(EMOTIONS)}


@pytest.fixture(scope="module")
def judge():
    return BandJudge()


@pytest.fixture(scope="module")
def real():
    return generated_faces(6, lambda e, k: band_face(e, 1000 + k))


def smooth_faces(n, seed=0, side=48):
    """Face-like smooth gray-level images (blurred noise) as the 'real' set."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, side, side, 3)).astype(np.uint8)
    return [cv2.GaussianBlur(face, (7, 7), 2.0) for face in noise]


@pytest.mark.slow
def test_frechet_and_kernel_distances_of_a_set_with_itself_are_zero_and_grow_with_noise():
    from plugins.mini_xception import MiniXception

    judge = MiniXception.from_config()  # the real architecture with seeded random weights
    faces = smooth_faces(24)
    rng = np.random.default_rng(1)
    fid, kid = {}, {}
    for sigma in (0, 10, 40):
        noisy = [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in faces] if sigma else faces
        d = feature_distances({"all": faces}, {"all": noisy}, judge, kid_subsets=20)
        fid[sigma], kid[sigma] = d.fid["all"], d.kid["all"][0]
        assert d.fid["overall"] == pytest.approx(d.fid["all"])
    assert abs(fid[0]) < 1e-4 * fid[10]
    assert fid[0] < fid[10] < fid[40]
    assert abs(kid[0]) < 1e-2 * kid[40] and kid[10] < kid[40]  # unbiased KID of a set with itself is ~0, not exactly 0


def test_judge_features_want_uint8_images(judge):
    extractor = JudgeFeatures(judge)
    assert extractor.num_features == 7
    with pytest.raises(InputError, match="uint8"):
        extractor(torch.zeros(2, 3, SIDE, SIDE))


def test_a_faithful_generator_gets_full_expression_accuracy_and_a_swapped_one_shows_in_the_matrix(judge, real):
    faithful = generated_faces(6, lambda e, k: band_face(e, k))
    m = generator_metrics(faithful, real, judge, n_resamples=50, kid_subsets=10)
    assert m["expression_accuracy"] == 1.0 and m["expression_macro_f1"] == 1.0
    assert np.array_equal(m["expression"]["confusion"], np.diag([6] * 7))
    assert set(m["fid"]) == set(EMOTIONS) | {"overall"}

    happy, surprise = EMOTIONS.index("happy"), EMOTIONS.index("surprise")
    swapped = generated_faces(6, lambda e, k: band_face(happy if e == surprise else e, k))
    m = generator_metrics(swapped, real, judge, n_resamples=50, kid_subsets=10)
    assert m["expression_accuracy"] == pytest.approx(6 / 7)
    assert m["expression"]["confusion"][surprise][happy] == 6
    # surprise faces that look happy are far from real surprise faces in the judge's space
    others = [m["fid"][e] for e in EMOTIONS if e != "surprise"]
    assert m["fid"]["surprise"] > 10 * max(others)


def test_diversity_is_zero_for_a_generator_that_ignores_the_seed(judge, real):
    collapsed = generated_faces(5, lambda e, k: band_face(e, 7))
    varied = generated_faces(5, lambda e, k: band_face(e, k))
    assert generator_metrics(collapsed, real, judge, n_resamples=20, kid_subsets=5)["diversity"]["overall"] == pytest.approx(0, abs=1e-9)
    assert within_diversity(JudgeFeatures(judge)(torch.from_numpy(np.stack(varied["happy"]).transpose(0, 3, 1, 2))).numpy()) > 0
    assert within_diversity(np.ones((1, 4))) is None


def test_identity_consistency_is_positive_when_the_seed_fixes_the_face():
    def strong_texture(seed):
        return np.random.default_rng(seed).integers(0, 256, (SIDE, SIDE, 3))

    def face(emotion, identity_seed):
        image = strong_texture(identity_seed) // 2
        image[emotion * 4 : emotion * 4 + 4] = 255
        return image.astype(np.uint8)

    kept = [[face(e, s) for e in range(7)] for s in range(4)]
    lost = [[face(e, 100 * s + e) for e in range(7)] for s in range(4)]
    kept_score, lost_score = identity_consistency(kept, SIDE), identity_consistency(lost, SIDE)
    assert kept_score["same_seed"] > kept_score["other_seed"]
    assert kept_score["consistency"] > 0.3
    assert abs(lost_score["consistency"]) < 0.05
    assert identity_consistency(kept[:1], SIDE) is None
