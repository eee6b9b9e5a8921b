"""The warp of a photo from one face mesh to another, at the photo's own resolution.

Piecewise affine: the mesh's points where the face is now (``source``) and where they go
(``target``), plus a ring of fixed points around the face, are triangulated where they go
(Delaunay); every pixel of a target triangle is read from the same barycentric place of its source
triangle. The displacement so falls linearly to zero from the face's edge to the ring, and every
pixel outside the ring keeps its bytes. The map is computed on a coarse grid (``step`` pixels)
and resized to the pixels (it is linear inside each triangle, so little is lost); OpenCV's
``remap`` then reads the photo once.

The same triangulation carries MediaPipe's texture coordinates onto the target face, which is how
a shading change fitted on the texture square (:mod:`.model`) lands on the photo.

Turned faces: a point of the mesh moves as much as it faces the camera (:func:`facing_weights`,
from the canonical face's normals turned by the head's pose), so the far side of a turned face,
seen edge-on, moves less and its silhouette against the background holds; and no triangle of the
mesh seen at a slant may turn over or collapse (:func:`prevent_folds`), which is what tears a
cheek, smears skin onto the background or doubles an eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Field", "apply_field", "closing_openings", "edit_field", "facing_weights", "hold_turned_face",
           "polygon_area", "prevent_folds", "ring_points", "skin_triangles", "vertex_normals"]

#: The fixed ring around the face: its convex hull enlarged this many times about its centre.
RING = 1.35
#: Points on the ring.
RING_POINTS = 64
#: The largest change of log luminance applied (a factor of about 1.4 either way).
MAX_SHADE = 0.35
#: A point seen at a grazing angle (the cosine between its normal and the view below ``FACING[0]``)
#: stays where it is, one that faces the camera within ``FACING[1]`` moves fully; smooth between.
FACING = (0.15, 0.6)
#: A triangle of the mesh may shrink to this share of its area (a closing eyelid's do), never turn over.
MIN_AREA_RATIO = 0.05


@dataclass
class Field:
    """What an edit does inside ``box`` (x0, y0, x1, y1) of the photo: where each pixel is read
    from (``map_x``, ``map_y``, absolute pixels), the change of log luminance (``shade``, or None),
    and the pixels the edit may touch (``inside``, bool)."""

    box: tuple[int, int, int, int]
    map_x: np.ndarray
    map_y: np.ndarray
    shade: np.ndarray | None
    inside: np.ndarray


def ring_points(points: np.ndarray, scale: float = RING, count: int = RING_POINTS) -> np.ndarray:
    """(count, 2) points evenly along the convex hull of ``points`` enlarged ``scale`` times about its centre."""
    import cv2

    hull = cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2).astype(np.float64)
    centre = hull.mean(axis=0)
    hull = centre + scale * (hull - centre)
    closed = np.vstack([hull, hull[:1]])
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    at = np.linspace(0.0, lengths[-1], count, endpoint=False)
    return np.stack([np.interp(at, lengths, closed[:, 0]), np.interp(at, lengths, closed[:, 1])], axis=1)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals of a triangle mesh's vertices, each the area-weighted mean of its triangles'."""
    vertices = np.asarray(vertices, np.float64)
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    faces = np.cross(b - a, c - a)  # length: twice the area
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, triangles[:, k], faces)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(length > 0, length, 1.0)


