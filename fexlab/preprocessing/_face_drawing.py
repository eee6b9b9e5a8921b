"""Geometry and drawing of the synthetic faces: action-unit intensities in, RGB images out.

Private machinery of :mod:`fexlab.preprocessing.synthetic`. Every shape is computed for the whole batch
at once with numpy, in "face space" (the face's half-width is 1, x to the image's right, y down),
then projected (yaw and pitch turn points by their depth on the head, roll / scale / shift move
the whole head) into fixed-point pixel coordinates; OpenCV then fills the polygons of one face
after another with anti-aliasing. Lighting, blur and noise are applied to the batch afterwards.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AU_INDEX", "IDENTITY_RANGES", "NUISANCE_RANGES", "draw_faces", "scale_uniforms"]

# Action units in the order of the AU intensity columns.
AU_INDEX: dict[str, int] = {
    au: i for i, au in enumerate(("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU20", "AU23", "AU26"))
}

#: Identity factors: name -> (low, high). A uniform draw in [0, 1) is scaled onto each range.
IDENTITY_RANGES: dict[str, tuple[float, float]] = {
    "aspect": (1.2, 1.35), "jaw": (0.74, 0.95), "chin": (0.0, 1.0),
    "skin": (0.0, 1.0), "skin_tint": (-1.0, 1.0),
    "eye_sep": (0.38, 0.46), "eye_w": (0.17, 0.21), "eye_h": (0.075, 0.1), "eye_y": (-0.12, -0.04),
    "eye_tilt": (-0.03, 0.03), "iris_ratio": (1.25, 1.45), "iris": (0.0, 1.0),
    "brow_gap": (0.2, 0.26), "brow_th": (0.07, 0.1), "brow_arch": (0.0, 0.05), "brow_slant": (-0.025, 0.025),
    "nose_y": (0.27, 0.35), "nose_w": (0.09, 0.13),
    "mouth_y": (0.6, 0.68), "mouth_w": (0.32, 0.42), "lip_th": (0.04, 0.065), "mouth_rest": (-0.02, 0.02),
    "lip": (0.0, 1.0), "hair_style": (0.0, 1.0), "hair": (0.0, 1.0), "hairline": (0.0, 1.0),
    "bg_hue": (0.0, 180.0), "bg_sat": (0.0, 0.55), "bg_val": (0.35, 0.95), "clothes": (0.0, 1.0),
    "lines": (0.0, 1.0), "gaze_x": (-0.025, 0.025), "gaze_y": (-0.01, 0.015),
}

#: Per-image factors (pose, lighting, blur, noise); angles in degrees, shifts in image fractions.
NUISANCE_RANGES: dict[str, tuple[float, float]] = {
    "yaw": (-12.0, 12.0), "pitch": (-8.0, 8.0), "roll": (-10.0, 10.0), "scale": (0.9, 1.08),
    "tx": (-0.05, 0.05), "ty": (-0.04, 0.05),
    "light_angle": (0.0, 2 * np.pi), "light": (0.0, 0.45), "brightness": (0.78, 1.15), "contrast": (0.75, 1.15),
    "cast_r": (-0.06, 0.06), "cast_b": (-0.06, 0.06), "blur": (0.0, 0.7), "noise": (0.0, 7.0),
}

_SKIN = np.array([(62, 40, 30), (110, 72, 50), (160, 112, 80), (205, 155, 120), (232, 190, 160), (246, 214, 190)], np.float32)
_HAIR = np.array([(20, 16, 14), (55, 35, 22), (100, 65, 35), (140, 70, 35), (205, 170, 100), (150, 150, 150)], np.float32)
_IRIS = np.array([(70, 40, 20), (110, 80, 40), (60, 110, 160), (80, 120, 80), (100, 110, 120)], np.float32)
_CLOTHES = np.array([(40, 60, 120), (150, 40, 40), (50, 110, 70), (200, 200, 200), (40, 40, 40), (180, 140, 60)], np.float32)

_SHIFT = 4  # fixed-point bits of the pixel coordinates given to OpenCV
_ONE = 1 << _SHIFT


def scale_uniforms(uniforms: np.ndarray, ranges: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """(N, len(ranges)) uniforms in [0, 1) -> {factor: (N,) values on its range}."""
    low = np.array([r[0] for r in ranges.values()], np.float32)
    high = np.array([r[1] for r in ranges.values()], np.float32)
    values = low + uniforms[:, : len(ranges)].astype(np.float32) * (high - low)
    return {name: values[:, i] for i, name in enumerate(ranges)}


def _palette(table: np.ndarray, position: np.ndarray, smooth: bool) -> np.ndarray:
    """Colours at ``position`` in [0, 1) along ``table``: interpolated, or the nearest entry."""
    x = position * (len(table) - 1)
    if not smooth:
        return table[np.clip(np.round(x).astype(int), 0, len(table) - 1)]
    i = np.clip(np.floor(x).astype(int), 0, len(table) - 2)
    t = (x - i)[:, None]
    return table[i] * (1 - t) + table[i + 1] * t


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, k: int) -> np.ndarray:
    """Quadratic Bezier curves, (N, 2) control points each -> (N, k, 2) points."""
    t = np.linspace(0.0, 1.0, k, dtype=np.float32)[None, :, None]
    return (1 - t) ** 2 * p0[:, None] + 2 * (1 - t) * t * p1[:, None] + t**2 * p2[:, None]


def _through(p0: np.ndarray, mid: np.ndarray, p2: np.ndarray, k: int) -> np.ndarray:
    """The quadratic Bezier from p0 to p2 that passes through ``mid`` at its half-way point."""
    return _bezier(p0, 2 * mid - (p0 + p2) / 2, p2, k)


def _lip_curve(half_width: np.ndarray, corner_y: np.ndarray, centre_y: np.ndarray, power: np.ndarray, k: int = 13) -> np.ndarray:
    """Corner to corner through ``centre_y``: a parabola for power 2, flatter (boxier) above it."""
    x = np.linspace(-1.0, 1.0, k, dtype=np.float32)[None, :]
    bulge = 1.0 - np.abs(x) ** power[:, None]
    return np.stack([half_width[:, None] * x, corner_y[:, None] + (centre_y - corner_y)[:, None] * bulge], -1)


def _pt(x: np.ndarray | float, y: np.ndarray | float, n: int) -> np.ndarray:
    return np.stack(np.broadcast_arrays(np.asarray(x, np.float32) * np.ones(n, np.float32), np.asarray(y, np.float32)), -1)


def _ellipse(cx, cy, rx, ry, n: int, k: int = 20, start: float = 0.0, stop: float = 2 * np.pi) -> np.ndarray:
    t = np.linspace(start, stop, k, dtype=np.float32)[None, :]
    c = lambda a: np.asarray(a, np.float32).reshape(-1, 1) * np.ones((n, 1), np.float32)  # noqa: E731
    return np.stack([c(cx) + c(rx) * np.cos(t), c(cy) + c(ry) * np.sin(t)], -1)


class _Projector:
    """Face space -> fixed-point pixels, with depth-dependent yaw / pitch and a similarity move."""

    def __init__(self, nuisance: dict[str, np.ndarray], canvas: int):
        self.yaw = np.radians(nuisance["yaw"])[:, None]
        self.pitch = np.radians(nuisance["pitch"])[:, None]
        roll = np.radians(nuisance["roll"])[:, None]
        unit = 0.31 * canvas * nuisance["scale"][:, None]
        self.a, self.b = unit * np.cos(roll), unit * np.sin(roll)
        self.cx = (0.5 + nuisance["tx"][:, None]) * canvas
        self.cy = (0.5 + nuisance["ty"][:, None]) * canvas

    def __call__(self, pts: np.ndarray, extra_depth: float | None = 0.0) -> np.ndarray:
        """(N, K, 2) face-space points -> (N, K, 2) int32 pixels << _SHIFT.

        A point on the face surface has depth ~ sqrt(1 - x^2) (plus ``extra_depth`` for the nose
        or lips); ``None`` means the silhouette (outline, hair, ears), which does not turn.
        """
        x, y = pts[..., 0], pts[..., 1]
        if extra_depth is not None:
            z = 0.75 * np.sqrt(np.clip(1.0 - 0.85 * x * x, 0.05, 1.0)) + extra_depth
            x = x * np.cos(self.yaw) + z * np.sin(self.yaw)
            y = y * np.cos(self.pitch) + z * np.sin(self.pitch)
        px = self.cx + self.a * x - self.b * y
        py = self.cy + self.b * x + self.a * y
        return np.round(np.stack([px, py], -1) * _ONE).astype(np.int32)


def _shade(color: np.ndarray, amount) -> np.ndarray:
    """``color`` darkened by ``amount`` in [0, 1] (per face)."""
    return color * (1.0 - np.clip(np.asarray(amount, np.float32), 0.0, 0.95)).reshape(-1, 1)


def _down(offset) -> np.ndarray:
    """A per-face vertical shift, broadcastable onto (N, K, 2) points."""
    return np.asarray(offset, np.float32).reshape(-1, 1, 1) * np.array([0.0, 1.0], np.float32)


class _Shapes:
    """The shapes of a batch of faces in drawing order, with the colours and AUs they share."""

    def __init__(self, ident: dict[str, np.ndarray], au: np.ndarray, proj: _Projector):
        self.n, self.ident, self.proj, self.items = au.shape[0], ident, proj, []
        self.au = {name: au[:, i] for name, i in AU_INDEX.items()}
        skin = _palette(_SKIN, ident["skin"], smooth=True)
        self.skin = np.clip(skin * (1 + 0.05 * ident["skin_tint"][:, None] * np.array([1.0, 0.2, -0.8])), 0, 255)
        self.hair = _palette(_HAIR, ident["hair"], smooth=False) * (0.85 + 0.3 * ident["lines"][:, None])
        self.lip = self.skin * np.array([0.78, 0.5, 0.5]) + np.array([40, 5, 10]) * (0.5 + ident["lip"][:, None])
        self.dark = np.full((self.n, 3), 25.0, np.float32)
        self.white = np.zeros((self.n, 3), np.float32) + np.array([235, 232, 220], np.float32)
        self.style = np.floor(ident["hair_style"] * 5).astype(int)  # 0 short, 1 long, 2 shaved, 3 fringe, 4 curly
        self.brow_y = ident["eye_y"] - ident["brow_gap"]

    def add(self, kind: str, pts: np.ndarray, color: np.ndarray, th: int = 0, depth: float | None = 0.0, when=None) -> None:
        """Queue a filled polygon ("poly") or a polyline ("line", ``th`` strokes wide), drawn where ``when``."""
        visible = np.ones(self.n, bool) if when is None else np.asarray(when, bool)
        self.items.append((kind, self.proj(pts, depth), np.asarray(color, np.float32), th, visible))

    def pt(self, x, y) -> np.ndarray:
        return _pt(x, y, self.n)


def _head(f: _Shapes) -> None:
    """Shoulders, long hair behind, ears, neck, the face, forehead and frown lines, hair on top."""
    n, ident, a, skin, hair = f.n, f.ident, f.au, f.skin, f.hair
    aspect = ident["aspect"]
    f.add("poly", _ellipse(0, aspect + 1.05, 2.1, 0.75, n, 24), _palette(_CLOTHES, ident["clothes"], smooth=False), depth=None)
    back = np.concatenate([_ellipse(0, -0.05, 1.22, aspect + 0.08, n, 20, np.pi, 2 * np.pi),
                           f.pt(1.3, aspect + 0.45)[:, None], f.pt(-1.3, aspect + 0.45)[:, None]], 1)
    f.add("poly", back, hair, depth=None, when=f.style == 1)
    for side in (-1, 1):
        f.add("poly", _ellipse(side * 0.98, ident["eye_y"] + 0.22, 0.13, 0.22, n, 16), _shade(skin, 0.12), depth=None)
    neck = [f.pt(-0.46, aspect * 0.5), f.pt(0.46, aspect * 0.5), f.pt(0.52, aspect + 0.6), f.pt(-0.52, aspect + 0.6)]
    f.add("poly", np.stack(neck, 1), _shade(skin, 0.15), depth=None)

    # the outline: an ellipse whose lower half narrows to the jaw and lengthens as the jaw drops
    t = np.linspace(0, 2 * np.pi, 48, dtype=np.float32)[None, :]
    lower = np.sin(t) > 0
    width = np.where(lower, 1 - (1 - ident["jaw"][:, None]) * np.clip(np.sin(t), 0, 1) ** (2 - ident["chin"][:, None]), 1.0)
    height = aspect[:, None] * np.where(lower, 1 + 0.12 * a["AU26"][:, None], 1.0)
    f.add("poly", np.stack([width * np.cos(t), height * np.sin(t)], -1), skin, depth=None)

    # forehead lines (AU1 inner / AU2 outer brow raise) and frown lines (AU4), under any fringe
    raised = np.clip(0.6 * a["AU1"] + 0.5 * a["AU2"], 0, 1)
    span = 0.18 + 0.25 * np.clip(a["AU2"] / (a["AU1"] + a["AU2"] + 1e-3), 0, 1)
    for k in range(3):
        y = f.brow_y - 0.14 - 0.07 * k
        curve = _through(f.pt(-span, y + 0.015), f.pt(0, y - 0.02 * a["AU1"]), f.pt(span, y + 0.015), 9)
        f.add("line", curve, _shade(skin, 0.05 + 0.28 * raised * (raised > 0.2)), 1)
    for side in (-1, 1):
        x = side * (0.05 + 0.015 * a["AU4"])
        f.add("line", np.stack([f.pt(x, f.brow_y), f.pt(x * 0.8, f.brow_y + 0.13)], 1),
              _shade(skin, 0.04 + 0.35 * a["AU4"] * (a["AU4"] > 0.2)), 1)

    hairline = -aspect * (0.52 + 0.12 * ident["hairline"]) + np.where(f.style == 3, 0.2, 0.0)
    cap = _ellipse(0, -0.06, 1.07, aspect + 0.06, n, 24, np.pi * 0.97, np.pi * 2.03)
    edge = _through(cap[:, -1], f.pt(0, hairline), cap[:, 0], 12)
    f.add("poly", np.concatenate([cap, edge], 1), np.where((f.style == 2)[:, None], skin * 0.75 + hair * 0.25, hair), depth=None)
    for angle in np.linspace(np.pi * 1.05, np.pi * 1.95, 6):
        cx, cy = 1.02 * np.cos(angle), (aspect + 0.05) * np.sin(angle) - 0.05
        f.add("poly", _ellipse(cx, cy, 0.24, 0.2, n, 12), hair, depth=None, when=f.style == 4)


def _eyes(f: _Shapes) -> None:
    """White, iris and lids: AU5 raises the upper lid, AU6 / AU7 push the lower lid up; AU6 crow's feet."""
    n, ident, a, skin = f.n, f.ident, f.au, f.skin
    eh, ew, eye_y = ident["eye_h"], ident["eye_w"], ident["eye_y"]
    up = eh * (1 + 1.1 * a["AU5"] - 0.45 * a["AU7"] - 0.3 * a["AU6"])
    lo = eh * 0.75 * (1 - 0.55 * a["AU6"] - 0.5 * a["AU7"] + 0.15 * a["AU5"])
    iris_r, iris = eh * ident["iris_ratio"], _palette(_IRIS, ident["iris"], smooth=False)
    crow = _shade(skin, 0.45 * a["AU6"] * (a["AU6"] > 0.25))
    for side in (-1, 1):
        cx = side * ident["eye_sep"]
        inner, outer = f.pt(cx - side * ew, eye_y + 0.01), f.pt(cx + side * ew, eye_y - ident["eye_tilt"])
        upper = _through(inner, f.pt(cx + side * 0.1 * ew, eye_y - up), outer, 11)
        lower = _through(inner, f.pt(cx + side * 0.15 * ew, eye_y + lo), outer, 11)
        f.add("poly", np.concatenate([upper, lower[:, ::-1]], 1), f.white * 0.97)
        centre = f.pt(cx + ident["gaze_x"], eye_y + 0.2 * eh + ident["gaze_y"])
        f.add("poly", _ellipse(centre[:, 0], centre[:, 1], iris_r, iris_r, n, 16), iris)
        f.add("poly", _ellipse(centre[:, 0], centre[:, 1], iris_r * 0.45, iris_r * 0.45, n, 12), f.dark * 0.4)
        for curve, y in ((upper, centre[:, 1] - iris_r - 0.02), (lower, centre[:, 1] + iris_r + 0.02)):
            # skin over the iris beyond the lid
            f.add("poly", np.concatenate([curve, f.pt(outer[:, 0], y)[:, None], f.pt(inner[:, 0], y)[:, None]], 1), skin)
        f.add("line", upper, f.dark + f.hair * 0.3, 2)
        f.add("line", lower, _shade(skin, 0.3 + 0.25 * a["AU7"]), 1)
        f.add("line", (upper + _down(-0.035 - 0.02 * (1 - a["AU5"])))[:, 2:-2], _shade(skin, 0.2 - 0.15 * a["AU5"]), 1)
        for k in (-1, 0, 1):
            start = outer + np.array([side * 0.04, 0.03 * k])
            f.add("line", np.stack([start, start + np.array([side * 0.09, 0.04 * k])], 1), crow, 1)
        furrow = (lower + _down(0.05 - 0.04 * a["AU6"]))[:, 1:-1]
        f.add("line", furrow, _shade(skin, 0.06 + 0.3 * np.maximum(a["AU6"], a["AU7"])), 1)


