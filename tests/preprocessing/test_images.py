import io

import numpy as np
import pytest
from PIL import Image

from fexlab.preprocessing.images import MAX_PIXELS, load_image, load_image_scaled, to_rgb_array
from fexlab.registry import InputError


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(mode: str, size=(40, 30)) -> Image.Image:
    base = np.tile(np.linspace(0, 255, size[0], dtype=np.uint8), (size[1], 1))
    rgb = Image.fromarray(np.dstack([base, base[::-1, ::-1], np.full_like(base, 90)]))
    return rgb.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "PA", "CMYK", "1", "YCbCr", "LAB", "HSV", "I", "I;16", "F"])
def test_every_mode_becomes_rgb_uint8(mode):
    image = gradient("L").convert("I;16") if mode == "I;16" else gradient(mode)
    out = load_image(image)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)


@pytest.mark.parametrize("mode, fmt", [("RGBA", "PNG"), ("LA", "PNG"), ("P", "GIF"), ("CMYK", "JPEG"),
                                       ("CMYK", "TIFF"), ("1", "BMP"), ("I", "TIFF"), ("F", "TIFF"), ("L", "WEBP")])
def test_every_mode_from_encoded_files(mode, fmt):
    out = load_image(encode(gradient(mode), fmt))
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)


def test_sixteen_bit_is_scaled_not_clipped():
    array = np.full((10, 12), 65535, dtype=np.uint16)
    array[:, :6] = 257 * 100
    out = load_image(encode(Image.fromarray(array, "I;16")))
    assert out[0, 0, 0] == 100 and out[0, -1, 0] == 255


def test_transparency_is_composited_over_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :2, 3] = 255  # left half opaque red, right half transparent
    out = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert tuple(out[0, 0]) == (200, 0, 0) and tuple(out[0, 3]) == (255, 255, 255)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = load_image(encode(image, "JPEG", exif=exif))
    assert out.shape[:2] == (60, 20)


def test_sources_path_bytes_file_pil_numpy(tmp_path, astronaut_path):
    reference = load_image(astronaut_path)
    data = astronaut_path.read_bytes()
    np.testing.assert_array_equal(load_image(data), reference)
    np.testing.assert_array_equal(load_image(io.BytesIO(data)), reference)
    np.testing.assert_array_equal(load_image(Image.open(astronaut_path)), reference)
    np.testing.assert_array_equal(load_image(reference), reference)


@pytest.mark.parametrize(
    "array, shape",
    [(np.zeros((5, 6), np.uint8), (5, 6, 3)), (np.zeros((5, 6, 1), np.uint16), (5, 6, 3)),
     (np.ones((5, 6, 3), np.float32), (5, 6, 3)), (np.zeros((5, 6, 4), np.uint8), (5, 6, 3)),
     (np.zeros((5, 6), bool), (5, 6, 3))],
)
def test_numpy_inputs(array, shape):
    assert to_rgb_array(array).shape == shape


def test_float_images_in_unit_range_are_scaled():
    assert to_rgb_array(np.full((2, 2, 3), 0.5, np.float32))[0, 0, 0] == 128


@pytest.mark.parametrize("array", [np.zeros((0, 5, 3), np.uint8), np.zeros((5, 5, 2), np.uint8), np.zeros(5)])
def test_bad_arrays_are_refused(array):
    with pytest.raises(InputError):
        to_rgb_array(array)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out = load_image(buf.getvalue())
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def test_large_image_is_scaled_under_the_pixel_limit_and_reports_scale():
    big = Image.new("RGB", (5000, 4000), (50, 60, 70))
    for fmt in ("PNG", "JPEG"):
        out, scale = load_image_scaled(encode(big, fmt))
        assert out.shape[0] * out.shape[1] <= MAX_PIXELS
        assert scale == pytest.approx(out.shape[1] / 5000, rel=0.01)


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"this is text, not an image", "not an image"),
     (encode(Image.new("RGB", (64, 64)), "PNG")[:60], "corrupt or truncated")],
)
def test_bad_bytes_get_clear_messages(data, message):
    with pytest.raises(InputError, match=message):
        load_image(data)


def test_huge_dimensions_are_refused_before_decoding():
    import struct
    import zlib

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    with pytest.raises(InputError, match=r"400 MP\), above the 80 MP limit"):
        load_image(png, name="huge.png")


def test_paths_missing_directory_and_named(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InputError, match="is not a file"):
        load_image(tmp_path)
    (tmp_path / "notes.jpg").write_text("hello")
    with pytest.raises(InputError, match=r"^photo\.jpg is not an image"):
        load_image(tmp_path / "notes.jpg", name="photo.jpg")
