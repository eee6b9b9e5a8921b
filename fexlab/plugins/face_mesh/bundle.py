"""MediaPipe's Face Landmarker bundle (``weights/face_landmarker.task``): check, rebuild, read.

The bundle is Google's file, byte for byte (a zip of three ``.tflite`` models and the canonical
face's geometry); it ships in this package so the plugin works offline. This module checks it
against the SHA-256 Google's file has, downloads it again from Google's address where the network
allows (``python -m fexlab.plugins.face_mesh.bundle --rebuild``), and reads its members: the models'
bytes and the canonical face (vertices, MediaPipe's triangulation and the Procrustes weights of
``geometry_pipeline_metadata_landmarks.binarypb``, a small protobuf decoded here by its wire format).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fexlab.registry.errors import CheckpointError

__all__ = ["BUNDLE", "BUNDLE_URL", "SHA256", "CanonicalFace", "canonical_face", "check_bundle", "main",
           "member", "rebuild_bundle"]

BUNDLE = Path(__file__).resolve().parent / "weights" / "face_landmarker.task"
BUNDLE_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
              "float16/1/face_landmarker.task")
SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
REBUILD = "python -m fexlab.plugins.face_mesh.bundle --rebuild"
_GEOMETRY = "geometry_pipeline_metadata_landmarks.binarypb"


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest() if hasattr(hashlib, "file_digest") \
            else hashlib.sha256(handle.read()).hexdigest()


def check_bundle(path: str | Path = BUNDLE) -> tuple[bool, str]:
    """(whether ``path`` is Google's bundle, one line saying so or what is wrong)."""
    path = Path(path)
    if not path.is_file():
        return False, f"{path} is missing; run `{REBUILD}`"
    digest = _sha256(path)
    if digest != SHA256:
        return False, f"{path} has SHA-256 {digest}, not Google's {SHA256}; run `{REBUILD}`"
    return True, f"{path.name} is Google's float16 bundle v1 (SHA-256 {SHA256[:12]}...)"


def rebuild_bundle(path: str | Path = BUNDLE, *, url: str = BUNDLE_URL, timeout: float = 60.0) -> Path:
    """Download the bundle from ``url`` into ``path``, keeping it only when its SHA-256 is Google's."""
    path = Path(path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise CheckpointError(f"cannot download {url} ({reason}): this machine seems to be offline; "
                              f"copy face_landmarker.task (SHA-256 {SHA256}) to {path} by hand") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise CheckpointError(f"{url} gave a file with SHA-256 {digest}, not {SHA256}; {path} is left as it was")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    Path(tmp.name).replace(path)
    return path


@functools.lru_cache(maxsize=8)
def member(name: str, path: str = str(BUNDLE)) -> bytes:
    """The bytes of one file inside the bundle (``face_landmarks_detector.tflite``...)."""
    try:
        with zipfile.ZipFile(path) as bundle:
            return bundle.read(name)
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"cannot read {name} from {path} ({err}); run `{REBUILD}`") from None


# -- the canonical face: a protobuf read by its wire format ------------------------------------
def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field of one message: varints as int, the rest as bytes."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        else:
            raise CheckpointError(f"{_GEOMETRY}: unexpected protobuf wire type {wire}")
        out.append((number, value))
    return out


@dataclass(frozen=True)
class CanonicalFace:
    """MediaPipe's canonical face: ``vertices`` (468, 3) in centimetres (x to the face's left as
    seen from the front, i.e. the image's right; y up; z toward the camera), ``uv`` (468, 2) texture
    coordinates, ``triangles`` (898, 3) vertex indices, and the Procrustes weights of the
    landmarks that fix the head's pose (``landmark_ids``, ``weights``)."""

    vertices: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray
    landmark_ids: np.ndarray
    weights: np.ndarray


@functools.lru_cache(maxsize=2)
def canonical_face(path: str = str(BUNDLE)) -> CanonicalFace:
    """The canonical face of the bundle's ``geometry_pipeline_metadata_landmarks.binarypb``
    (GeometryPipelineMetadata: 1 the mesh, 2 the weighted landmarks, 3 the input source)."""
    top = _fields(member(_GEOMETRY, path))
    mesh = _fields(next(value for number, value in top if number == 1))
    floats = b"".join(value for number, value in mesh if number == 3)  # VERTEX_PT: x, y, z, u, v
    indices = [value for number, value in mesh if number == 4]
    buffer = np.frombuffer(floats, "<f4").reshape(-1, 5)
    ids, weights = [], []
    for number, value in top:
        if number == 2:
            ref = dict(_fields(value))
            ids.append(int(ref.get(1, 0)))
            weights.append(float(np.frombuffer(ref.get(2, b"\0\0\0\0"), "<f4")[0]))
    return CanonicalFace(buffer[:, :3].astype(np.float64), buffer[:, 3:].astype(np.float64),
                         np.asarray(indices, np.int64).reshape(-1, 3), np.asarray(ids, np.int64),
                         np.asarray(weights, np.float64))


def main(argv: list[str] | None = None) -> int:
    """``--check`` (the default): is the shipped bundle Google's file; ``--rebuild``: download it again."""
    parser = argparse.ArgumentParser(prog="python -m fexlab.plugins.face_mesh.bundle", description=main.__doc__)
    parser.add_argument("--rebuild", action="store_true", help=f"download it again from {BUNDLE_URL}")
    parser.add_argument("--path", default=str(BUNDLE), help="the bundle file (default: the one in this package)")
    args = parser.parse_args(argv)
    if args.rebuild:
        try:
            rebuild_bundle(args.path)
        except CheckpointError as err:
            print(f"face_mesh: {err}", file=sys.stderr)
            return 1
        member.cache_clear()
        canonical_face.cache_clear()
    ok, detail = check_bundle(args.path)
    print(detail, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
