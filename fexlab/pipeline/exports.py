"""Face-analysis exports for animators and 3D tools: Live Link Face CSV, JSON, and the mesh as OBJ.

The input is a series of one face's analyses over time, ``[(seconds, analysis), ...]``, where an
analysis is a mapping with the keys a :class:`registry.FaceAnalyzer` gives (``blendshapes``,
``head_pose``, ``action_units``, ``mesh``): a ``FacePrediction.analysis``, or a face of
``fexlab predict --json`` (lists instead of arrays). :func:`face_series` picks one face (one video
track) out of per-frame results (:func:`video_faces` turns ``Predictor.predict_video``'s frames
into them). A photo is a series at time 0 of every face it has (:func:`photo_series`), written
with no frame rate: one CSV row per face, and JSON that lists the faces.

The mesh is written as a Wavefront OBJ (in pixels) and as a binary glTF (``.glb``: centred,
in metres for a face 15 cm wide, with normals), which 3D viewers and web pages show directly.

Live Link Face CSV: the layout Epic's Live Link Face app records and Unreal, Maya and Blender
importers read: ``Timecode`` (``HH:MM:SS:FF.mmm`` at ``fps``), ``BlendShapeCount`` (61), the 52
ARKit blendshapes in the app's order (PascalCase: ``EyeBlinkLeft``, ...; ``Left`` is the subject's
left, as in ARKit), then ``HeadYaw``, ``HeadPitch``, ``HeadRoll`` (radians, in the analyzer's
head-pose convention) and the eyes' yaw, pitch and roll. The face mesh gives no ``TongueOut`` and
no eye rotation: those columns are 0.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry import InputError

__all__ = ["LIVE_LINK_BLENDSHAPES", "LIVE_LINK_HEADER", "analysis_cells", "analysis_columns", "face_series", "live_link_rows", "mesh_topology", "photo_series", "timecode",
           "video_faces", "spreadsheet_cell", "write_blendshapes_json", "write_live_link_csv", "write_mesh_glb", "write_mesh_obj"]

#: The 52 ARKit blendshapes in Live Link Face's column order.
LIVE_LINK_BLENDSHAPES = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight", "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
    "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft",
    "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight",
    "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft",
    "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
)
_ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
              "RightEyePitch", "RightEyeRoll")
LIVE_LINK_HEADER = ("Timecode", "BlendShapeCount", *LIVE_LINK_BLENDSHAPES, *_ROTATIONS)

Series = Sequence[tuple[float, Mapping[str, Any]]]


def video_faces(frames: Iterable[Any]) -> list[dict[str, Any]]:
    """Every face of ``FramePrediction`` s as ``{"time", "track", **analysis}``, for :func:`face_series`."""
    return [{"time": frame.time, "track": face.track, **face.analysis} for frame in frames for face in frame.faces]


def face_series(faces: Iterable[Mapping[str, Any]], track: int | None = None) -> list[tuple[float, Mapping[str, Any]]]:
    """``[(seconds, analysis)]`` of one face from per-face results that carry ``time`` and ``track``
    (a video's faces in ``fexlab predict --json``, or ``{"time": ..., "track": ..., **face.analysis}``
    per face of each ``FramePrediction``): the faces of ``track``, by default the track seen in most
    frames. Faces without blendshapes (no analyzer ran) are left out."""
    faces = [face for face in faces if "blendshapes" in face]
    if not faces:
        return []
    if track is None:
        track = Counter(face.get("track") for face in faces).most_common(1)[0][0]
    chosen = [face for face in faces if face.get("track") == track]
    if not chosen:
        raise InputError(f"no face of track {track}; tracks: {sorted({f.get('track') for f in faces}, key=str)}")
    return sorted(((float(face.get("time", 0.0)), face) for face in chosen), key=lambda pair: pair[0])


def photo_series(faces: Iterable[Mapping[str, Any]]) -> list[tuple[float, Mapping[str, Any]]]:
    """A photo's faces (``fexlab predict --json``'s, or ``FacePrediction.to_dict()`` s) as a series at
    time 0, one entry per face with blendshapes, each with its number (``face``, from 1, in the
    order given: the numbers ``fexlab predict`` shows)."""
    return [(0.0, {"face": number, **face}) for number, face in enumerate(faces, start=1) if "blendshapes" in face]


def timecode(seconds: float, fps: float) -> str:
    """Live Link Face's ``HH:MM:SS:FF.mmm``: frame ``FF`` at ``fps`` and the thousandths of the next."""
    frames = max(0.0, seconds) * fps
    whole = int(math.floor(frames + 1e-9))
    second, frame = divmod(whole, int(round(fps)) or 1)
    hours, rest = divmod(second, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}:{frame:02d}.{int((frames - whole) * 1000):03d}"


