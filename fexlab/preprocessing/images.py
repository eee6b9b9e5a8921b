"""Load any image a user gives into an RGB uint8 array, or fail with a message they can act on.

Accepted sources: a path, raw bytes, a file object, a ``PIL.Image`` or a numpy array. Every
common mode is converted (RGB, RGBA, L, LA, P, PA, 1, CMYK, YCbCr, I;16, I, F); EXIF
orientation is applied; transparency is composited over white; the first frame of an animation
is used.

Limits (documented in docs/limits.md):

- :data:`MAX_FILE_BYTES`: files or uploads above 50 MB are refused.
- :data:`MAX_DECODE_PIXELS`: images above 80 megapixels are refused before they are decoded.
- :data:`MAX_PIXELS`: images above 16 megapixels are scaled down (aspect kept) to fit, so that
  detection and memory stay bounded; JPEGs are decoded at reduced scale directly (down to 3/4 of
  the side that fits, JPEG's DCT scaling being by halves).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fexlab.registry.errors import InputError

__all__ = [
    "ImageSource",
    "MAX_DECODE_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "load_image",
    "load_image_scaled",
    "to_rgb_array",
]

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_DECODE_PIXELS = 80_000_000
MAX_PIXELS = 16_000_000

ImageSource = Union[str, os.PathLike, bytes, bytearray, BinaryIO, Image.Image, np.ndarray]


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """An HxWx3 RGB uint8 array of ``source``, scaled down to at most ``max_pixels``.

    ``name`` is how error messages call the file (default: its path, or "the upload").
    """
    return load_image_scaled(source, max_pixels=max_pixels, name=name)[0]


def load_image_scaled(
    source: ImageSource, *, max_pixels: int = MAX_PIXELS, name: str | None = None
) -> tuple[np.ndarray, float]:
    """Like :func:`load_image`, also returning the scale applied (1.0 when none).

    Multiply a box found in the returned array by ``1 / scale`` to place it on the original.
    """
    if isinstance(source, np.ndarray):
        return _fit(to_rgb_array(source), max_pixels)
    if isinstance(source, Image.Image):
        return _fit(_pil_to_rgb(ImageOps.exif_transpose(source) or source), max_pixels)
    name, data = _read_bytes(source, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_DECODE_PIXELS:
                raise _too_large(name, width, height)
            if width * height > max_pixels and image.format == "JPEG":
                # JPEG's own DCT scaling (1/2, 1/4, 1/8) down to at least 3/4 of the side that fits:
                # a 12 MP photo asked to fit 3.2 MP decodes at half size, a quarter of the work
                factor = 0.75 * (max_pixels / (width * height)) ** 0.5
                image.draft("RGB", (max(1, int(width * factor)), max(1, int(height * factor))))
            image.load()
    except Image.DecompressionBombError as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f" ({int(found.group(1)) / 1e6:.0f} MP)" if found else ""
        raise InputError(
            f"{name} has too many pixels{size}, above the {MAX_DECODE_PIXELS / 1e6:.0f} MP limit; "
            "scale it down and try again"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image fexlab can read (tried PNG, JPEG, GIF, BMP, TIFF, WebP...)") from None
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(f"{name} is corrupt or truncated ({err}); re-save or re-export it") from None
    if image.width == 0 or image.height == 0:
        raise InputError(f"{name} has no pixels ({image.width}x{image.height})")
    scale = image.width / width  # JPEG draft mode may already have reduced the size
    ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of an image that needs no turn
    rgb, fit_scale = _fit(_pil_to_rgb(image), max_pixels)
    return rgb, scale * fit_scale


def to_rgb_array(array: np.ndarray) -> np.ndarray:
    """A numpy image (HxW, HxWx1, HxWx3 RGB, HxWx4 RGBA; uint8, uint16, bool or float) -> RGB uint8."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"the image has no pixels (shape {array.shape})")
    array = _to_uint8(array)
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(finite.max()) if finite.size else 0.0
        scale = 255.0 if top <= 1.0 else (1.0 if top <= 255.0 else 255.0 / top)
        return np.clip(finite * scale, 0, 255).round().astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max()) if array.size else 0
        if top <= 255 and int(array.min()) >= 0:
            return array.astype(np.uint8)
        if top <= 65535 and int(array.min()) >= 0:
            return (array.astype(np.float32) / 257.0).round().astype(np.uint8)
        low = float(array.min())
        return ((array.astype(np.float64) - low) * (255.0 / max(top - low, 1.0))).round().astype(np.uint8)
    raise InputError(f"cannot read an image array of dtype {array.dtype}")


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return to_rgb_array(np.asarray(image))
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA")
    elif mode in ("LA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        return to_rgb_array(np.asarray(image))
    try:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as err:
        raise InputError(f"cannot convert an image in colour mode {mode} to RGB ({err})") from None


def _fit(rgb: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float]:
    height, width = rgb.shape[:2]
    if height * width <= max_pixels:
        return rgb, 1.0
    import cv2

    factor = (max_pixels / (height * width)) ** 0.5
    size = (max(1, int(width * factor)), max(1, int(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), size[0] / width


def _read_bytes(source: ImageSource, display_name: str | None) -> tuple[str, bytes]:
    if isinstance(source, (bytes, bytearray)):
        name, data = display_name or "the upload", bytes(source)
    elif hasattr(source, "read"):
        name = display_name or str(getattr(source, "name", "the upload"))
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        path = Path(source)
        name = display_name or str(path)
        if not path.exists():
            raise InputError(f"{name}: no such file")
        if not path.is_file():
            raise InputError(f"{name} is not a file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{name} is {path.stat().st_size / 2**20:.0f} MB, above the {MAX_FILE_BYTES // 2**20} MB limit")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise InputError(f"{name} cannot be read: {err.strerror or err}") from None
    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{name} is larger than the {MAX_FILE_BYTES // 2**20} MB limit")
    return name, data


def _too_large(name: str, width: int, height: int) -> InputError:
    return InputError(
        f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} MP), above the "
        f"{MAX_DECODE_PIXELS / 1e6:.0f} MP limit; scale it down and try again"
    )
