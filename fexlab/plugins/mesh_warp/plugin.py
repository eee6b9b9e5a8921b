"""The ``mesh_warp`` editor: expression editing at the photo's own resolution and colour.

For each face the detector found, MediaPipe's Face Landmarker (the ``face_mesh`` analyzer) gives the
478-point mesh and the 51 blendshapes of the expression it shows now. The edit aims at other
blendshapes (how a typical real face of an emotion shows it, ``strength`` of the way from the
face's own, or on toward its most intense real faces: :mod:`.magnitudes`; then any action units or
blendshapes set one by one), and the expression model (:mod:`.model`, fitted on real
faces) turns the difference into a displacement of the mesh, in the face's own pose and scale, and
a change of shading (the folds of a smile). The photo is warped piecewise-affinely from the mesh
where it is to where it goes (:mod:`.warp`), shaded, and the inside of a mouth that opens is
taken from a bank of real mouths (:mod:`.mouth`, :mod:`.mouth_bank`). Only the face and a ring
around it move; every other pixel keeps its bytes.

Because the face's current expression is taken out before the target's is put in, a smiling face
edited to sad loses its smile, and ``strength`` 0 (no units set) gives the photo back unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import EMOTIONS, Face, Generator, InputError, NoFaceError
from fexlab.registry.plugin import BROKEN, PluginStatus

from ..face_mesh.blendshapes import ARKIT_NAMES
from .fit import EYES
from .glasses import find_glasses, frame_points, hold_frames
from .magnitudes import Magnitudes
from .model import CODE_SIZE, ExpressionModel, face_code, pose_frame, target_code
from .mouth import INNER_LIPS, load_bank, paint_mouth
from .warp import apply_field, closing_openings, edit_field, hold_turned_face, skin_triangles, vertex_normals

__all__ = ["MAIN_UNITS", "MeshWarp", "MeshWarpConfig", "WEIGHTS_DIR", "parse_shapes"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The action units offered one by one (options ``au1`` ... and the app's sliders).
MAIN_UNITS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU15", "AU17", "AU20", "AU25",
              "AU26", "AU43")


@dataclass
class MeshWarpConfig:
    #: How much of the learned shading change to apply (0: geometry only; 1 is the fitted change,
    #: which also carries the light of its 48 px training faces: blotchy at full strength).
    texture: float = 0.5
    #: Paint the inside of a mouth that the edit opens.
    mouth: bool = True
    #: The warp's map is computed every ``step`` pixels, then resized to every pixel.
    step: int = 4


def parse_shapes(text: str) -> dict[str, float]:
    """``"mouthSmileLeft=0.8, jawOpen=0.3"`` -> ``{"mouthSmileLeft": 0.8, "jawOpen": 0.3}``."""
    out: dict[str, float] = {}
    for part in str(text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise InputError(f"blendshapes take NAME=VALUE pairs separated by commas, got '{part.strip()}'")
        out[name.strip()] = _intensity(value, name.strip())
    return out


def _intensity(value: Any, what: str, top: float = 1.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number between 0 and {top:g}, got '{value}'") from None
    if not 0.0 <= number <= top:
        raise InputError(f"{what} must be between 0 and {top:g}, got {number:g}")
    return number


@functools.lru_cache(maxsize=2)
def _surface(bundle: str) -> tuple[np.ndarray, np.ndarray]:
    """The canonical face's vertex normals, and its triangles but those spanning the eyes and the mouth."""
    from ..face_mesh.bundle import canonical_face

    canonical = canonical_face(bundle)
    return (vertex_normals(canonical.vertices, canonical.triangles),
            skin_triangles(canonical.triangles, [*EYES, INNER_LIPS]))


