"""The ``face_mesh`` analyzer: MediaPipe's Face Landmarker, per face, in the LiteRT interpreter.

For each detected face: the region of interest (:mod:`.region`: the box turned so the eyes are
level, enlarged 1.5 times, square), cut out to 256 x 256 pixels; ``face_landmarks_detector.tflite``
gives the 478 points of the face mesh (irises included; ``mesh``, in the image's pixels with z on
the scale of x, smaller nearer the camera) and a face-presence probability (``presence``);
``face_blendshapes.tflite`` gives the 51 ARKit blendshapes (:mod:`.blendshapes`) from 146 of those
points; the action units are estimated from the blendshapes (:mod:`.action_units`) and the head pose
is fitted to the bundle's canonical face (:mod:`.head_pose`). With ``refine`` (the default) the mesh is the mean of
that region's and of the region the first mesh gives. The models are Google's own bundle
(``weights/face_landmarker.task``, Apache-2.0, checked by ``python -m fexlab.plugins.face_mesh.bundle``).

In video, :meth:`FaceMesh.follow` takes each face's region from its mesh in the previous frame,
as MediaPipe does, so the detector is needed only when a face is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import CheckpointError, Face, InputError
from fexlab.registry.analyzer import FaceAnalyzer
from fexlab.registry.litert import INTERPRETER_INSTALL, interpreter_installed, open_interpreter
from fexlab.registry.plugin import BROKEN, NEEDS_WEIGHTS, READY, PluginStatus

from .action_units import ACTION_UNITS, action_units
from .blendshapes import ARKIT_NAMES, MODEL_NAMES, blendshape_input
from .bundle import BUNDLE, canonical_face, check_bundle, member
from .head_pose import HEAD_POSE_ANGLES, head_pose
from .region import Region, region_from_face, region_from_mesh

__all__ = ["CROP_SIZE", "FaceMesh", "FaceMeshConfig"]

#: Side of the landmark model's input in pixels.
CROP_SIZE = 256
_MODELS = ("face_landmarks_detector.tflite", "face_blendshapes.tflite")
#: Mesh points giving a followed face the detector's keypoints: the iris centres (the subject's
#: right, then left), the nose tip, the lips' centre, and the face's edge beside each ear.
_KEYPOINTS = {"right_eye": (468,), "left_eye": (473,), "nose_tip": (1,), "mouth_center": (13, 14),
              "right_ear_tragion": (234,), "left_ear_tragion": (454,)}
#: A followed face's box, from its mesh: the mesh's bounding box centre, shifted down by this
#: fraction of its height, and this fraction of its longer side, so the box matches BlazeFace's
#: (measured on the example photos) and the classifiers' crops stay the ones they were fitted to.
_BOX_SHIFT, _BOX_SIDE = -0.035, 1.03


@dataclass
class FaceMeshConfig:
    #: Faces whose presence probability is below this are dropped (MediaPipe's default 0.5):
    #: false detections, such as letters of a title, hold no face for the mesh model.
    min_presence: float = 0.5
    #: Threads of one interpreter.
    num_threads: int = 1
    #: After the detector's region, look again in the region the mesh itself gives (MediaPipe's
    #: tracking region) and average the two meshes: the blendshape model moves by up to 0.1 when
    #: its region shifts by a few pixels, and the average of two regions halves that noise.
    refine: bool = True
    #: The bundle file; empty: the one shipped in this package.
    bundle: str = ""


class FaceMesh(FaceAnalyzer):
    """MediaPipe Face Landmarker: 478-point mesh, presence, 51 blendshapes, action units, head pose."""

    name: ClassVar[str] = "face_mesh"
    description: ClassVar[str] = ("MediaPipe Face Landmarker: 478-point mesh, ARKit blendshapes, action units "
                                  "(estimated from blendshapes), head pose; offline")
    config_class: ClassVar[type] = FaceMeshConfig
    outputs: ClassVar[tuple[str, ...]] = ("mesh", "presence", "blendshapes", "action_units", "head_pose")

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        if not 0.0 <= self.config.min_presence < 1.0:
            raise InputError(f"min_presence must lie in [0, 1), got {self.config.min_presence}")
        self.bundle = Path(self.config.bundle or BUNDLE)
        self._local = threading.local()

    # -- checkpoints: the bundle beside config.json ----------------------------------------------
    def save_weights(self, directory: Path) -> None:
        import shutil

        shutil.copyfile(self.bundle, Path(directory) / BUNDLE.name)

    def load_weights(self, directory: Path) -> None:
        path = Path(directory) / BUNDLE.name
        if not path.is_file():
            raise CheckpointError(f"'{directory}' has no {BUNDLE.name}; the checkpoint is incomplete")
        self.bundle = path
        self._local = threading.local()

    @classmethod
    def status(cls) -> PluginStatus:
        if not interpreter_installed():
            return PluginStatus(BROKEN, f"the LiteRT interpreter is not installed: run `{INTERPRETER_INSTALL}`")
        ok, detail = check_bundle(BUNDLE)
        return PluginStatus(READY if ok else NEEDS_WEIGHTS, detail)

    # -- the models --------------------------------------------------------------------------------
    def _interpreters(self) -> dict[str, Any]:
        """This thread's interpreters of the two models, read from the bundle."""
        runners = getattr(self._local, "runners", None)
        if runners is None:
            runners = self._local.runners = {
                model: open_interpreter(member(model, str(self.bundle)), num_threads=self.config.num_threads,
                                        who="face_mesh") for model in _MODELS}
        return runners

    def landmarks(self, image: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
        """(the (478, 3) mesh in image pixels, the face-presence probability) of one region."""
        interpreter = self._interpreters()[_MODELS[0]]
        crop = region.crop(image, CROP_SIZE).astype(np.float32) / 255.0
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], crop[None])
        interpreter.invoke()
        # outputs: (1, 1, 1, 1434) points, (1, 1, 1, 1) the face-presence logit, (1, 1) unused
        outputs = {tuple(d["shape"]): d["index"] for d in interpreter.get_output_details()}
        points = interpreter.get_tensor(outputs[(1, 1, 1, 478 * 3)]).reshape(478, 3)
        logit = float(interpreter.get_tensor(outputs[(1, 1, 1, 1)]).ravel()[0])
        return region.to_image(points, CROP_SIZE), float(1.0 / (1.0 + np.exp(-logit)))

    def blendshapes(self, mesh: np.ndarray) -> dict[str, float]:
        """The 51 ARKit blendshape scores of a (478, 3) mesh in image pixels (``_neutral`` left out)."""
        interpreter = self._interpreters()[_MODELS[1]]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], blendshape_input(mesh))
        interpreter.invoke()
        scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).ravel()
        return {name: float(score) for name, score in zip(MODEL_NAMES, scores) if name in ARKIT_NAMES}

    # -- the analyzer --------------------------------------------------------------------------------
    def analyze_region(self, image: np.ndarray, region: Region, *, refine: bool = False) -> dict[str, Any]:
        """Every output of one face's region; blendshapes and the rest only when a face is present.
        ``refine``: average with the mesh found in the region of the first mesh."""
        mesh, presence = self.landmarks(image, region)
        if refine and presence >= self.config.min_presence:
            mesh = (mesh + self.landmarks(image, region_from_mesh(mesh))[0]) / 2.0
        out: dict[str, Any] = {"mesh": mesh.astype(np.float32), "presence": presence}
        if presence >= self.config.min_presence:
            shapes = self.blendshapes(mesh)
            out.update(blendshapes=shapes, action_units=action_units(shapes),
                       head_pose=head_pose(mesh, canonical_face(str(self.bundle))))
        return out

    def analyze(self, image: np.ndarray, faces: Sequence[Face]) -> list[dict[str, Any]]:
        image = _rgb(image)
        return [self.analyze_region(image, region_from_face(face), refine=self.config.refine) for face in faces]

    def output_names(self) -> dict[str, tuple[str, ...]]:
        return {"blendshapes": ARKIT_NAMES, "action_units": tuple(ACTION_UNITS), "head_pose": HEAD_POSE_ANGLES}

    def mesh_faces(self) -> tuple[np.ndarray, np.ndarray]:
        """MediaPipe's canonical triangulation of the first 468 points and their texture coordinates."""
        canonical = canonical_face(str(self.bundle))
        return canonical.triangles, canonical.uv

    def present(self, analysis: dict[str, Any]) -> bool:
        return float(analysis.get("presence", 0.0)) >= self.config.min_presence

    def follow(self, image: np.ndarray, previous: Sequence[dict[str, Any]]) -> list[tuple[Face, dict[str, Any]]]:
        """Each face of the previous frame found again in its mesh's region; faces whose presence
        falls below ``min_presence`` are lost and left out."""
        image = _rgb(image)
        found = []
        for analysis in previous:
            current = self.analyze_region(image, region_from_mesh(np.asarray(analysis["mesh"])))
            if self.present(current):
                found.append((face_from_mesh(current["mesh"], current["presence"], image.shape), current))
        return found


def face_from_mesh(mesh: np.ndarray, score: float, shape: Sequence[int]) -> Face:
    """A detector-like :class:`Face` of a mesh: a square box shaped like BlazeFace's and its six keypoints."""
    low, high = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    side = float((high - low).max()) * _BOX_SIDE
    cx, cy = (low + high) / 2.0 + np.array([0.0, _BOX_SHIFT * (high[1] - low[1])])
    x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    x1, y1 = min(int(shape[1]), round(cx + side / 2)), min(int(shape[0]), round(cy + side / 2))
    marks = {name: tuple(float(v) for v in mesh[list(ids), :2].mean(axis=0)) for name, ids in _KEYPOINTS.items()}
    return Face((x0, y0, max(1, x1 - x0), max(1, y1 - y0)), float(score), marks)


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise InputError(f"face_mesh needs an HxWx3 RGB uint8 image, got shape {image.shape} and dtype {image.dtype}")
    return image