def facing_weights(normals: np.ndarray, rotation: np.ndarray, facing: tuple[float, float] = FACING) -> np.ndarray:
    """(N,) how much each point may move, in [0, 1]: its canonical ``normals`` turned by the head's
    ``rotation`` (canonical axes: z toward the camera), then how squarely it faces the camera,
    smoothstepped from ``facing[0]`` (edge-on: 0) to ``facing[1]`` (1)."""
    toward = (np.asarray(normals, np.float64) @ np.asarray(rotation, np.float64).T)[:, 2]
    low, high = facing
    t = np.clip((toward - low) / (high - low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def skin_triangles(triangles: np.ndarray, openings: Sequence[Sequence[int]]) -> np.ndarray:
    """``triangles`` without those spanning an opening (all three points on one eye's or the
    mouth's contour): those may close to nothing, as a blink or a closing mouth closes them."""
    spans = np.zeros(len(triangles), bool)
    for contour in openings:
        spans |= np.isin(triangles, np.asarray(contour)).all(axis=1)
    return np.asarray(triangles)[~spans]


def polygon_area(points: np.ndarray) -> float:
    """The area of the polygon through ``points`` ((M, 2+), in order; shoelace)."""
    x, y = np.asarray(points, np.float64)[:, 0], np.asarray(points, np.float64)[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def closing_openings(source: np.ndarray, target: np.ndarray, contours: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """The target polygons of the ``contours`` (each an eye's, in order around it) that the edit
    makes smaller than they were: the openings a lid closes over (``edit_field``'s ``keep``)."""
    out = []
    for contour in contours:
        index = list(contour)
        if polygon_area(target[index]) < polygon_area(source[index]):
            out.append(np.asarray(target, np.float64)[index, :2])
    return out


def hold_turned_face(source: np.ndarray, target: np.ndarray, rotation: np.ndarray, normals: np.ndarray,
                     skin: np.ndarray) -> np.ndarray:
    """``target`` ((N, 2+) image points, where the edit moves the mesh ``source``) with each point's
    move scaled by how squarely it faces the camera (:func:`facing_weights` of the canonical
    ``normals`` under the head's ``rotation``; points past ``normals`` - the irises - take their
    nearest mesh point's), then kept from folding the ``skin`` triangles seen at a slant
    (:func:`prevent_folds`; those facing the camera, at the lips' corners, may fold a little as a
    smile goes, as the warp always let them)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    weights = np.ones(len(source))
    weights[: len(normals)] = facing_weights(normals, rotation)
    if len(source) > len(normals):
        extra = source[len(normals):, None, :2] - source[None, : len(normals), :2]
        weights[len(normals):] = weights[np.linalg.norm(extra, axis=2).argmin(axis=1)]
    moved = source + (target - source) * weights[:, None]
    slanted = skin[(weights[skin] < 1.0).any(axis=1)]  # where the face is seen at a slant: its sides, a turned face
    moved[:, :2] = prevent_folds(source[:, :2], moved[:, :2], slanted)
    return moved


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = (points[triangles[:, k], :2] for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def prevent_folds(source: np.ndarray, target: np.ndarray, triangles: np.ndarray, *,
                  min_ratio: float = MIN_AREA_RATIO, rounds: int = 12) -> np.ndarray:
    """``target`` ((N, 2+) image points) with the moves of the points of every triangle that would
    turn over or shrink below ``min_ratio`` of its area in ``source`` halved, round after round,
    until none does (after ``rounds`` halvings such a triangle's points stay where they were).
    Triangles already degenerate in ``source`` (edge-on) are left out of the test; the points of
    triangles that never fail keep their moves exactly."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64).copy()
    before = _signed_areas(source, triangles)
    scale = np.abs(before).max() if len(before) else 0.0
    check = np.abs(before) > 1e-6 * max(scale, 1e-12)
    move = target - source
    for round_ in range(rounds + len(source)):  # each round past ``rounds`` stops at least one more point
        after = _signed_areas(source + move, triangles)
        bad = check & (after * np.sign(before) < min_ratio * np.abs(before))
        if not bad.any():
            break
        points = np.unique(triangles[bad])
        move[points] *= 0.5 if round_ < rounds else 0.0
    return source + move


def _grid(box: tuple[int, int, int, int], step: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The centres of the ``step`` x ``step`` blocks covering ``box``, as (N, 2) points, and the grid's shape."""
    x0, y0, x1, y1 = box
    cols, rows = -(-(x1 - x0) // step), -(-(y1 - y0) // step)
    xs = x0 + (np.arange(cols) + 0.5) * step - 0.5
    ys = y0 + (np.arange(rows) + 0.5) * step - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), gx, (rows, cols)


def _barycentric(triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) barycentric weights of ``points`` (N, 2) in ``triangles`` (N, 3, 2), computed for
    these triangles only (SciPy's ``Delaunay.transform`` inverts every triangle of the mesh)."""
    a = triangles[:, 0]
    v0, v1, v2 = triangles[:, 1] - a, triangles[:, 2] - a, points - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    denominator = d00 * d11 - d01 * d01
    denominator = np.where(np.abs(denominator) < 1e-12, 1e-12, denominator)
    second = (d11 * d20 - d01 * d21) / denominator
    third = (d00 * d21 - d01 * d20) / denominator
    return np.stack([1.0 - second - third, second, third], axis=1)


def _upsample(coarse: np.ndarray, box: tuple[int, int, int, int], step: int) -> np.ndarray:
    import cv2

    x0, y0, x1, y1 = box
    rows, cols = coarse.shape[:2]
    full = cv2.resize(coarse.astype(np.float32), (cols * step, rows * step), interpolation=cv2.INTER_LINEAR)
    return full[: y1 - y0, : x1 - x0]


def edit_field(shape: tuple[int, ...], source: np.ndarray, target: np.ndarray, *, uv: np.ndarray | None = None,
               shade: np.ndarray | None = None, step: int = 4, coarse_points: int = 100,
               keep: Sequence[np.ndarray] = (), anchors: np.ndarray | None = None) -> Field:
    """The :class:`Field` moving the mesh's points ``source`` ((N, 2) image pixels) to ``target``
    in an image of ``shape``; with ``uv`` (texture coordinates in [0, 1] of the first ``len(uv)``
    points) and ``shade`` (a square of log-luminance changes on them), also the shading change
    at each pixel of the target face (0 outside the mesh). The map is computed every ``step``
    pixels, or coarser so that at most ``coarse_points`` lie along a side of the face's ring.

    Inside each polygon of ``keep`` ((M, 2) image pixels, where the points go) every pixel is
    read from where it is: a closing eye's opening, so the eyeball stays as it was and the lid,
    stretched down from above, covers it as a lid does, instead of the eye squeezing into a slit.
    ``anchors`` ((K, 2) image pixels) stay where they are, as the ring does: glasses' frames."""
    import cv2
    from scipy.spatial import Delaunay

    source, target = np.asarray(source, np.float64)[:, :2], np.asarray(target, np.float64)[:, :2]
    if anchors is not None and len(anchors):  # fixed points: where they are is where they go
        fixed = np.asarray(anchors, np.float64)[:, :2]
        source, target = np.vstack([source, fixed]), np.vstack([target, fixed])
    height, width = int(shape[0]), int(shape[1])
    ring = ring_points(np.vstack([source, target]))
    x0, y0 = (int(np.floor(v)) for v in ring.min(axis=0))
    x1, y1 = (int(np.ceil(v)) + 1 for v in ring.max(axis=0))
    box = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError("the face lies outside the image")
    side = max(box[2] - box[0], box[3] - box[1])
    step = max(1, int(step), -(-side // int(coarse_points)))
    step = min(step, max(1, min(box[2] - box[0], box[3] - box[1]) // 8))
    query, _, grid = _grid(box, step)

    # one triangulation, where the points go: each grid point's triangle and barycentric weights
    points = np.vstack([target, ring])
    triangles = Delaunay(points)
    simplex = triangles.find_simplex(query)
    found = simplex >= 0
    corners = triangles.simplices[simplex[found]]
    weights = _barycentric(points[corners], query[found])

    def interpolate(values: np.ndarray, outside: float) -> np.ndarray:
        out = np.full((len(query), values.shape[1]), outside, np.float64)
        out[found] = np.einsum("nk,nkc->nc", weights, values[corners])
        return out.reshape(*grid, values.shape[1])

    delta = interpolate(np.vstack([source - target, np.zeros_like(ring)]), 0.0)
    dx, dy = _upsample(delta[..., 0], box, step), _upsample(delta[..., 1], box, step)
    ys, xs = np.mgrid[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    inside = np.zeros((box[3] - box[1], box[2] - box[0]), np.uint8)
    cv2.fillConvexPoly(inside, np.round(ring - [box[0], box[1]]).astype(np.int32), 1)
    shading = None
    if uv is not None and shade is not None:
        size = shade.shape[0]
        texels = np.full((len(target) + len(ring), 2), np.nan)
        texels[: len(uv)] = np.asarray(uv, np.float64) * size - 0.5  # anchors, past the mesh, have none
        coords = interpolate(texels, np.nan)  # NaN wherever a triangle reaches past the mesh's textured points
        valid = np.isfinite(coords).all(axis=2)
        coords = np.where(valid[..., None], coords, -10.0).astype(np.float32)
        coarse = cv2.remap(shade.astype(np.float32), coords[..., 0], coords[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        shading = _upsample(np.where(valid, coarse, 0.0), box, step)
    map_x, map_y = xs + dx, ys + dy
    if len(keep):
        still = np.zeros_like(inside)
        cv2.fillPoly(still, [np.round(np.asarray(p, np.float64)[:, :2] - [box[0], box[1]]).astype(np.int32)
                             for p in keep], 1)
        map_x, map_y = np.where(still > 0, xs, map_x), np.where(still > 0, ys, map_y)
    return Field(box, map_x, map_y, shading, inside.astype(bool))


def apply_field(image: np.ndarray, field: Field) -> np.ndarray:
    """``image`` (H x W x 3 uint8) edited by ``field``: warped inside its ring (read once, bilinear),
    its luminance times ``exp(shade)``; every pixel outside the ring keeps its bytes."""
    import cv2

    x0, y0, x1, y1 = field.box
    warped = cv2.remap(image, field.map_x, field.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if field.shade is not None:
        ratio = np.exp(np.clip(field.shade, -MAX_SHADE, MAX_SHADE)).astype(np.float32)
        warped = cv2.multiply(warped, cv2.merge([ratio, ratio, ratio]), dtype=cv2.CV_8U)
    out = image.copy()
    np.copyto(out[y0:y1, x0:x1], warped, where=field.inside[..., None])
    return out
