"""The images and video every benchmark (and the fer peer) is timed on, built from the real photos
in ``examples/``: the photos themselves (one face each), a five-face group picture made of them,
real face crops, and a 640x480 clip of a face moving across the frame.

Files are written once to a folder in the system's temporary directory and reused, so the peer
process reads exactly the same bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

__all__ = ["EXAMPLES", "MEDIA", "face_crops", "five_face_image", "large_photo", "no_face_media", "one_face_images",
           "video_640x480"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MEDIA = Path(tempfile.gettempdir()) / "fexlab-benchmarks"


def one_face_images() -> list[Path]:
    """The example photographs: one face each (512x512 and 512x600 JPEGs)."""
    return sorted(EXAMPLES.glob("*.jpg"))


def _photos() -> list[np.ndarray]:
    from fexlab.preprocessing.images import load_image

    return [load_image(path) for path in one_face_images()]


def five_face_image() -> Path:
    """A 1024x768 JPEG with five faces: both photos, their mirror images and a brighter copy,
    as tiles of 320 px on a grey background (a small group picture)."""
    path = MEDIA / "five_faces.jpg"
    if path.is_file():
        return path
    import cv2
    from PIL import Image

    photos = _photos()
    tiles = [photos[0], photos[1], photos[0][:, ::-1], photos[1][:, ::-1],
             np.clip(photos[0].astype(np.int16) + 35, 0, 255).astype(np.uint8)]
    canvas = np.full((768, 1024, 3), 118, np.uint8)
    slots = [(24, 16), (352, 16), (680, 16), (188, 400), (516, 400)]
    for tile, (x, y) in zip(tiles, slots):
        scale = 320 / max(tile.shape[:2])
        tile = cv2.resize(np.ascontiguousarray(tile), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    MEDIA.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path, quality=92)
    return path


def face_crops(count: int) -> list[np.ndarray]:
    """``count`` real face crops (as the predictor cuts them) from the example photos, shifted
    and mirrored so that no two are identical."""
    from fexlab.plugins.detectors import HaarCascade
    from fexlab.preprocessing.faces import crop_face

    detector = HaarCascade.from_config()
    crops = []
    for photo in _photos():
        for face in detector.detect(photo):
            for shift in range(-6, 7, 3):
                x, y, w, h = face.box
                crop = crop_face(photo, (x + shift, y - shift, w, h), margin=0.1)
                crops += [crop, np.ascontiguousarray(crop[:, ::-1])]
    return [crops[i % len(crops)] for i in range(count)]


def video_640x480(frames: int = 150, fps: float = 30.0) -> Path:
    """A 640x480 MP4 (mp4v) of ``frames`` frames: the astronaut photo, scaled to 400 px, drifting
    left to right over a grey background, one face in every frame."""
    path = MEDIA / f"clip_640x480_{frames}.mp4"
    if path.is_file():
        return path
    import cv2

    photo = cv2.resize(_photos()[0], (400, 400), interpolation=cv2.INTER_AREA)
    MEDIA.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    try:
        for i in range(frames):
            frame = np.full((480, 640, 3), 118, np.uint8)
            x = int(i * (640 - 400) / max(frames - 1, 1))
            frame[40:440, x : x + 400] = photo
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def large_photo() -> Path:
    """A 4032x3024 JPEG (a phone camera's size) of the two-people photo scaled up: two faces."""
    path = MEDIA / "large_4032x3024.jpg"
    if path.is_file():
        return path
    import cv2
    from PIL import Image

    from fexlab.preprocessing.images import load_image

    photo = load_image(EXAMPLES / "two_people.jpg")
    canvas = np.full((3024, 4032, 3), 118, np.uint8)
    scaled = cv2.resize(photo, (4032, 4032 * photo.shape[0] // photo.shape[1]), interpolation=cv2.INTER_CUBIC)
    top = (3024 - scaled.shape[0]) // 2
    canvas[top : top + scaled.shape[0]] = scaled
    MEDIA.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path, quality=90)
    return path


def no_face_media() -> list[tuple[str, np.ndarray]]:
    """Images with no face where detectors are known to see some: drawn title cards (big letters,
    outlined, round shapes), a page of text, a drawn landscape and a cartoon scene of shapes."""
    import cv2

    rng = np.random.default_rng(7)
    media = []
    titles = [("THE OOPS SHOW", "Episode 8: Oh No!"), ("GOOD MORNING", "o_O  ^_^  :-)"), ("BOO!", "a Halloween special")]
    for number, (title, subtitle) in enumerate(titles):
        card = np.empty((540, 960, 3), np.uint8)
        card[:] = tuple(int(v) for v in rng.integers(20, 200, 3))
        for _ in range(6):
            centre = (int(rng.integers(0, 960)), int(rng.integers(0, 540)))
            cv2.circle(card, centre, int(rng.integers(20, 90)), tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
        for row, (text, scale) in enumerate(((title, 3.0 - 0.4 * number), (subtitle, 1.4))):
            origin = (50, 250 + 130 * row)
            cv2.putText(card, text, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), 10, cv2.LINE_AA)
            cv2.putText(card, text, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (15, 15, 15), 4, cv2.LINE_AA)
        media.append((f"title card {number + 1}", card))
    page = np.full((1100, 850, 3), 250, np.uint8)
    words = "the quick brown fox jumps over the lazy dog 0 8 @ oo OO".split()
    for row in range(30):
        line = " ".join(words[int(i)] for i in rng.integers(0, len(words), 7))
        cv2.putText(page, line, (40, 50 + 34 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2, cv2.LINE_AA)
    media.append(("page of text", page))
    landscape = np.zeros((720, 1280, 3), np.uint8)
    landscape[:360] = (150, 200, 240)
    landscape[360:] = (70, 130, 60)
    for _ in range(4):
        x = int(rng.integers(0, 1280))
        cv2.fillPoly(landscape, [np.array([[x - 300, 420], [x, 140], [x + 300, 420]], np.int32)], (110, 110, 120))
    cv2.circle(landscape, (1100, 120), 60, (250, 230, 120), -1)
    media.append(("drawn landscape", landscape))
    cartoon = np.full((720, 1280, 3), 235, np.uint8)
    for _ in range(25):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, 1280)), int(rng.integers(0, 720)))
        axes = (int(rng.integers(10, 120)), int(rng.integers(10, 120)))
        cv2.ellipse(cartoon, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        cv2.ellipse(cartoon, centre, axes, float(rng.uniform(0, 180)), 0, 360, (20, 20, 20), 3)
    media.append(("cartoon shapes", cartoon))
    return media