def _brows(f: _Shapes) -> None:
    """Inner / middle / outer brow points moved by AU1 (inner up), AU2 (outer up), AU4 (down and in)."""
    ident, a = f.ident, f.au
    for side in (-1, 1):
        cx = side * ident["eye_sep"]
        inner = f.pt(cx - side * (ident["eye_w"] + 0.02 + 0.05 * a["AU4"]),
                     f.brow_y + ident["brow_slant"] - 0.16 * a["AU1"] + 0.16 * a["AU4"])
        middle = f.pt(cx + side * 0.02, f.brow_y - ident["brow_arch"] - 0.06 * a["AU1"] - 0.12 * a["AU2"] + 0.08 * a["AU4"])
        outer = f.pt(cx + side * (ident["eye_w"] + 0.1), f.brow_y + 0.02 - 0.15 * a["AU2"] + 0.03 * a["AU4"] - 0.03 * a["AU1"])
        centre = _through(inner, middle, outer, 10)
        taper = np.linspace(1.0, 0.45, 10, dtype=np.float32)[None, :] * ident["brow_th"][:, None]
        upper, lower = centre.copy(), centre.copy()
        upper[..., 1] -= taper * 0.6
        lower[..., 1] += taper * 0.4
        f.add("poly", np.concatenate([upper, lower[:, ::-1]], 1), f.hair * 0.6 + 10)