def live_link_rows(series: Series, fps: float | None) -> list[list[Any]]:
    """One row per analysis of ``series`` under :data:`LIVE_LINK_HEADER`; ``fps`` None for a photo's
    faces (every row at timecode 0)."""
    if fps is not None and fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    rows = []
    for seconds, analysis in series:
        shapes = {name[0].upper() + name[1:]: float(v) for name, v in analysis.get("blendshapes", {}).items()}
        pose = analysis.get("head_pose") or {}
        head = [math.radians(float(pose.get(angle, 0.0))) for angle in ("yaw", "pitch", "roll")]
        values = [shapes.get(name, 0.0) for name in LIVE_LINK_BLENDSHAPES] + head + [0.0] * 6
        rows.append([timecode(seconds, fps) if fps is not None else timecode(0.0, 1.0), len(LIVE_LINK_BLENDSHAPES) + len(_ROTATIONS),
                     *(round(v, 6) for v in values)])
    return rows


def analysis_columns(analyses: Iterable[Mapping[str, Any]]) -> list[str]:
    """The table columns of face analyses (the Predict and Video tabs' CSVs): each action unit
    (``AU1``, ``AU2``, ... in FACS order), the head pose in degrees (``head_yaw``, ``head_pitch``,
    ``head_roll``), then each blendshape (ARKit names, in the analyzer's order); [] when no face
    was analysed."""
    analyses = list(analyses)
    units = sorted({unit for a in analyses for unit in a.get("action_units") or {}},
                   key=lambda unit: int(unit.strip("AU") or 0))
    pose = [f"head_{angle}" for angle in ("yaw", "pitch", "roll")] if any(a.get("head_pose") for a in analyses) else []
    shapes = list(dict.fromkeys(name for a in analyses for name in a.get("blendshapes") or {}))
    return units + pose + shapes


