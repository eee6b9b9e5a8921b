import numpy as np
import pytest

from fexlab.registry.emotions import (
    AFFECTNET_LABELS,
    EMOTIONS,
    RAFDB_LABELS,
    LabelMapping,
    canonical_emotion,
    emotion_index,
    parse_emotions,
)


def test_canonical_order_is_fer2013():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.mark.parametrize(
    "label, expected",
    [("Happiness", "happy"), ("anger", "angry"), ("Surprised", "surprise"), ("afraid", "fear"),
     ("disgusted", "disgust"), (" SADNESS ", "sad"), ("contempt", None), ("banana", None)],
)
def test_aliases(label, expected):
    assert canonical_emotion(label) == expected


def test_unknown_emotion_lists_choices_and_suggests():
    with pytest.raises(ValueError, match="choose from angry.*Did you mean 'happy'"):
        emotion_index("hapy")


def test_parse_emotions_all_and_aliases():
    assert parse_emotions("all") == list(EMOTIONS)
    assert parse_emotions(["happiness", "afraid"]) == ["happy", "fear"]


def test_rafdb_order_is_realigned():
    mapping = LabelMapping(RAFDB_LABELS)
    probs = np.eye(7, dtype=np.float32)  # row i: all mass on RAF-DB label i
    out = mapping.to_canonical(probs)
    for i, label in enumerate(RAFDB_LABELS):
        assert EMOTIONS[int(out[i].argmax())] == label
    np.testing.assert_allclose(out.sum(1), 1.0)


def test_affectnet_contempt_is_dropped_and_rest_renormalised():
    mapping = LabelMapping(AFFECTNET_LABELS)
    assert mapping.dropped == ["contempt"]
    probs = np.array([[0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5]], dtype=np.float32)
    out = mapping.to_canonical(probs)[0]
    assert out.sum() == pytest.approx(1.0)
    assert out[EMOTIONS.index("happy")] == pytest.approx(0.4)
    assert out[EMOTIONS.index("angry")] == pytest.approx(0.4)
    assert out[EMOTIONS.index("neutral")] == pytest.approx(0.2)


def test_id2label_with_string_keys_and_missing_emotions():
    mapping = LabelMapping.from_id2label({"1": "sad", "0": "happy"})
    assert mapping.source_labels == ("happy", "sad")
    assert set(mapping.missing) == set(EMOTIONS) - {"happy", "sad"}
    out = mapping.to_canonical(np.array([[0.25, 0.75]]))
    assert out[0, EMOTIONS.index("sad")] == pytest.approx(0.75)
    assert mapping.to_source_targets(np.array([3, 4, 0])).tolist() == [0, 1, -1]


def test_two_labels_onto_one_emotion_is_refused():
    with pytest.raises(ValueError, match="map two labels"):
        LabelMapping(["happy", "happiness"])


def test_nothing_mappable_is_refused():
    with pytest.raises(ValueError, match="none of the labels"):
        LabelMapping(["cat", "dog"])


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match=r"shape \(N, 7\)"):
        LabelMapping(RAFDB_LABELS).to_canonical(np.zeros((2, 8)))