def _nose_and_mouth(f: _Shapes) -> None:
    """Nose (AU9 wrinkles it, lifts the nostrils and the upper lip); mouth: AU12 pulls the corners up
    and out, AU15 down, AU20 stretches them, AU23 tightens the lips, AU26 drops the jaw; folds."""
    n, ident, a, skin, lip = f.n, f.ident, f.au, f.skin, f.lip
    ny, nw = ident["nose_y"] - 0.04 * a["AU9"], ident["nose_w"] * (1 + 0.2 * a["AU9"])
    f.add("line", np.stack([f.pt(-0.07, ident["eye_y"] + 0.08), f.pt(-0.09, ny - 0.08)], 1), _shade(skin, 0.15), 1, 0.15)
    for side in (-1, 1):
        f.add("poly", _ellipse(side * nw * 0.55, ny + 0.015, nw * 0.32, 0.022, n, 12), _shade(skin, 0.55), depth=0.2)
        wing = _through(f.pt(side * nw * 0.35, ny - 0.06), f.pt(side * (nw + 0.01), ny - 0.01), f.pt(side * nw * 0.6, ny + 0.04), 7)
        f.add("line", wing, _shade(skin, 0.3), 1, 0.15)
    for k in range(3):
        y = ident["eye_y"] + 0.06 + 0.045 * k
        f.add("line", _through(f.pt(-0.08, y + 0.01), f.pt(0, y - 0.015), f.pt(0.08, y + 0.01), 5),
              _shade(skin, 0.5 * a["AU9"] * (a["AU9"] > 0.2)), 1, 0.18)

    mw = ident["mouth_w"] * (1 + 0.25 * a["AU12"] + 0.3 * a["AU20"] - 0.25 * a["AU23"] - 0.12 * a["AU26"] * (1 - a["AU20"]))
    my = ident["mouth_y"] + 0.03 * a["AU26"]
    corner_y = my - ident["mouth_rest"] - 0.16 * a["AU12"] + 0.12 * a["AU15"] + 0.05 * a["AU20"]
    opening = (0.36 * a["AU26"] + 0.05 * a["AU9"]) * (1 - 0.8 * a["AU23"])
    thick = ident["lip_th"] * (1 - 0.7 * a["AU23"]) * (1 - 0.3 * a["AU20"] - 0.2 * a["AU12"])
    up_in = my - 0.3 * opening - 0.06 * a["AU9"] - 0.02 * a["AU12"]
    lo_in = my + 0.7 * opening + 0.01 * a["AU15"]
    left, right = f.pt(-mw, corner_y), f.pt(mw, corner_y)
    flat = 2.0 + 4.0 * a["AU20"]  # the stretched mouth opens as a rectangle, not a lens
    upper_in, lower_in = _lip_curve(mw, corner_y, up_in, flat), _lip_curve(mw, corner_y, lo_in, flat)
    is_open = opening > 0.02
    f.add("poly", np.concatenate([upper_in, lower_in[:, ::-1]], 1), f.dark * 1.6, depth=0.1, when=is_open)
    top_teeth = (upper_in + _down(np.minimum(0.06, 0.5 * opening)))[:, 2:-2]
    f.add("poly", np.concatenate([upper_in[:, 2:-2], top_teeth[:, ::-1]], 1), f.white, depth=0.1, when=is_open)
    bottom_teeth = (lower_in - _down(0.35 * opening * a["AU20"]))[:, 3:-3]
    f.add("poly", np.concatenate([lower_in[:, 3:-3], bottom_teeth[:, ::-1]], 1), f.white * 0.92, depth=0.1, when=is_open)
    bow = f.pt(0, up_in - thick * 0.8)
    upper_lip = [_through(left, f.pt(-mw * 0.45, up_in - thick * 1.1), bow, 7),
                 _through(bow, f.pt(mw * 0.45, up_in - thick * 1.1), right, 7)[:, 1:], upper_in[:, ::-1]]
    f.add("poly", np.concatenate(upper_lip, 1), lip * 0.92, depth=0.1)
    f.add("poly", np.concatenate([lower_in, _through(right, f.pt(0, lo_in + thick * 1.3), left, 13)], 1), lip, depth=0.1)
    f.add("line", upper_in, np.where(is_open[:, None], lip * 0.9, _shade(lip, 0.45)), 1, 0.1)

    fold = 0.05 + 0.08 * ident["lines"] + 0.3 * np.maximum.reduce([a["AU12"], 0.8 * a["AU9"], 0.4 * a["AU20"]])
    for side in (-1, 1):
        bend = f.pt(side * (np.maximum(nw, mw) + 0.1), (ny + corner_y) / 2)
        curve = _through(f.pt(side * (nw + 0.03), ny - 0.03), bend, f.pt(side * (mw + 0.07), corner_y + 0.09), 8)
        f.add("line", curve, _shade(skin, fold), 1)


