"""Classifier metrics on cases a reader can check by hand."""

import numpy as np
import pytest
from scipy.special import comb

from fexlab.eval.classification import (
    bootstrap_interval,
    classification_metrics,
    expected_calibration_error,
    mcnemar,
    reliability_curve,
)
from fexlab.registry import EMOTIONS, InputError

HAPPY = EMOTIONS.index("happy")


def one_hot(predicted, confidence=0.9):
    """Probabilities with ``confidence`` on the predicted emotion and the rest spread evenly."""
    probs = np.full((len(predicted), 7), (1 - confidence) / 6)
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def balanced_labels(per_class=10):
    return np.repeat(np.arange(7), per_class)


def test_a_perfect_classifier_scores_one_everywhere():
    y = balanced_labels()
    m = classification_metrics(y, one_hot(y), n_resamples=200)
    assert m.accuracy == m.balanced_accuracy == m.macro_f1 == m.weighted_f1 == m.top2_accuracy == 1.0
    assert m.accuracy_ci == (1.0, 1.0) and m.macro_f1_ci == (1.0, 1.0)
    assert np.array_equal(m.confusion, np.diag([10] * 7))
    assert np.allclose(m.confusion_normalized, np.eye(7))
    assert all(row == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 10} for row in m.per_class.values())


def test_a_constant_classifier_gets_the_chance_figures():
    y = balanced_labels()
    m = classification_metrics(y, one_hot(np.full(70, HAPPY)), n_resamples=200)
    assert m.accuracy == pytest.approx(1 / 7)
    assert m.balanced_accuracy == pytest.approx(1 / 7)  # recall 1 for happy, 0 for the other six
    # happy: precision 10/70, recall 1 -> F1 = 2 * (1/7) / (1 + 1/7) = 0.25; the others 0
    assert m.per_class["happy"]["f1"] == pytest.approx(0.25)
    assert m.macro_f1 == pytest.approx(0.25 / 7)
    assert m.weighted_f1 == pytest.approx(0.25 / 7)
    expected = np.zeros((7, 7), int)
    expected[:, HAPPY] = 10
    assert np.array_equal(m.confusion, expected)
    assert m.accuracy_ci[0] < 1 / 7 < m.accuracy_ci[1]


def test_a_known_confusion_matrix_is_recovered_with_its_precision_and_recall():
    matrix = np.diag([9, 8, 7, 6, 5, 4, 3])
    matrix[0, 1] = 1  # one angry face called disgust
    matrix[2, 4] = 3  # three fear faces called sad
    y_true = np.concatenate([[t] * matrix[t, p] for t in range(7) for p in range(7)]).astype(int)
    y_pred = np.concatenate([[p] * matrix[t, p] for t in range(7) for p in range(7)]).astype(int)
    m = classification_metrics(y_true, one_hot(y_pred), n_resamples=200)
    assert np.array_equal(m.confusion, matrix)
    assert m.accuracy == pytest.approx(42 / 46)
    assert m.per_class["fear"]["recall"] == pytest.approx(7 / 10)
    assert m.per_class["sad"]["precision"] == pytest.approx(5 / 8)
    assert m.per_class["disgust"]["precision"] == pytest.approx(8 / 9)
    assert m.confusion_normalized[2][4] == pytest.approx(0.3)


def test_top2_accuracy_counts_the_second_choice():
    y = balanced_labels(2)
    probs = np.full((14, 7), 0.05)
    probs[np.arange(14), (y + 1) % 7] = 0.5  # first choice always wrong
    probs[np.arange(14), y] = 0.3  # the truth is the runner-up
    m = classification_metrics(y, probs, n_resamples=50)
    assert m.accuracy == 0.0 and m.top2_accuracy == 1.0


def calibration_case(confidence, n=100, correct=80):
    """``correct`` of ``n`` items right, every top-label confidence equal to ``confidence``."""
    y = np.arange(n) % 7
    predicted = y.copy()
    predicted[correct:] = (y[correct:] + 1) % 7
    return y, one_hot(predicted, confidence)


def test_a_calibrated_classifier_has_no_calibration_error_and_an_overconfident_one_has():
    # 80% right at 80% confidence is calibrated; 80% right at 99% confidence is 19 points over
    assert expected_calibration_error(*calibration_case(0.8)) == pytest.approx(0.0, abs=1e-6)
    assert expected_calibration_error(*calibration_case(0.99)) == pytest.approx(0.19, abs=1e-5)
    curve = reliability_curve(*calibration_case(0.99))
    assert curve.confidence.tolist() == pytest.approx([0.99]) and curve.accuracy.tolist() == pytest.approx([0.8])
    assert curve.count.tolist() == [100]


def test_bootstrap_intervals_are_repeatable_contain_the_estimate_and_narrow_with_more_items():
    rng = np.random.default_rng(0)

    def noisy(n):
        y = rng.integers(0, 7, n)
        return y, np.where(rng.random(n) < 0.6, y, rng.integers(0, 7, n))

    small, large = noisy(70), noisy(2000)
    low, high = bootstrap_interval(*small, "accuracy", seed=3)
    assert (low, high) == bootstrap_interval(*small, "accuracy", seed=3)
    assert low < np.mean(small[0] == small[1]) < high
    f1_low, f1_high = bootstrap_interval(*large, "macro_f1", seed=3)
    acc_low, acc_high = bootstrap_interval(*large, "accuracy", seed=3)
    assert acc_high - acc_low < high - low
    assert f1_low < classification_metrics(large[0], one_hot(large[1]), n_resamples=50).macro_f1 < f1_high


def test_mcnemar_exact_p_value_matches_the_binomial_by_hand():
    y = np.zeros(40, int)
    a, b = np.zeros(40, int), np.zeros(40, int)
    b[:10] = 1  # only A right on 10 items
    a[10:12] = 1  # only B right on 2 items
    a[30:], b[30:] = 2, 3  # both wrong on 10, both right on 18
    result = mcnemar(y, a, b)
    assert (result.only_a, result.only_b) == (10, 2)
    by_hand = 2 * sum(comb(12, k) for k in (10, 11, 12)) / 2**12  # 158 / 4096
    assert result.p_value == pytest.approx(by_hand)
    assert mcnemar(y, a, a).p_value == 1.0


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(InputError, match="shape"):
        classification_metrics([0, 1], np.ones((2, 5)) / 5)
    with pytest.raises(InputError, match="empty"):
        classification_metrics([], np.zeros((0, 7)))
    with pytest.raises(InputError, match="labels"):
        classification_metrics([0, 9], one_hot([0, 1]))