def analysis_cells(analysis: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    """One face's values under :func:`analysis_columns`, rounded to 4 places; "" where it has none."""
    values = {**(analysis.get("action_units") or {}), **(analysis.get("blendshapes") or {}),
              **{f"head_{angle}": v for angle, v in (analysis.get("head_pose") or {}).items()}}
    return [round(float(values[column]), 4) if column in values else "" for column in columns]


#: What a spreadsheet takes for the start of a formula in a cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula (``=1+2.jpg``, a
    file's name) gets a leading ``'``, as OWASP advises; numbers and other text are kept."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_live_link_csv(path: str | Path, series: Series, fps: float | None) -> Path:
    """Write ``series`` as a Live Link Face CSV at ``path`` (``fps`` None: a photo's faces, one row
    each at timecode 0); returns the path."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LIVE_LINK_HEADER)
        writer.writerows(live_link_rows(series, fps))
    return path


def write_blendshapes_json(path: str | Path, series: Series, fps: float | None) -> Path:
    """Write ``series`` as JSON: ``{"fps", "frames": [{"time", "timecode", "blendshapes" (ARKit
    names), "head_pose" (degrees), "action_units"}]}``, or with ``fps`` None (a photo's faces,
    :func:`photo_series`) ``{"faces": [{"face", "box", "blendshapes", "head_pose", "action_units"}]}``;
    returns the path."""
    entries = []
    for seconds, analysis in series:
        if fps is None:
            entry: dict[str, Any] = {key: analysis[key] for key in ("face", "box") if key in analysis}
        else:
            entry = {"time": round(float(seconds), 4), "timecode": timecode(seconds, fps)}
        for key in ("blendshapes", "head_pose", "action_units"):
            if key in analysis:
                entry[key] = {name: round(float(v), 6) for name, v in analysis[key].items()}
        entries.append(entry)
    path = Path(path)
    path.write_text(json.dumps({"faces": entries} if fps is None else {"fps": fps, "frames": entries}, indent=1))
    return path


def mesh_topology(analyzers: Iterable[Any]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(triangles, texture coordinates or None) of the first of ``analyzers`` whose mesh has a
    surface (``FaceAnalyzer.mesh_faces``), for :func:`write_mesh_obj` and drawing; None when none has."""
    return next((topology for topology in (analyzer.mesh_faces() for analyzer in analyzers) if topology), None)


def write_mesh_obj(path: str | Path, mesh: np.ndarray | Sequence[Sequence[float]], triangles: np.ndarray,
                   uv: np.ndarray | None = None) -> Path:
    """Write a face mesh as a Wavefront OBJ: the points that ``triangles`` index (MediaPipe's 468
    canonical vertices; the iris points have no triangles), turned into a right-handed frame with y
    up and z toward the viewer (image x, -y, -z, in pixels), with texture coordinates ``uv`` when
    given; faces wind counter-clockwise seen from the front."""
    points, triangles = _mesh_arrays(mesh, triangles)
    used = len(points)
    lines = ["# face mesh written by fexlab (MediaPipe's canonical triangulation)"]
    lines += [f"v {x:.3f} {-y:.3f} {-z:.3f}" for x, y, z in points[:used]]
    if uv is not None:
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in np.asarray(uv)[:used]]
    for a, b, c in triangles + 1:
        lines.append(f"f {a}/{a} {b}/{b} {c}/{c}" if uv is not None else f"f {a} {b} {c}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def _mesh_arrays(mesh: np.ndarray | Sequence[Sequence[float]], triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the points ``triangles`` index, the triangles), checked."""
    points = np.asarray(mesh, np.float64)
    triangles = np.asarray(triangles, np.int64)
    if points.ndim != 2 or points.shape[1] != 3 or not len(triangles) or triangles.max() >= len(points):
        raise InputError(f"a mesh of (N, 3) points covering the triangles is needed, got shape {points.shape}")
    return points[: int(triangles.max()) + 1], triangles


#: The width a face is given in a ``.glb`` (glTF's unit is the metre).
GLB_FACE_WIDTH = 0.15


def write_mesh_glb(path: str | Path, mesh: np.ndarray | Sequence[Sequence[float]], triangles: np.ndarray) -> Path:
    """Write a face mesh as a binary glTF 2.0 (``.glb``): the points that ``triangles`` index, in
    the OBJ's frame (image x, -y, -z: y up, z toward the viewer), centred on the face and scaled
    to :data:`GLB_FACE_WIDTH` metres wide, with smooth vertex normals and a skin-grey material."""
    import struct

    points, triangles = _mesh_arrays(mesh, triangles)
    points = points * np.array([1.0, -1.0, -1.0])
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2.0
    points *= GLB_FACE_WIDTH / max(float(np.ptp(points[:, 0])), 1e-9)
    corners = points[triangles]
    normals = np.zeros_like(points)
    np.add.at(normals, triangles.ravel(), np.repeat(np.cross(corners[:, 1] - corners[:, 0],
                                                             corners[:, 2] - corners[:, 0]), 3, axis=0))
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    blobs = [points.astype("<f4").tobytes(), normals.astype("<f4").tobytes(), triangles.astype("<u4").tobytes()]
    offsets = np.cumsum([0] + [len(blob) for blob in blobs])
    views = [{"buffer": 0, "byteOffset": int(offsets[i]), "byteLength": len(blob),
              "target": 34963 if i == 2 else 34962} for i, blob in enumerate(blobs)]
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": len(points), "type": "VEC3",
         "min": points.min(axis=0).tolist(), "max": points.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": 5126, "count": len(points), "type": "VEC3"},
        {"bufferView": 2, "componentType": 5125, "count": triangles.size, "type": "SCALAR"},
    ]
    document = {
        "asset": {"version": "2.0", "generator": "fexlab"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": "face"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.86, 0.72, 0.64, 1.0], "metallicFactor": 0.0,
                                                "roughnessFactor": 0.8}, "doubleSided": True}],
        "buffers": [{"byteLength": int(offsets[-1])}], "bufferViews": views, "accessors": accessors,
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = b"".join(blobs)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    path = Path(path)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks)
    return path
