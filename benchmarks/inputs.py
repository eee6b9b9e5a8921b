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

__all__ = ["EXAMPLES", "MEDIA", "face_crops", "five_face_image", "one_face_images", "video_640x480"]

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