class MeshWarp(Generator):
    """Edits expressions by warping the photo along the face mesh, with learned shading and real mouths' insides."""

    name: ClassVar[str] = "mesh_warp"
    description: ClassVar[str] = ("edits the expression of a photo's faces at its own resolution and colour (face "
                                  "mesh warp, learned shading, mouths from real mouths; action units one by one)")
    config_class: ClassVar[type] = MeshWarpConfig
    pretrained: ClassVar[dict[str, str]] = {"fer2013": str(WEIGHTS_DIR / "fer2013")}
    weights_hint: ClassVar[str] = ("fit it with `python -m fexlab.plugins.mesh_warp.fit --data ../shared/data/fer2013/"
                                   "ferplus_votes.csv --out fexlab/plugins/mesh_warp/weights/fer2013`, "
                                   "then `python -m fexlab.plugins.mesh_warp.magnitudes --data ../shared/data --cache "
                                   "/work/cache/geometry.npz --out fexlab/plugins/mesh_warp/weights/fer2013`")
    #: ``image``: the face to edit; ``strength``: 0 keeps the face's own expression, 1 is a typical
    #: real face of the emotion, 2 its most intense real faces (:mod:`.magnitudes`);
    #: ``texture``: the learned shading (0 geometry only); ``au1``...: an action unit's target
    #: intensity (0-1, empty: as the emotion has it); ``blendshapes``: "mouthSmileLeft=0.8, ...".
    options: ClassVar[dict[str, Any]] = {"image": None, "strength": 1.0, "texture": 0.5,
                                         **{unit.lower(): None for unit in MAIN_UNITS}, "blendshapes": ""}
    needs_image: ClassVar[bool] = True
    edits_photos: ClassVar[bool] = True
    #: Margin around the detector's box of the face crops shown beside the edited photo.
    crop_margin: ClassVar[float] = 0.25
    #: The highest ``strength``: 2, the most intense real faces of the emotion.
    max_strength: ClassVar[float] = 2.0
    #: Settings of checkpoints written before the magnitudes; dropped when such a folder loads
    #: (which then fails for want of its magnitudes, naming the command that fits them).
    _RETIRED: ClassVar[tuple[str, ...]] = ("gain", "emotion_gains")

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.model = ExpressionModel(np.zeros((478, 3)), np.zeros((CODE_SIZE, 478 * 3)), np.zeros((CODE_SIZE, 16)))
        zeros = np.zeros((len(EMOTIONS), len(ARKIT_NAMES)))
        self.magnitudes = Magnitudes(zeros, zeros, zeros, zeros + 1.0, np.zeros(len(EMOTIONS)))
        self._mesh = None
        self.bank = None  # the bank of real mouths (:mod:`.mouth_bank`); None: the one shipped
        self.wrinkles = None  # the ratio images of real faces' detail (:mod:`.wrinkles`); None: linear shading
        self.reach = None  # per blendshape, how much further to ask so the edit reaches its aim (:mod:`.reach`)

    @classmethod
    def from_config(cls, config: Any = None, **overrides: Any) -> MeshWarp:
        if isinstance(config, Mapping):
            config = {k: v for k, v in config.items() if k not in cls._RETIRED}
        return super().from_config(config, **overrides)

    # -- weights: the expression model --------------------------------------------------------------
    def save_weights(self, directory: Path) -> None:
        self.model.save(directory)
        if self.magnitudes.faces.sum() > 0:  # fitted (:mod:`.magnitudes`); a folder without them fails to load
            self.magnitudes.save(directory)
        if self.bank is not None:
            self.bank.save(directory)
        if self.wrinkles is not None:
            self.wrinkles.save(directory)
        if self.reach is not None:
            from .reach import save_reach

            save_reach(self.reach, directory)

    def load_weights(self, directory: Path) -> None:
        self.model = ExpressionModel.load(directory)
        self.magnitudes = Magnitudes.load(directory)
        self.bank = load_bank(directory)  # a folder without mouth_bank.safetensors takes the shipped bank
        from .reach import load_reach  # here: `python -m ...reach` and `...wrinkles` must not find them imported
        from .wrinkles import load_wrinkles

        self.wrinkles = load_wrinkles(directory)  # a folder without wrinkles.safetensors shades linearly
        self.reach = load_reach(directory)  # a folder without reach.safetensors moves the mesh as the model says

    @classmethod
    def status(cls) -> PluginStatus:
        from ..face_mesh import FaceMesh

        mesh = FaceMesh.status()
        if mesh.state != "ready":
            return PluginStatus(BROKEN, f"it needs the face_mesh analyzer, which is not ready: {mesh.detail}")
        return super().status()

    @property
    def face_mesh(self) -> Any:
        """The Face Landmarker that finds each face's mesh and blendshapes."""
        if self._mesh is None:
            from ..face_mesh import FaceMesh

            self._mesh = FaceMesh()
        return self._mesh

    # -- options ------------------------------------------------------------------------------------
    def controls(self, options: Mapping[str, Any]) -> tuple[float, float, dict[str, float], dict[str, float]]:
        """(strength, texture, units, blendshapes) from generator ``options``, checked."""
        strength = _intensity(options.get("strength", 1.0), "strength", self.max_strength)
        texture = float(options.get("texture", self.config.texture))
        if not 0.0 <= texture <= 2.0:
            raise InputError(f"texture must be between 0 and 2, got {texture:g}")
        units = {unit: _intensity(options[unit.lower()], unit) for unit in MAIN_UNITS
                 if options.get(unit.lower()) not in (None, "")}
        return strength, texture, units, parse_shapes(options.get("blendshapes", ""))

    # -- editing --------------------------------------------------------------------------------------
    def analyse(self, image: np.ndarray, faces: Sequence[Face]) -> list[dict[str, Any]]:
        """The mesh and blendshapes of each face the landmarker finds present (the others are left as they are)."""
        analyses = self.face_mesh.analyze(image, list(faces))
        return [a for a in analyses if self.face_mesh.present(a) and "blendshapes" in a]

    @staticmethod
    def code(analysis: Mapping[str, Any]) -> np.ndarray:
        """The face's own expression code (:func:`.model.face_code`)."""
        return face_code(analysis["blendshapes"])

    def shade(self, current: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(S, S) change of log luminance on the texture square from code ``current`` to ``target``: where
        the emotion weights change and the ratio images of real faces' detail are loaded (:mod:`.wrinkles`),
        those mixed by the change, in place of the model's linear shading (48 px faces' blotchy light);
        else (action units or blendshapes alone) the linear shading."""
        n = len(EMOTIONS)
        if self.wrinkles is not None and not np.allclose(np.asarray(current)[-n:], np.asarray(target)[-n:]):
            return self.wrinkles.shade(current, target)
        return self.model.shade(current, target)

    def edit_analysed(self, image: np.ndarray, analyses: Sequence[Mapping[str, Any]],
                      targets: Sequence[np.ndarray], texture: float) -> np.ndarray:
        """``image`` with face ``k`` of ``analyses`` moved to expression code ``targets[k]``."""
        from ..face_mesh.bundle import canonical_face

        canonical = canonical_face(str(self.face_mesh.bundle))
        normals, skin = _surface(str(self.face_mesh.bundle))
        out = image
        for analysis, target in zip(analyses, targets):
            current = self.code(analysis)
            if np.allclose(current, target):
                continue
            mesh = np.asarray(analysis["mesh"], np.float64)
            pose = pose_frame(mesh, canonical)
            aim = _reach_target(current, target, self.reach)  # the brows as far as the landmarker reads them
            moved = hold_turned_face(mesh, mesh + pose.to_image(self.model.displacement(current, aim)),
                                     pose.rotation, normals, skin)
            glasses = find_glasses(image, mesh)
            frames = frame_points(image, glasses) if glasses is not None else None
            if frames is not None:  # the frames stay rigid with the head: nothing moves across them
                moved = hold_frames(mesh, moved, frames)
            shade = self.shade(current, target) * texture if texture else None
            field = edit_field(out.shape, mesh, moved, uv=canonical.uv[:468] if shade is not None else None,
                               shade=shade, step=self.config.step, keep=closing_openings(mesh, moved, EYES),
                               anchors=frames)
            edited = apply_field(out, field)
            out = paint_mouth(edited, mesh, moved, colours_from=out, bank=self.bank) if self.config.mouth else edited
        return out if out is not image else image.copy()

    def targets(self, analyses: Sequence[Mapping[str, Any]], emotion: str | None, options: Mapping[str, Any]
                ) -> list[np.ndarray]:
        strength, _, units, shapes = self.controls(options)
        return [target_code(self.magnitudes, self.code(a), emotion, strength, units, shapes) for a in analyses]

    def edit_photo(self, image: np.ndarray, faces: Sequence[Face], emotions: Sequence[str],
                   **options: Any) -> dict[str, np.ndarray]:
        """``image`` (RGB uint8, any size) with every face of ``faces`` edited to each of ``emotions``."""
        names = self.check_inputs(emotions, {k: v for k, v in options.items() if k != "image"})
        return self._edit_all(image, self._analyse_some(image, faces), names, options)

    def _edit_all(self, image: np.ndarray, analyses: Sequence[Mapping[str, Any]], names: Sequence[str],
                  options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        texture = self.controls(options)[1]
        return {name: self.edit_analysed(image, analyses, self.targets(analyses, name, options), texture)
                for name in names}

    def _analyse_some(self, image: np.ndarray, faces: Sequence[Face]) -> list[dict[str, Any]]:
        """:meth:`analyse`, or a :class:`NoFaceError` when the mesh finds none of ``faces``."""
        analyses = self.analyse(image, faces)
        if faces and not analyses:
            raise NoFaceError(f"the face mesh finds no face in the {len(faces)} region(s) the detector gave, so there "
                             "is nothing to edit; try a larger, frontal, well-lit face")
        return analyses

    def _path(self, image: np.ndarray, analyses: Sequence[Mapping[str, Any]], stops: Sequence[Sequence[np.ndarray]],
              frames: int, texture: float) -> list[np.ndarray]:
        """``image`` with its faces at each stop's codes and ``frames`` from one stop to the next
        (both included), the codes blending linearly, so the mesh moves smoothly."""
        out = [self.edit_analysed(image, analyses, stops[0], texture)]
        for start, end in zip(stops, stops[1:]):
            for t in np.linspace(0.0, 1.0, int(frames))[1:]:
                out.append(self.edit_analysed(image, analyses, [(1 - t) * a + t * b for a, b in zip(start, end)],
                                              texture))
        return out

    def animate_photo(self, image: np.ndarray, faces: Sequence[Face], emotions: Sequence[str], frames: int = 8,
                      **options: Any) -> list[np.ndarray]:
        """Photos of the faces moving from their own expression through each of ``emotions``
        (``frames`` from one stop to the next, both included)."""
        if int(frames) < 2:
            raise InputError(f"an animation needs at least 2 frames from one stop to the next, got {frames}")
        names = self.check_inputs(emotions, {k: v for k, v in options.items() if k != "image"})
        analyses = self._analyse_some(image, faces)
        stops = [[self.code(a) for a in analyses]] + [self.targets(analyses, n, options) for n in names]
        return self._path(image, analyses, stops, frames, self.controls(options)[1])

    # -- the Generator interface on one face crop -------------------------------------------------
    def _crop(self, options: Mapping[str, Any]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The face crop in ``options["image"]`` as RGB uint8 and its face's analysis (the whole
        crop is the face's box)."""
        from fexlab.preprocessing.images import load_image, to_rgb_array

        image = options.get("image")
        if image is None:
            raise InputError("mesh_warp edits a face, it does not draw one: give the photo to edit (`fexlab generate "
                             "--plugin mesh_warp --image PHOTO`, or upload one under Generate > Edit a face)")
        array = to_rgb_array(image) if isinstance(image, np.ndarray) else load_image(image)
        analyses = self.analyse(array, [Face((0, 0, array.shape[1], array.shape[0]), 1.0, None)])
        if not analyses:
            raise NoFaceError("the face mesh finds no face in this image; give a face crop (the face filling the "
                             "image), or a photo through `fexlab generate --image` which finds its faces first")
        return array, analyses

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """The face crop in ``options["image"]`` (the face fills it) shown in each of ``emotions``,
        at its own size (``seed`` is unused: the edit is deterministic)."""
        from PIL import Image

        names = self.check_inputs(emotions, options)
        image, analyses = self._crop(options)
        photos = self._edit_all(image, analyses, names, options)
        return [Image.fromarray(photos[name]) for name in names]

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8, **options: Any) -> list:
        """The face crop in ``options["image"]`` morphing from the ``start`` emotion to the ``end`` one."""
        from PIL import Image

        (emo_a, _), (emo_b, _) = start, end
        names = self.check_inputs([emo_a, emo_b], options)
        if int(frames) < 2:
            raise InputError(f"interpolation needs at least 2 frames, got {frames}")
        image, analyses = self._crop(options)
        stops = [self.targets(analyses, name, options) for name in names]
        return [Image.fromarray(frame) for frame in self._path(image, analyses, stops, frames,
                                                                self.controls(options)[1])]


def _reach_target(current: np.ndarray, target: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """:func:`.reach.scaled_target` (imported when first needed: the module is also a command)."""
    if factors is None:
        return np.asarray(target)
    from .reach import scaled_target

    return scaled_target(current, target, factors)
