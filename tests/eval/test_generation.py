"""Generator metrics: judge-based expression scores, Frechet / kernel distances, diversity, identity."""

import numpy as np
import pytest

from fexlab.eval.generation import feature_distances, generator_metrics, identity_consistency, within_diversity
from fexlab.registry import EMOTIONS
from tests.eval.bands import SIDE, BandJudge, band_face


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
    from fexlab.plugins.mini_xception import MiniXception

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
    assert within_diversity(judge.embed(varied["happy"])) > 0
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
