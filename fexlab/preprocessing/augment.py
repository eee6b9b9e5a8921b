"""Training-time augmentation of face crops: seeded, composed from a config, RGB uint8 in and out.

An :class:`Augmenter` draws the parameters of each operation from a numpy generator (one seed per
call, so a run is repeatable and a DataLoader worker never changes the result), then applies them
with OpenCV in this order: rotation / scaling / translation (one affine warp, edges reflected),
horizontal flip, gray, gamma, histogram equalisation, brightness / contrast, Gaussian blur,
Gaussian noise, random erasing. Setting an operation's magnitude or probability to 0 turns it off.

Gray, gamma and equalisation are off by default; turned on (``gray_p=0.3 gamma=0.3
equalize_p=0.3``) they make faces in the wild look more like posed lab photos: even light over
the whole face, full contrast, no colour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.detector import FaceDetector
from fexlab.registry.errors import InputError
from fexlab.registry.plugin import make_config

__all__ = ["AugmentConfig", "Augmenter", "preview", "save_preview"]


@dataclass
class AugmentConfig:
    """Magnitudes are the largest change drawn (uniformly either way); ``*_p`` are probabilities."""

    rotation: float = 15.0  # degrees
    scale: float = 0.1  # zoom factor in [1 - scale, 1 + scale]
    translate: float = 0.08  # shift, as a fraction of the side
    hflip_p: float = 0.5
    brightness: float = 0.3  # factor in [1 - brightness, 1 + brightness]
    contrast: float = 0.3
    blur_p: float = 0.2
    blur_sigma: float = 1.0  # pixels at 64 px, scaled with the face size
    noise_p: float = 0.3
    noise_sigma: float = 8.0  # gray levels
    erase_p: float = 0.25
    erase_area: float = 0.12  # largest fraction of the face erased
    gray_p: float = 0.0  # a colour face becomes gray (3 equal channels)
    gamma: float = 0.0  # gamma drawn log-uniformly in [exp(-gamma), exp(gamma)]
    equalize_p: float = 0.0  # histogram equalisation of the brightness (even, full-range light)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or value < 0:
                raise InputError(f"augmentation option {field.name} must be a number >= 0, got {value!r}")
            if field.name.endswith("_p") and value > 1:
                raise InputError(f"augmentation option {field.name} is a probability in [0, 1], got {value}")
        if self.scale >= 1 or self.brightness >= 1 or self.contrast >= 1 or self.erase_area >= 1:
            raise InputError("augmentation scale, brightness, contrast and erase_area must be below 1")


class Augmenter:
    """Callable on an HxWx3 RGB uint8 face; returns an augmented face of the same shape.

    ``Augmenter({"rotation": 10, "erase_p": 0})`` or ``Augmenter(rotation=10, seed=1)``. Calls
    without ``seed=`` use seeds (seed, 0), (seed, 1), ... in turn; pass ``seed=`` (e.g. the sample
    index mixed with the epoch) for per-sample repeatability.
    """

    def __init__(self, config: AugmentConfig | dict[str, Any] | None = None, *, seed: int = 0, **overrides: Any):
        self.config: AugmentConfig = make_config(AugmentConfig, config, **overrides)
        self.seed = int(seed)
        self._calls = 0

    def params(self, rng: np.random.Generator, size: int) -> dict[str, Any]:
        """The operations to apply to one face of side ``size``, drawn from ``rng`` (None = skipped)."""
        c = self.config
        u = rng.random(12)
        sym = lambda x, limit: (2.0 * x - 1.0) * limit  # noqa: E731 - uniform in [-limit, limit]
        area, aspect = u[9] * c.erase_area, np.exp(sym(u[10], 0.8))
        h = int(round(min(size, np.sqrt(area * size * size * aspect))))
        w = int(round(min(size, np.sqrt(area * size * size / aspect))))
        # drawn after the others and only when on, so faces augmented without them stay as they were
        extra = rng.random(3) if c.gray_p or c.gamma or c.equalize_p else np.ones(3)
        return {
            "gray": extra[0] < c.gray_p, "gamma": float(np.exp(sym(extra[1], c.gamma))) if c.gamma else None,
            "equalize": extra[2] < c.equalize_p,
            "angle": sym(u[0], c.rotation), "zoom": 1.0 + sym(u[1], c.scale),
            "shift": (sym(u[2], c.translate) * size, sym(u[3], c.translate) * size),
            "flip": u[4] < c.hflip_p,
            "brightness": 1.0 + sym(u[5], c.brightness), "contrast": 1.0 + sym(rng.random(), c.contrast),
            "blur": (0.3 + u[6] * max(c.blur_sigma - 0.3, 0.0)) * size / 64.0 if u[7] < c.blur_p else None,
            "noise": rng.random() * c.noise_sigma if u[8] < c.noise_p else None,
            "erase": (int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1)), h, w, int(rng.integers(0, 256)))
            if u[11] < c.erase_p and h > 0 and w > 0 else None,
        }

    def apply(self, face: np.ndarray, params: dict[str, Any], rng: np.random.Generator | None = None) -> np.ndarray:
        """``face`` under the operations ``params`` (``rng`` draws the noise field)."""
        import cv2

        height, width = face.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), params["angle"], params["zoom"])
        matrix[:, 2] += params["shift"]
        out = cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if params["flip"]:
            out = cv2.flip(out, 1)
        if params.get("gray"):
            out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        if params.get("gamma") is not None:
            out = (255.0 * (out / 255.0) ** params["gamma"]).round().astype(np.uint8)
        if params.get("equalize"):
            ycrcb = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb)
            ycrcb[..., 0] = cv2.equalizeHist(ycrcb[..., 0])
            out = cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)
        pixels = out.astype(np.float32)
        mean = float(pixels.mean())
        pixels = (pixels - mean) * params["contrast"] + mean * params["brightness"]
        if params["blur"] is not None:
            pixels = cv2.GaussianBlur(pixels, (0, 0), params["blur"])
        if params["noise"] is not None:
            pixels += (rng or np.random.default_rng()).standard_normal(pixels.shape, dtype=np.float32) * params["noise"]
        out = np.clip(pixels, 0, 255).round().astype(np.uint8)
        if params["erase"] is not None:
            top, left, h, w, value = params["erase"]
            out[top : top + h, left : left + w] = value
        return out

    def __call__(self, face: np.ndarray, seed: int | None = None) -> np.ndarray:
        face = np.asarray(face)
        if face.ndim != 3 or face.shape[2] != 3 or face.dtype != np.uint8 or min(face.shape[:2]) < 2:
            raise InputError(f"augmentation needs an HxWx3 RGB uint8 face, got {face.dtype} {face.shape}")
        if seed is None:
            seed, self._calls = self._calls, self._calls + 1
        rng = np.random.default_rng([self.seed, int(seed)])
        return self.apply(face, self.params(rng, min(face.shape[:2])), rng)

    def __repr__(self) -> str:
        return f"Augmenter({self.config!r}, seed={self.seed})"


def preview(face: np.ndarray, augmenter: Augmenter | None = None, count: int = 15) -> list[np.ndarray]:
    """``face`` followed by ``count`` augmentations of it (seeds 0 .. count - 1)."""
    augmenter = augmenter or Augmenter()
    return [np.asarray(face)] + [augmenter(face, seed=i) for i in range(count)]


def save_preview(image: Any, out: str | Path, augmenter: Augmenter | None = None, *, count: int = 15,
                 size: int = 128, columns: int = 8, detector: FaceDetector | None = None) -> Path:
    """Write a PNG grid of the largest face ``detector`` finds in ``image`` (the whole image when it
    finds none or none is given) and ``count`` augmentations of it."""
    from fexlab.eval.plots import sample_grid, save_figure

    from .faces import crop_face
    from .images import load_image

    if not 1 <= count <= 200 or not 16 <= size <= 512:
        raise InputError(f"give 1-200 augmentations of a 16-512 px face, got {count} and {size}")
    photo = load_image(image)
    faces = detector.detect(photo) if detector is not None else []
    box = faces[0].box if faces else (0, 0, photo.shape[1], photo.shape[0])
    face = crop_face(photo, box, margin=0.25 if faces else 0.0, size=size)
    images = preview(face, augmenter, count)
    rows = {("original, " if start == 0 else "") + f"{max(start, 1)}-{min(start + columns, len(images)) - 1}":
            images[start : start + columns] for start in range(0, len(images), columns)}
    title = f"The face (top left), then {count} seeded training augmentations"
    return save_figure(sample_grid(rows, title=title), out)
