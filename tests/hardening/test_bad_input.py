"""Bad input, fuzzed: random bytes, truncated files, wrong extensions, 0x0, 1xN and huge images,
every PIL mode, animated images and corrupt videos, fed to the loaders, the predict API and the
CLI. Every one ends in an image / a result or in one clear line (an ``InputError``), never in
another exception, a traceback or a hang. Examples are few and seeded so the suite stays fast."""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fexlab.cli import main
from fexlab.pipeline.predict import Predictor, read_video
from fexlab.preprocessing.images import MAX_FILE_BYTES, load_image
from fexlab.registry import InputError
from tests.conftest import ROOT
from tests.videos import face_video

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::UserWarning")]  # PIL warns on corrupt EXIF

#: (mode, format) pairs PIL writes: every mode fexlab reads, in a format that keeps it.
MODES = [("RGB", "JPEG"), ("RGBA", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "GIF"), ("P", "PNG"),
         ("PA", "PNG"), ("1", "BMP"), ("CMYK", "JPEG"), ("CMYK", "TIFF"), ("YCbCr", "TIFF"), ("I", "TIFF"),
         ("I;16", "PNG"), ("F", "TIFF"), ("RGB", "WEBP"), ("RGBA", "WEBP"), ("LAB", "TIFF")]


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def random_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        return Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint16) * 257), "I;16")
    return image.convert(mode)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` and holds almost no pixel data."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def assert_image_or_clear_error(call, *args, **kwargs):
    """``call`` returns an RGB uint8 image, or raises InputError with one line; nothing else."""
    try:
        out = call(*args, **kwargs)
    except InputError as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        return None
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= 1
    return out


@pytest.fixture(scope="module")
def predictor(registry):
    return Predictor.from_registry(registry, ["mini_xception"], "haar")


# -- loaders ----------------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    assert_image_or_clear_error(load_image, data)


@FUZZ
@given(st.sampled_from(MODES), st.integers(1, 48), st.integers(1, 48), st.floats(0.0, 0.98), st.integers(0, 9))
def test_truncated_files_of_every_format(mode_format, width, height, keep, seed):
    mode, fmt = mode_format
    data = encode(random_image(mode, width, height, seed), fmt)
    assert_image_or_clear_error(load_image, data[: int(len(data) * keep)])


@FUZZ
@given(st.sampled_from(MODES), st.integers(1, 40), st.integers(1, 40), st.integers(0, 9))
def test_every_mode_and_size_reads_as_rgb(mode_format, width, height, seed):
    mode, fmt = mode_format
    out = load_image(encode(random_image(mode, width, height, seed), fmt))
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


@FUZZ
@given(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["uint8", "uint16", "float32", "bool", "int32"]),
       st.sampled_from([(), (1,), (3,), (4,), (2,), (5,)]))
def test_arrays_of_any_shape_and_dtype(height, width, dtype, channels):
    array = np.ones((height, width, *channels), dtype=dtype)
    assert_image_or_clear_error(load_image, array)


@pytest.mark.parametrize("width, height", [(0, 0), (0, 10), (10, 0), (100_000, 100_000), (1, 90_000_000),
                                           (30_000, 30_000)])
def test_zero_and_huge_declared_sizes_are_refused_before_decoding(width, height):
    with pytest.raises(InputError, match=r"no pixels|above the 80 MP limit|corrupt|not an image"):
        load_image(png_header_only(width, height), name="crafted.png")


@pytest.mark.parametrize("width, height", [(1, 1), (1, 300), (300, 1), (2, 5000)])
def test_one_pixel_wide_images_load_and_have_no_face(predictor, width, height):
    data = encode(random_image("RGB", width, height, 0), "PNG")
    assert load_image(data).shape == (height, width, 3)
    assert predictor.predict_image(data).faces == []


def test_files_over_the_size_limit_are_refused_unread(tmp_path):
    path = tmp_path / "huge.jpg"
    with path.open("wb") as handle:  # a sparse file: no 50 MB written
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(InputError, match="above the 50 MB limit"):
        load_image(path)
    with pytest.raises(InputError, match="larger than the 50 MB limit"):
        load_image(io.BytesIO(b"\xff" * (MAX_FILE_BYTES + 1)))


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animations_use_their_first_frame(fmt):
    frames = [Image.new("RGB", (16, 12), colour) for colour in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = load_image(data)
    assert out.shape == (12, 16, 3) and out[0, 0, 0] > 200 and out[0, 0, 2] < 60


# -- the predict API -------------------------------------------------------------------------------
@FUZZ
@given(st.one_of(st.binary(max_size=2048),
                 st.builds(lambda m, w, h, k: encode(random_image(m[0], w, h, 0), m[1])[: max(1, k)],
                           st.sampled_from(MODES), st.integers(1, 64), st.integers(1, 64), st.integers(1, 5000))))
def test_predict_api_gives_a_result_or_a_clear_error(predictor, data):
    try:
        result = predictor.predict_image(data, name="upload")
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith("upload")
    else:
        assert all(len(face.box) == 4 for face in result.faces)


# -- videos ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_video(tmp_path_factory, astronaut_path):
    return face_video(tmp_path_factory.mktemp("video") / "clip.mp4", load_image(astronaut_path)[::4, ::4].copy(),
                      count=6)


@FUZZ
@given(st.sampled_from(["cut", "flip", "random"]), st.floats(0.0, 0.99), st.integers(0, 2**31 - 1))
def test_corrupt_videos_give_frames_or_a_clear_error(predictor, good_video, tmp_path_factory, damage, where, seed):
    data = bytearray(good_video.read_bytes())
    rng = np.random.default_rng(seed)
    if damage == "cut":
        data = data[: int(len(data) * where)]
    elif damage == "flip":
        for index in rng.integers(0, len(data), 40):
            data[index] = int(rng.integers(0, 256))
    else:
        data = bytearray(rng.integers(0, 256, 1 + int(where * 4000), dtype=np.uint8).tobytes())
    path = tmp_path_factory.mktemp("bad") / "clip.mp4"
    path.write_bytes(bytes(data))
    try:
        frames = list(predictor.predict_video(path, batch_frames=4))
    except InputError as err:
        assert "\n" not in str(err) and str(path) in str(err)
    else:
        assert all(frame.index >= 0 for frame in frames)


def test_a_directory_and_a_missing_file_are_not_videos(tmp_path):
    for path in (tmp_path, tmp_path / "missing.mp4"):
        with pytest.raises(InputError, match="no such file"):
            list(read_video(path))


# -- the CLI -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, astronaut_path, good_video):
    folder = tmp_path_factory.mktemp("bad-files")
    png = encode(random_image("RGB", 32, 24, 0), "PNG")
    jpeg = astronaut_path.read_bytes()
    files = {
        "png_named.jpg": png, "jpeg_named.png": jpeg, "jpeg_named.mp4": jpeg, "video_named.jpg": good_video.read_bytes(),
        "text.png": b"hello, not an image", "empty.gif": b"", "truncated.jpg": jpeg[: len(jpeg) // 3],
        "zero.png": png_header_only(0, 0), "bomb.png": png_header_only(100_000, 100_000),
        "random.mp4": bytes(range(256)) * 8, "truncated.mp4": good_video.read_bytes()[:2000],
        "one_row.png": encode(random_image("RGB", 500, 1, 0), "PNG"),
        "animated.gif": encode(Image.new("P", (8, 8)), "GIF", save_all=True, append_images=[Image.new("P", (8, 8), 3)]),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_cli_reports_each_bad_file_in_one_line_and_keeps_going(capsys, bad_files, astronaut_path):
    paths = sorted(str(p) for p in bad_files.iterdir())
    code = main(["predict", *paths, str(astronaut_path), "--json"])
    out, err = capsys.readouterr()
    records = {Path(r["file"]).name: r for r in json.loads(out)}
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.strip()]
    assert all(line.startswith("fexlab: ") for line in errors)
    failed = sum(1 for r in records.values() if r["error"])
    assert len(errors) == failed + 1 and errors[-1].startswith(f"fexlab: skipped {failed} of {len(records)} inputs")
    assert records["astronaut.jpg"]["faces"][0]["emotion"] == "happy"
    assert records["png_named.jpg"]["error"] is None and records["jpeg_named.png"]["faces"]
    for name in ("text.png", "empty.gif", "truncated.jpg", "zero.png", "bomb.png", "random.mp4", "truncated.mp4",
                 "video_named.jpg"):
        assert records[name]["error"], name
    assert records["one_row.png"]["faces"] == [] and records["animated.gif"]["error"] is None


def test_cli_process_prints_only_its_own_lines(bad_files):
    """In a real process, native libraries (FFmpeg, libjpeg) add nothing to fexlab's messages."""
    names = ["random.mp4", "truncated.mp4", "truncated.jpg", "text.png", "bomb.png"]
    done = subprocess.run([sys.executable, "-m", "fexlab.cli", "predict", *(str(bad_files / n) for n in names)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == len(names) + 1, done.stderr  # and the "skipped" line
    assert all(line.startswith("fexlab: ") for line in lines)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=512), st.sampled_from([".jpg", ".png", ".gif", ".webp", ".mp4", ".avi", ".txt", ""]))
def test_cli_on_random_files(tmp_path_factory, capsys, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(data)
    code = main(["predict", str(path), "--json"])
    out, err = capsys.readouterr()
    [record] = json.loads(out)
    assert code in (0, 1) and (code == 1) == bool(record["error"])
    assert "Traceback" not in err and len(err.strip().splitlines()) == (2 if record["error"] else 0)
