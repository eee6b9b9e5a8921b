"""mesh_warp on turned faces: points move as much as they face the camera, and no triangle of the
mesh turns over (what tears a cheek or doubles an eye), while eyes and mouths may still close."""

import numpy as np

from fexlab.plugins.mesh_warp.warp import facing_weights, prevent_folds, skin_triangles, vertex_normals


def _grid_mesh(n=6):
    """A flat n x n grid of points in the z = 0 plane, triangulated, its normals toward +z."""
    ys, xs = np.mgrid[0:n, 0:n].astype(float)
    points = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1)
    triangles = []
    for r in range(n - 1):
        for c in range(n - 1):
            a, b, d, e = r * n + c, r * n + c + 1, (r + 1) * n + c, (r + 1) * n + c + 1
            triangles += [(a, b, e), (a, e, d)]
    return points, np.array(triangles)


def _turn(degrees):
    t = np.radians(degrees)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def test_normals_of_a_sphere_point_outward():
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(0)
    points = rng.standard_normal((200, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    hull = ConvexHull(points)
    triangles = hull.simplices.copy()
    flip = np.einsum("ij,ij->i", np.cross(points[triangles[:, 1]] - points[triangles[:, 0]],
                                          points[triangles[:, 2]] - points[triangles[:, 0]]), points[triangles[:, 0]]) < 0
    triangles[flip] = triangles[flip][:, ::-1]  # every triangle counter-clockwise seen from outside
    normals = vertex_normals(points, triangles)
    assert np.einsum("ij,ij->i", normals, points).min() > 0.95


def test_points_move_as_much_as_they_face_the_camera():
    normals = np.array([[0, 0, 1.0], [1.0, 0, 0], [-1.0, 0, 0], [np.sin(np.radians(60)), 0, np.cos(np.radians(60))]])
    frontal = facing_weights(normals, np.eye(3))
    np.testing.assert_allclose(frontal[:3], [1.0, 0.0, 0.0])  # the face's front moves, its edge-on sides stay
    assert 0 < frontal[3] < 1
    turned = facing_weights(normals, _turn(40))  # the head turned 40 degrees: one side now faces the camera
    np.testing.assert_allclose(turned[:3], [1.0, 0.0, 1.0])
    assert facing_weights(normals, _turn(70))[0] < 0.5  # turned farther, the front is seen at a slant


def test_moves_that_keep_every_triangle_are_kept_exactly():
    points, triangles = _grid_mesh()
    target = points.copy()
    target[14, :2] += [0.3, -0.2]
    np.testing.assert_array_equal(prevent_folds(points, target, triangles), target)


def test_a_move_that_would_turn_triangles_over_is_shrunk_until_none_does():
    points, triangles = _grid_mesh()
    target = points.copy()
    target[14, 0] += 2.5  # past its right-hand neighbours: their triangles turn over
    target[20, 1] -= 0.2  # a small move elsewhere stays
    fixed = prevent_folds(points, target, triangles)

    def areas(p):
        a, b, c = (p[triangles[:, k], :2] for k in range(3))
        return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))

    assert (areas(target) <= 0).any()
    assert (areas(fixed) > 0.05 * areas(points) - 1e-12).all()
    assert 0 < fixed[14, 0] - points[14, 0] < 2.5  # still moves right, less far
    np.testing.assert_array_equal(fixed[20], target[20])


def test_an_opening_may_close_to_nothing():
    points, triangles = _grid_mesh()
    eye = list(range(12, 24))  # rows 2 and 3 of the grid: the band of cells between them is the "eye"
    skin = skin_triangles(triangles, [eye])
    assert len(skin) == len(triangles) - 10
    target = points.copy()
    target[18:24, 1] -= 0.99  # the lower lid comes up to the upper one: the band closes, the skin below stretches
    fixed = prevent_folds(points, target, skin)
    np.testing.assert_array_equal(fixed, target)
    assert not np.array_equal(prevent_folds(points, target, triangles), target)


def test_a_turned_face_moves_its_far_side_less_and_never_folds():
    from fexlab.plugins.face_mesh.bundle import canonical_face
    from fexlab.plugins.mesh_warp.fit import EYES
    from fexlab.plugins.mesh_warp.mouth import INNER_LIPS
    from fexlab.plugins.mesh_warp.warp import hold_turned_face

    canonical = canonical_face()
    normals = vertex_normals(canonical.vertices, canonical.triangles)
    skin = skin_triangles(canonical.triangles, [*EYES, INNER_LIPS])
    turn = _turn(40)
    seen = canonical.vertices @ turn.T * 10  # the face turned 40 degrees, 10 px a centimetre, seen from the front
    source = np.c_[seen[:, 0], -seen[:, 1], -seen[:, 2]]  # image axes: y down, z away
    rng = np.random.default_rng(0)
    target = source + rng.normal(0, 2.0, source.shape)  # an edit as rough as the model's, 2 px
    held = hold_turned_face(source, target, turn, normals, skin)
    moves = np.linalg.norm((held - source)[:, :2], axis=1)
    facing_away = (normals @ turn.T)[:, 2] < 0.1
    assert moves[facing_away].max() == 0.0 and moves[~facing_away].mean() > 0.5

    def areas(points):
        return np.cross(points[skin[:, 1], :2] - points[skin[:, 0], :2], points[skin[:, 2], :2] - points[skin[:, 0], :2])

    before = areas(source)
    slanted = (facing_weights(normals, turn)[skin] < 1.0).any(axis=1)  # the sides, the far cheek
    check = (np.abs(before) > 1e-6 * np.abs(before).max()) & slanted
    assert (areas(target)[check] * np.sign(before[check]) < 0).any()  # the rough edit alone turns triangles over
    assert (areas(held)[check] * np.sign(before[check]) > 0).all()  # held, none seen at a slant turns over


def test_a_closing_eye_keeps_its_eyeball_and_the_lid_comes_down_over_it():
    from fexlab.plugins.mesh_warp.warp import apply_field, closing_openings, edit_field, polygon_area

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
    eye = np.array([[40, 60], [50, 66], [60, 68], [70, 66], [80, 60], [70, 52], [60, 50], [50, 52]], float)
    upper = [5, 6, 7]
    moved = eye.copy()
    moved[upper, 1] += 8  # the upper lid comes down 8 px
    face = np.vstack([eye, [[30, 30], [90, 30], [90, 90], [30, 90]]])  # and four fixed points around the eye
    target = np.vstack([moved, face[8:]])
    keep = closing_openings(face, target, [range(8)])
    assert len(keep) == 1 and polygon_area(keep[0]) < polygon_area(eye)
    assert not closing_openings(target, face, [range(8)])  # an opening eye is not kept
    squeezed = apply_field(image, edit_field(image.shape, face, target, step=1))
    covered = apply_field(image, edit_field(image.shape, face, target, step=1, keep=keep))
    inside = (slice(60, 64), slice(55, 66))  # below the new lid line: the eyeball as it was
    np.testing.assert_array_equal(covered[inside], image[inside])
    assert not np.array_equal(squeezed[inside], image[inside])
    np.testing.assert_array_equal(covered[:20], image[:20])  # far outside the face: untouched
