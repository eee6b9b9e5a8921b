"""The geometry classifier: training on seeded features beats chance, faces without a mesh get the
fallback, the pipeline's analysis is read instead of running the mesh again, the feature rows do
not depend on where the face is, and the tag round-trips through the registry."""

from __future__ import annotations

import numpy as np
import pytest

from fexlab.plugins.face_mesh.region import region_from_face
from fexlab.plugins.geometry import Geometry
from fexlab.plugins.geometry.features import MeshFeatures, from_analysis
from fexlab.plugins.geometry.model import feature_matrix, feature_size
from fexlab.plugins.geometry.train import fit_temperature, train_geometry
from fexlab.registry import Face
from fexlab.registry.emotions import EMOTIONS


def _seeded_features(n, seed):
    """Features where the blendshapes carry the class: class k raises blendshape k, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(EMOTIONS), n)
    features = MeshFeatures.empty(n)
    features.found[:] = True
    features.blendshapes[:] = rng.uniform(0, 0.3, features.blendshapes.shape)
    features.blendshapes[np.arange(n), labels] += 0.5
    features.pose[:] = rng.normal(0, 10, (n, 3))
    features.points[:] = rng.uniform(0, 1, features.points.shape)
    return features, labels


def test_training_on_seeded_features_beats_chance_and_a_missing_mesh_gets_the_fallback(tmp_path, registry):
    train, train_labels = _seeded_features(600, 0)
    held, held_labels = _seeded_features(200, 1)
    model = Geometry.from_config(hidden=16, points=False, no_mesh=[0, 0, 0, 0, 0, 0, 1])
    before = (model.features_probabilities(held).argmax(axis=1) == held_labels).mean()
    soft = np.eye(len(EMOTIONS), dtype=np.float32)[train_labels] * 0.8 + 0.2 / len(EMOTIONS)
    best = train_geometry(model, train, soft, held, held_labels, epochs=40, lr=1e-2, log=lambda line: None)
    after = (model.features_probabilities(held).argmax(axis=1) == held_labels).mean()
    assert before < 0.35 and after > 0.9 and best["accuracy"] == pytest.approx(after)
    assert 0.5 <= fit_temperature(model, held, held_labels) <= 3.0

    held.found[:3] = False
    probs = model.features_probabilities(held)
    assert np.isnan(probs[:3]).all() and np.allclose(probs[3:].sum(axis=1), 1, atol=1e-5)
    assert np.allclose(model.with_fallback(probs)[:3], [0, 0, 0, 0, 0, 0, 1])

    folder = model.save_pretrained(tmp_path / "geo", training_data="seeded features (a test)")
    loaded = registry.classifier(f"geometry:{folder}")
    assert isinstance(loaded, Geometry) and loaded.config.hidden == 16
    np.testing.assert_allclose(loaded.features_probabilities(held)[3:], probs[3:], rtol=1e-5)
    assert loaded.metadata["training_data"] == "seeded features (a test)"


def test_predict_runs_the_mesh_itself_or_reads_the_pipelines_analysis(astronaut_crop, reader, registry):
    model = registry.classifier("geometry")
    blank = np.full((48, 48, 3), 128, np.uint8)
    probs = model.predict([astronaut_crop, blank])
    assert probs.shape == (2, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert EMOTIONS[int(probs[0].argmax())] == "happy"
    np.testing.assert_allclose(probs[1], model.no_mesh_probabilities(), atol=1e-6)
    assert np.isnan(model.predict_or_abstain([blank])).all()

    class NoMesh:
        def read(self, crops):
            raise AssertionError("the mesh ran although the pipeline gave its analysis")

    box = Face((0, 0, astronaut_crop.shape[1], astronaut_crop.shape[0]), 1.0, None)
    analysis = reader.mesh.analyze_region(astronaut_crop, region_from_face(box))
    own = Geometry(model.config, reader=NoMesh())
    own.module.load_state_dict(model.module.state_dict())
    from_pipeline = own.predict_analysed([astronaut_crop], [analysis])
    assert EMOTIONS[int(from_pipeline[0].argmax())] == "happy"
    assert from_analysis([analysis]).found.all() and not from_analysis([{"presence": 0.1}]).found.any()


def test_feature_rows_ignore_where_the_face_is_its_size_and_its_tilt_in_the_image():
    from fexlab.plugins.geometry.model import _LEFT, _RIGHT

    features, _ = _seeded_features(3, 2)
    points = np.random.default_rng(3).uniform(0.2, 0.8, features.points.shape)
    points[:, _RIGHT], points[:, _LEFT] = (0.3, 0.4), (0.7, 0.4)  # the outer eye corners
    features.points[:] = points
    angle = np.deg2rad(20)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = features.take([0, 1, 2])
    moved.points = ((points - 0.5) @ turn.T * 0.6 + 0.45).astype(np.float16)  # turned, smaller, shifted
    a, b = feature_matrix(features), feature_matrix(moved)
    assert a.shape == (3, feature_size(True)) and np.allclose(a, b, atol=1e-2)
    features.found[1] = False
    assert not feature_matrix(features)[1].any()


def test_the_pipeline_gives_the_face_meshs_analysis_so_the_mesh_is_not_run_twice(astronaut_path, registry):
    from fexlab.pipeline.predict import Predictor

    class NoMesh:
        def read(self, crops):
            raise AssertionError("the geometry classifier ran the mesh although the pipeline had")

    model = registry.classifier("geometry")
    given = Geometry(model.config, reader=NoMesh())
    given.module.load_state_dict(model.module.state_dict())
    predictor = Predictor({"geometry": given}, registry.detector("yunet"), analyzers=[registry.analyzer("face_mesh")])
    [face] = predictor.predict_image(astronaut_path).faces
    assert face.emotion == "happy" and "blendshapes" in face.analysis
    alone = Predictor({"geometry": model}, registry.detector("yunet")).predict_image(astronaut_path).faces[0]
    assert alone.emotion == "happy" and not alone.analysis


def test_the_shipped_tags_load_through_the_registry_and_fuse_with_appearance(astronaut_crop, registry):
    assert registry.info("classifier", "geometry").status == "ready"
    geometry = registry.classifier("geometry.ferplus")
    assert geometry.config.no_mesh and geometry.metadata["training_data"].startswith("FER2013 training faces")
    fused = registry.classifier("ensemble.geometry")
    assert list(fused.members) == ["efficientnet.ferplus_muxspace", "geometry.ferplus"]
    blank = np.full((80, 80, 3), 128, np.uint8)
    probs = fused.predict([astronaut_crop, blank])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and EMOTIONS[int(probs[0].argmax())] == "happy"
    appearance = fused.members["efficientnet.ferplus_muxspace"].predict([astronaut_crop, blank])
    np.testing.assert_allclose(probs[1], appearance[1], rtol=1e-4, atol=1e-6)  # no mesh: appearance alone
    w = fused.member_weights
    expected = w[0] * appearance[0] + w[1] * geometry.predict([astronaut_crop])[0]
    np.testing.assert_allclose(probs[0], expected, rtol=1e-4, atol=1e-6)


def test_with_flip_the_analysis_is_not_read_and_the_mirror_is_averaged(astronaut_crop, registry, reader):
    flipped = registry.classifier("geometry.ferplus+flip")
    plain = registry.classifier("geometry.ferplus")
    mirror = np.ascontiguousarray(astronaut_crop[:, ::-1])
    expected = (plain.predict([astronaut_crop]) + plain.predict([mirror])) / 2
    np.testing.assert_allclose(flipped.predict_analysed([astronaut_crop], [None]), expected, rtol=1e-5, atol=1e-6)


def test_the_fusion_in_the_pipeline_reads_appearance_alone_where_the_mesh_finds_no_face(astronaut_crop, registry):
    fused = registry.classifier("ensemble.geometry")
    blank = np.full((80, 80, 3), 128, np.uint8)
    appearance = fused.members["efficientnet.ferplus_muxspace"].predict([blank])
    # the pipeline without an analyzer passes no analysis: the geometry member runs its own mesh and abstains
    np.testing.assert_allclose(fused.predict_analysed([blank], [{}]), appearance, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fused.predict_analysed([astronaut_crop, blank], [{}, {}]),
                               fused.predict([astronaut_crop, blank]), rtol=1e-4, atol=1e-6)
