"""mesh_warp and glasses: frames found in the photo along lines the mesh lays out, traced, and
held still (with what lies within them) while the rest of the face moves."""

import cv2
import numpy as np

from fexlab.plugins.mesh_warp.glasses import LEFT_EYE, RIGHT_EYE, find_glasses, frame_points, hold_frames


def _face(glasses: bool) -> tuple[np.ndarray, np.ndarray]:
    """A 200 px gray "face" with its (478, 3) mesh: two eyes, a nose tip, other points spread on the
    face; with ``glasses`` two dark rectangular frames and a bridge, drawn 2 px thick."""
    rng = np.random.default_rng(0)
    image = np.full((200, 200, 3), 170, np.uint8)
    image += rng.integers(0, 6, image.shape, dtype=np.uint8)  # skin is not flat
    mesh = np.zeros((478, 3))
    mesh[:, :2] = rng.uniform([40, 40], [160, 170], (478, 2))
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for eye, x in ((RIGHT_EYE, 65.0), (LEFT_EYE, 135.0)):
        ring = np.stack([x + 15 * np.cos(angles), 80 + 6 * np.sin(angles)], axis=1)
        ring[0], ring[8] = [x - 15 if eye is RIGHT_EYE else x + 15, 80], [x + 15 if eye is RIGHT_EYE else x - 15, 80]
        mesh[list(eye), :2] = ring
        cv2.ellipse(image, (int(x), 80), (15, 6), 0, 0, 360, (60, 60, 60), -1)
    mesh[1, :2] = [100, 120]  # the nose tip
    if glasses:
        for x in (65, 135):
            cv2.rectangle(image, (x - 28, 62), (x + 28, 104), (30, 30, 30), 2)
        cv2.line(image, (93, 84), (107, 84), (30, 30, 30), 2)
    return image, mesh


def test_frames_are_found_where_they_are_and_not_on_a_bare_face():
    bare, mesh = _face(False)
    assert find_glasses(bare, mesh) is None
    worn, mesh = _face(True)
    glasses = find_glasses(worn, mesh)
    assert glasses is not None and glasses.score > 3 * find_glasses(bare, mesh, threshold=0).score
    np.testing.assert_allclose(glasses.centres, [[65, 80], [135, 80]], atol=1.0)


def test_the_traced_frames_enclose_each_eye_and_hold_what_is_within():
    image, mesh = _face(True)
    frames = frame_points(image, find_glasses(image, mesh))
    count = (len(frames) - 3) // 4
    for eye, outline in ((RIGHT_EYE, frames[:count]), (LEFT_EYE, frames[2 * count : 3 * count])):
        inside = [cv2.pointPolygonTest(outline.astype(np.float32), (float(x), float(y)), False) > 0
                  for x, y in mesh[list(eye), :2]]
        assert all(inside)
        assert np.abs(outline[:, 1] - 80).max() < 40  # near the frame, not far off on the face
    target = mesh.copy()
    target[:, 1] -= 3.0  # everything moves up 3 px (brows, eyes, mouth)
    held = hold_frames(mesh, target, frames)
    np.testing.assert_array_equal(held[list(RIGHT_EYE)], mesh[list(RIGHT_EYE)])  # within the frames: still
    far = np.flatnonzero(mesh[:, 1] > 150)  # the chin, far below the frames: moves as asked
    np.testing.assert_array_equal(held[far], target[far])