def _geometry(ident: dict[str, np.ndarray], au: np.ndarray, proj: _Projector) -> list[tuple]:
    """Every shape of every face in drawing order: (kind, pixels (N, K, 2), colours (N, 3), thickness, visible)."""
    shapes = _Shapes(ident, au, proj)
    for part in (_head, _eyes, _brows, _nose_and_mouth):
        part(shapes)
    return shapes.items


def draw_faces(identity: dict[str, np.ndarray], aus: np.ndarray, nuisance: dict[str, np.ndarray],
               noise: list[np.ndarray], size: int) -> np.ndarray:
    """(N, size, size, 3) RGB uint8 faces. ``noise[i]`` is face i's unit Gaussian (size, size, 3) field."""
    import cv2

    n = aus.shape[0]
    canvas = max(size, 128)  # draw at >= 128 px and scale down: anti-aliased features at 48 px too
    shapes = _geometry(identity, aus.astype(np.float32), _Projector(nuisance, canvas))
    hsv = np.stack([identity["bg_hue"], identity["bg_sat"] * 255, identity["bg_val"] * 255], -1)
    background = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    ramp = np.linspace(1.08, 0.85, canvas, dtype=np.float32)[None, :, None, None]
    images = np.broadcast_to(np.clip(background[:, None, None] * ramp, 0, 255), (n, canvas, canvas, 3)).astype(np.uint8, order="C")
    thickness = max(1, round(canvas / 128))
    shapes = [(kind, pts, np.clip(color, 0, 255).tolist(), th, visible.tolist()) for kind, pts, color, th, visible in shapes]
    for i in range(n):
        image = images[i]
        for kind, pts, colors, th, visible in shapes:
            if not visible[i]:
                continue
            if kind == "poly":
                cv2.fillPoly(image, [pts[i]], colors[i], cv2.LINE_AA, _SHIFT)
            else:
                cv2.polylines(image, [pts[i]], False, colors[i], th * thickness, cv2.LINE_AA, _SHIFT)
    if canvas != size:
        images = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])
    return _photograph(images, nuisance, noise)


def _photograph(images: np.ndarray, nuisance: dict[str, np.ndarray], noise: list[np.ndarray]) -> np.ndarray:
    """Directional light, brightness / contrast, colour cast, blur and sensor noise, per face."""
    import cv2

    n, size = images.shape[:2]
    grid = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    angle = nuisance["light_angle"][:, None, None]
    light = 1.0 + nuisance["light"][:, None, None] * (np.cos(angle) * grid[None, None, :] + np.sin(angle) * grid[None, :, None])
    cast = np.stack([1 + nuisance["cast_r"], np.ones(n, np.float32), 1 + nuisance["cast_b"]], -1)[:, None, None]
    out = images.astype(np.float32) * light[..., None] * cast
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    out = (out - mean) * nuisance["contrast"][:, None, None, None] + mean * nuisance["brightness"][:, None, None, None]
    for i in range(n):
        sigma = float(nuisance["blur"][i]) * size / 64.0
        if sigma > 0.3:
            out[i] = cv2.GaussianBlur(out[i], (0, 0), sigma)
        out[i] += noise[i] * nuisance["noise"][i]
    return np.clip(out, 0, 255).round().astype(np.uint8)
