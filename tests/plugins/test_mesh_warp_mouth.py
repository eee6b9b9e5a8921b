"""The mesh_warp editor's mouths from real mouths: the canonical mouth frame, the bank's appearance
model (build, retrieval, reconstruction, save and load), the colour match and the blend, on tiny
seeded synthetic mouths (no real data)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fexlab.plugins.mesh_warp.mouth import INNER_LIPS, blend_mouth, load_bank, match_colour, opening, paint_mouth
from fexlab.plugins.mesh_warp.mouth_bank import (
    FILE,
    INNER,
    MASK,
    OPENING,
    OUTER,
    TEXTURE,
    MouthBank,
    canonical_points,
    descriptor,
    facing_triangles,
    fit_bank,
    mouth_points,
    to_canonical,
)
from fexlab.registry import CheckpointError


def synthetic_mesh(scale: float = 2.0, offset=(40.0, 50.0), open_by: float = 1.0, smile: float = 0.0) -> np.ndarray:
    """A (478, 3) mesh whose mouth is the canonical frame's mouth scaled ``scale`` times and moved
    by ``offset`` (the lips ``open_by`` times as far apart, the corners raised by ``smile`` pixels)."""
    points = canonical_points()
    inner, ring = points[:20].copy(), points[20:40].copy()
    centre = TEXTURE[0] / 2.0
    inner[:, 1] = centre + (inner[:, 1] - centre) * open_by
    ring[:, 1] = centre + (ring[:, 1] - centre) * max(open_by, 0.2)
    inner[[0, 10], 1] -= smile
    ring[[0, 10], 1] -= smile
    mesh = np.zeros((478, 3))
    mesh[list(INNER), :2] = inner * scale + offset
    mesh[list(OUTER), :2] = (inner + 2.0 * (ring - inner)) * scale + offset
    mesh[33, :2] = np.array([0.0, -20.0]) * scale + offset
    mesh[263, :2] = np.array([64.0, -20.0]) * scale + offset
    return mesh


def synthetic_texture(seed: int) -> np.ndarray:
    """A canonical "mouth": lips, a dark inside, a band of teeth whose brightness the seed sets."""
    rng = np.random.default_rng(seed)
    texture = np.zeros((*TEXTURE, 3), np.float32)
    texture[MASK] = [170.0, 90.0, 90.0]
    texture[OPENING] = [40.0, 20.0, 20.0]
    teeth = OPENING & (np.arange(TEXTURE[0])[:, None] < 14)
    texture[teeth] = 150.0 + 80.0 * rng.uniform()
    return texture + rng.normal(0.0, 2.0, texture.shape).astype(np.float32) * MASK[..., None]


@pytest.fixture(scope="module")
def tiny_bank() -> MouthBank:
    textures = np.stack([synthetic_texture(k) for k in range(8)])
    shapes = np.stack([descriptor(synthetic_mesh(open_by=0.5 + 0.15 * k, smile=k % 3)) for k in range(8)])
    return fit_bank(textures, shapes, np.arange(8) % 2 == 0, components=6)


def test_the_canonical_frame_puts_a_feature_where_it_belongs():
    mesh = synthetic_mesh()
    image = np.full((160, 200, 3), 100, np.uint8)
    feature = np.array([40.0, 12.0])  # in the texture: right of centre, under the upper lip
    x, y = np.round(feature * 2.0 + [40.0, 50.0]).astype(int)
    image[y - 1:y + 2, x - 1:x + 2] = 255
    texture = to_canonical(image, mesh)
    assert texture.shape == (*TEXTURE, 3)
    ys, xs = np.nonzero(texture[..., 0] > 180)
    assert abs(xs.mean() - feature[0]) < 1.0 and abs(ys.mean() - feature[1]) < 1.0
    assert np.all(texture[~MASK] == 0.0) and np.median(texture[MASK]) == 100.0
    assert np.allclose(mouth_points(mesh)[:20], canonical_points()[:20] * 2.0 + [40.0, 50.0])


def test_the_descriptor_reads_opening_gap_smile_and_width():
    closed, wide = descriptor(synthetic_mesh(open_by=0.3)), descriptor(synthetic_mesh(open_by=1.5))
    assert wide[0] > closed[0] and wide[1] > closed[1] > 0
    assert descriptor(synthetic_mesh(smile=3.0))[2] > descriptor(synthetic_mesh())[2] + 0.05
    assert np.allclose(descriptor(synthetic_mesh(scale=3.0)), descriptor(synthetic_mesh(scale=1.0)))
    turned = synthetic_mesh()
    angle = np.deg2rad(20)
    turned[:, :2] = turned[:, :2] @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert np.allclose(descriptor(turned), descriptor(synthetic_mesh()))


def test_the_bank_retrieves_the_nearest_shape_and_reconstructs_its_mouth(tiny_bank):
    assert len(tiny_bank) == 8 and tiny_bank.components.shape == (6, TEXTURE[0] * TEXTURE[1] * 3)
    for k in range(8):
        assert tiny_bank.nearest(tiny_bank.descriptors[k] + 0.01 * tiny_bank.scale) == k
    between = 0.4 * tiny_bank.descriptors[0] + 0.6 * tiny_bank.descriptors[1]  # nearer the gray mouth 1
    assert tiny_bank.nearest(between) == 1 and tiny_bank.nearest(between, colour=True) == 0  # a colour face: colour
    for k in (0, 5):
        original = synthetic_texture(k)
        assert np.abs(tiny_bank.texture(k) - original)[MASK].mean() < 3.0  # about the noise
        assert np.abs(tiny_bank.texture(k) - original)[MASK].mean() < np.abs(tiny_bank.texture(k + 1) - original)[
            MASK].mean()


def test_save_and_load_round_trip_and_a_missing_or_damaged_bank(tiny_bank, tmp_path):
    path = tiny_bank.save(tmp_path)
    assert path.name == FILE
    loaded = MouthBank.load(tmp_path)
    assert np.array_equal(loaded.colour, tiny_bank.colour)
    assert np.allclose(loaded.descriptors, tiny_bank.descriptors, rtol=1e-3, atol=1e-3)
    assert np.abs(loaded.texture(3) - tiny_bank.texture(3)).max() < 1.5  # fp16
    assert all(loaded.nearest(d) == k for k, d in enumerate(tiny_bank.descriptors))
    assert load_bank(tmp_path) is not None and len(load_bank(tmp_path)) == 8
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="mouth_bank.safetensors.*python -m fexlab.plugins.mesh_warp.mouth_bank"):
        MouthBank.load(empty)
    shipped = load_bank(empty)  # the documented fallback: the bank shipped with the package
    assert shipped is None or len(shipped) > 8
    (empty / FILE).write_bytes(b"not a bank")
    with pytest.raises(CheckpointError, match="not a readable mouth bank"):
        MouthBank.load(empty)


def _inner_mask(mesh: np.ndarray, shape) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(mesh[list(INNER_LIPS), :2]).astype(np.int32)], 1)
    return mask.astype(bool)


@pytest.mark.parametrize("poisson", [True, False])
def test_the_blend_puts_the_mouth_inside_the_lips_and_nothing_outside(poisson):
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(150, 4, (160, 200, 3)), 0, 255).astype(np.uint8)
    mesh = synthetic_mesh(open_by=1.2)
    texture = synthetic_texture(1)
    out = blend_mouth(image, texture, mesh, poisson=poisson)
    inside = cv2.erode(_inner_mask(mesh, image.shape).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    luma = out.astype(float).mean(axis=2)
    assert luma[inside].min() < 90 and luma[inside].max() > 140  # its dark inside and its teeth
    ring = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(ring, [np.round(mouth_points(mesh)[20:40]).astype(np.int32)], 1)
    near = cv2.dilate(ring, np.ones((7, 7), np.uint8)).astype(bool)
    assert np.array_equal(out[~near], image[~near])
    assert blend_mouth(image, texture, mesh, amount=0.0).tobytes() == image.tobytes()


def test_colour_matching_takes_the_faces_light_and_gray_photos_get_gray_mouths(tiny_bank):
    texture = tiny_bank.texture(0)
    dim = match_colour(texture, np.full((50, 3), [80.0, 45.0, 45.0]))
    assert dim[MASK].mean() < texture[MASK].mean() - 20  # darker lips, a darker mouth
    gray = match_colour(texture, np.full((50, 3), 120.0), gray=True)
    assert np.allclose(gray[..., 0], gray[..., 1]) and np.allclose(gray[..., 1], gray[..., 2])

    image = np.full((160, 200, 3), 140, np.uint8)
    source, target = synthetic_mesh(open_by=0.05), synthetic_mesh(open_by=1.3)
    image[_inner_mask(synthetic_mesh(open_by=1.0), image.shape)] = 110  # gray lips
    painted = paint_mouth(image, source, target, bank=tiny_bank)
    assert not np.array_equal(painted, image)
    assert np.array_equal(painted[..., 0], painted[..., 1]) and np.array_equal(painted[..., 1], painted[..., 2])


def test_an_opening_mouth_gets_a_bank_mouth_and_nothing_else_changes(tiny_bank):
    image = np.full((160, 200, 3), [200, 150, 130], np.uint8)
    source, target = synthetic_mesh(open_by=0.05), synthetic_mesh(open_by=1.3)
    assert opening(target) > opening(source) + 0.1
    painted = paint_mouth(image, source, target, bank=tiny_bank)
    inside = cv2.erode(_inner_mask(target, image.shape).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert painted[inside].astype(float).mean(axis=1).min() < 100
    near = cv2.dilate(_inner_mask(target, image.shape).astype(np.uint8), np.ones((31, 31), np.uint8))
    assert np.array_equal(painted[~near.astype(bool)], image[~near.astype(bool)])
    assert paint_mouth(image, target, source, bank=tiny_bank) is image  # closing a mouth puts nothing in
    assert paint_mouth(image, source, source, bank=tiny_bank) is image  # a zero edit touches no pixel
    # a mouth already open keeps its own teeth while it opens a little more
    assert paint_mouth(image, synthetic_mesh(open_by=1.0), synthetic_mesh(open_by=1.1), bank=tiny_bank) is image


def test_triangles_turned_over_by_a_turned_face_are_seen_from_behind():
    points = mouth_points(synthetic_mesh())
    assert facing_triangles(points).all()
    mirrored = points * [-1.0, 1.0]  # the mouth seen from behind
    assert not facing_triangles(mirrored).any()
    folded = points.copy()
    folded[20:40] = np.where(points[20:40, :1] > points[:20, :1].mean(), points[:20] + (points[:20] - points[20:40]),
                             points[20:40])  # the far half of the lips' ring pushed inside the inner contour
    assert 0 < facing_triangles(folded).sum() < len(facing_triangles(folded))


@pytest.mark.parametrize("poisson", [True, False])
def test_a_mouth_seen_from_behind_gets_no_bank_mouth(poisson):
    image = np.full((160, 200, 3), 150, np.uint8)
    mesh = synthetic_mesh(open_by=1.2)
    mesh[:, 0] = 200.0 - mesh[:, 0]  # mirrored: every triangle of the mouth turned over
    assert blend_mouth(image, synthetic_texture(1), mesh, poisson=poisson).tobytes() == image.tobytes()


@pytest.mark.parametrize("scale", [0.4, 2.0])
def test_the_edge_of_a_mouth_reads_no_black_from_outside_the_texture(scale):
    """Near its edge the warp samples (and a small mouth's smoothing reads) texels just outside the
    canonical mask, which are black: a plain mouth must come out plain, with no dark dots."""
    image = np.full((160, 200, 3), 150, np.uint8)
    texture = np.repeat(np.where(MASK[..., None], 150.0, 0.0), 3, axis=2).astype(np.float32)
    out = blend_mouth(image, texture, synthetic_mesh(scale=scale, open_by=1.2), poisson=False)
    assert np.abs(out.astype(int) - 150).max() <= 2
