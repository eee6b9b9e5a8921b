"""Expression editing of the faces in a photo: find, align, crop, edit, paste back.

For every face the detector finds, the square around its box (with the editor's margin) is
rotated so the eyes are level and cut out; the editing generator (any plugin with an ``image``
option: stargan, sd_lora) redraws that crop in each target emotion at its own resolution. What it
changed is carried back at the crop's full resolution: the difference between the edit and the
crop as the editor saw it is upsampled and added to the crop (to its luma when the editor works in
gray), so the photo's own detail and colour stay wherever the editor changed nothing. The edited
crop's change is then rotated back into the photo and added with a mask that fades out towards the
crop's border.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fexlab.registry import Face, FaceDetector, Generator, InputError, NoFaceError

__all__ = ["EditedFace", "PhotoEdit", "animate_face", "edit_photo", "feather_mask", "paste_back"]

#: Crops are edited at most this many pixels wide (the editors work at 48 to 512 px).
MAX_CROP = 512


@dataclass
class EditedFace:
    """One face of the photo: its box, the aligned crop and the crop in each emotion (RGB uint8)."""

    box: tuple[float, float, float, float]
    crop: np.ndarray
    edits: dict[str, np.ndarray]
    #: The affine map from photo pixels to crop pixels (2 x 3).
    matrix: np.ndarray
    #: The crop as the editor saw it (RGB, at the editor's resolution).
    seen: np.ndarray
    #: The detector's face (box, score, keypoints), for editors that edit whole photos.
    face: Any = None


@dataclass
class PhotoEdit:
    """The photo, its faces, and the photo with every face edited to each emotion."""

    image: np.ndarray
    faces: list[EditedFace]
    emotions: list[str]
    photos: dict[str, np.ndarray] = field(default_factory=dict)
    #: The detector's boxes the editor found no face in (an editor of whole photos: mesh_warp's face
    #: mesh), left as they are and not among :attr:`faces`.
    skipped: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: How many faces the detector found: more than ``faces`` when only the largest ``max_faces`` were edited.
    found: int = 0

    def limit_note(self) -> str:
        """``20 faces found, the 8 largest edited`` when the photo has more faces than were edited, else ""."""
        edited = len(self.faces) + len(self.skipped)
        return f"{self.found} faces found, the {edited} largest edited" if self.found > edited else ""

    def largest(self) -> int:
        """The index of the largest edited face (the one animated unless another is chosen)."""
        return max(range(len(self.faces)), key=lambda k: self.faces[k].box[2] * self.faces[k].box[3])

    def sheet(self, gap: int = 4) -> np.ndarray:
        """Every face at its crop's own resolution: one row per face, the face as it is and then
        in each emotion, on white (RGB uint8; no resampling beyond the crop itself)."""
        rows = [[face.crop, *(face.edits[e] for e in self.emotions)] for face in self.faces]
        width = max(sum(im.shape[1] for im in row) + gap * (len(row) - 1) for row in rows)
        height = sum(row[0].shape[0] for row in rows) + gap * (len(rows) - 1)
        canvas = np.full((height, width, 3), 255, np.uint8)
        top = 0
        for row in rows:
            left = 0
            for im in row:
                canvas[top:top + im.shape[0], left:left + im.shape[1]] = im
                left += im.shape[1] + gap
            top += row[0].shape[0] + gap
        return canvas


def feather_mask(side: int, fade: float = 0.15) -> np.ndarray:
    """(side, side) float32 weights: 1 inside, falling smoothly to 0 over ``fade`` of the side at each border."""
    ramp = max(1.0, fade * side)
    distance = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32) + 0.5
    edge = np.clip(distance / ramp, 0.0, 1.0)
    edge = edge * edge * (3 - 2 * edge)  # smoothstep
    return np.outer(edge, edge).astype(np.float32)


def _crop_matrix(face: Any, margin: float, align: bool) -> tuple[np.ndarray, int]:
    """The 2 x 3 map from photo pixels to an upright square crop, and the crop's side."""
    from fexlab.preprocessing.align import crop_matrix, eye_angle
    from fexlab.preprocessing.faces import square_box

    side = square_box(face.box, margin)[2]
    angle = (eye_angle(face.landmarks) or 0.0) if align else 0.0
    work = int(max(8, min(side, MAX_CROP)))
    return crop_matrix(face.box, angle, margin, work), work


def _carry_back(crop: np.ndarray, seen: np.ndarray, edited: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``crop`` plus what the editor changed (``scale`` times ``edited - seen`` at the editor's
    size), upsampled; in luma only when the editor's output is gray."""
    import cv2

    side = crop.shape[0]
    gray = np.array_equal(edited[..., 0], edited[..., 1]) and np.array_equal(edited[..., 1], edited[..., 2])
    if gray:
        delta = scale * (cv2.cvtColor(edited, cv2.COLOR_RGB2GRAY).astype(np.float32)
                         - cv2.cvtColor(seen, cv2.COLOR_RGB2GRAY).astype(np.float32))
        delta = cv2.resize(delta, (side, side), interpolation=cv2.INTER_CUBIC)
        ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        ycc[..., 0] = np.clip(ycc[..., 0] + delta, 0, 255)
        return cv2.cvtColor(ycc.round().astype(np.uint8), cv2.COLOR_YCrCb2RGB)
    delta = scale * (edited.astype(np.float32) - seen.astype(np.float32))
    delta = cv2.resize(delta, (side, side), interpolation=cv2.INTER_CUBIC)
    return np.clip(crop.astype(np.float32) + delta, 0, 255).round().astype(np.uint8)


def paste_back(photo: np.ndarray, face: EditedFace, edited_crop: np.ndarray, fade: float = 0.15) -> np.ndarray:
    """``photo`` plus what ``edited_crop`` changed of ``face``'s crop, rotated back and blended in
    with a mask that fades out at the crop's border: where nothing changed, the photo's own pixels
    stay as they are (no resampling of the photo)."""
    import cv2

    height, width = photo.shape[:2]
    inverse = cv2.invertAffineTransform(face.matrix)
    side = edited_crop.shape[0]
    change = edited_crop.astype(np.float32) - face.crop.astype(np.float32)
    back = cv2.warpAffine(change, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    weight = cv2.warpAffine(feather_mask(side, fade), inverse, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    return np.clip(photo.astype(np.float32) + back * weight, 0, 255).round().astype(np.uint8)


def edit_photo(photo: Any, editor: Generator, detector: FaceDetector, emotions: Sequence[str], *,
               strength: float = 1.0, align: bool = True, margin: float | None = None, max_faces: int = 8,
               seed: int = 0, **options: Any) -> PhotoEdit:
    """Every face of ``photo`` (path, bytes, PIL or array) edited by ``editor`` to each of
    ``emotions``, at full resolution, and the photo with all of them pasted back per emotion.

    ``margin`` defaults to the editor's ``crop_margin`` (how its training faces were framed);
    ``align`` levels the eyes where the detector gives them. A photo with no face is a
    :class:`NoFaceError` (an :class:`InputError`) that says what to try.

    An editor that edits whole photos (``edits_photos``: mesh_warp) edits every face in place at
    the photo's resolution; the crops are cut from the photo as it is and as edited.

    ``strength`` 0 gives the photo back byte for byte, whatever the editor (an editor of whole
    photos still applies the action units set one by one in ``options``). An editor that only
    edits (``needs_image``, with a ``strength`` option: stargan) is asked for its full edit and
    for the face as it is (strength 0: its own redrawing of the face), and ``strength`` scales the
    difference: what it cannot reproduce of the face is never pasted, and more strength always
    changes more. Other editors (sd_lora) take ``strength`` as their own option. ``strength`` is at
    most 1, or the editor's ``max_strength`` (mesh_warp: 2, its emotions' most intense real faces).
    """
    import cv2

    from fexlab.preprocessing.images import load_image

    if not editor.edits():
        raise InputError(f"{editor.name} does not edit faces (it takes no image); choose an editing generator "
                         "such as stargan")
    names = editor.check_inputs(emotions, {k: v for k, v in options.items() if k in editor.options})
    top = float(editor.max_strength)  # mesh_warp goes on to its most intense real faces
    if not 0.0 <= strength <= top:
        raise InputError(f"strength must be between 0 and {top:g}, got {strength} ({editor.name})")
    image = load_image(photo)
    detected = detector.detect(image)
    faces = sorted(detected, key=lambda f: -f.box[2] * f.box[3])[:max_faces]
    if not faces:
        raise NoFaceError("no face found in the photo; try a larger, frontal face, or a face crop with the "
                         "full_frame detector")
    margin = float(getattr(editor, "crop_margin", 0.1) if margin is None else margin)
    if editor.edits_photos:
        result = _edit_whole_photo(image, faces, editor, names, margin, align, strength, options)
        result.found = len(detected)
        return result
    scaled = editor.needs_image and "strength" in editor.options
    settings = {**options, "strength": 1.0 if scaled else strength} if "strength" in editor.options else dict(options)
    edited_faces = []
    for face in sorted(faces, key=lambda f: f.box[0]):
        matrix, side = _crop_matrix(face, margin, align)
        crop = _cut(image, matrix, side)
        if strength == 0.0:
            edits = {name: crop.copy() for name in names}
            edited_faces.append(EditedFace(tuple(float(v) for v in face.box), crop, edits, matrix, crop))
            continue
        outputs = [np.asarray(im.convert("RGB")) for im in editor.generate(names, seed=seed, image=crop, **settings)]
        size = outputs[0].shape[0]
        if scaled:  # the editor's own redrawing of the face as it is, the baseline of every change
            seen = np.asarray(editor.generate(names[:1], seed=seed, image=crop, **{**settings, "strength": 0.0})[0]
                              .convert("RGB"))
        else:
            seen = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
        edits = {name: _carry_back(crop, seen, out, strength if scaled else 1.0) for name, out in zip(names, outputs)}
        edited_faces.append(EditedFace(tuple(float(v) for v in face.box), crop, edits, matrix, seen))
    result = PhotoEdit(image, edited_faces, names, found=len(detected))
    if strength == 0.0:
        result.photos = {name: image.copy() for name in names}
        return result
    for name in names:
        canvas = image
        for face in edited_faces:
            canvas = paste_back(canvas, face, face.edits[name])
        result.photos[name] = canvas
    return result


def _cut(photo: np.ndarray, matrix: np.ndarray, side: int) -> np.ndarray:
    import cv2

    return cv2.warpAffine(photo, matrix, (side, side), flags=cv2.INTER_AREA if side < 64 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _edit_whole_photo(image: np.ndarray, faces: Sequence[Any], editor: Generator, names: list[str], margin: float,
                      align: bool, strength: float, options: dict[str, Any]) -> PhotoEdit:
    """An editor that edits whole photos (``edits_photos``: mesh_warp) edits every face in place
    at the photo's resolution; each face's crop is cut from the photo as it is and as edited. With
    ``strength`` above 0, a face the editor left as it is in every emotion is one it found no face
    in (a box on a T-shirt): it goes to ``skipped``, not ``faces``."""
    faces = sorted(faces, key=lambda f: f.box[0])
    photos = editor.edit_photo(image, faces, names, **{**options, "strength": strength})
    edited_faces, skipped = [], []
    for face in faces:
        matrix, side = _crop_matrix(face, margin, align)
        crop = _cut(image, matrix, side)
        edits = {name: _cut(photos[name], matrix, side) for name in names}
        box = tuple(float(v) for v in face.box)
        if strength > 0.0 and all(np.array_equal(edit, crop) for edit in edits.values()):
            skipped.append(box)
            continue
        edited_faces.append(EditedFace(box, crop, edits, matrix, crop, face))
    if not edited_faces:
        raise NoFaceError(f"{editor.name} finds no face to edit in the {len(faces)} region(s) the detector gave; try "
                          "a larger, frontal, well-lit face")
    return PhotoEdit(image, edited_faces, names, dict(photos), skipped)


def animate_face(result: PhotoEdit, editor: Generator, index: int | None = None, *, frames: int = 8, strength: float = 1.0,
                 seed: int = 0, **options: Any) -> Any:
    """An :class:`animation.Animation` of face ``index`` of ``result`` moving through
    ``result.emotions``, every frame carried back to the crop's full resolution. An editor that
    only edits (``needs_image``: stargan) morphs the face between the emotions; one that also
    draws from noise (sd_lora) would morph away from the photo, so its stops are cross-faded.
    ``index`` None: the largest face."""
    from PIL import Image

    from fexlab.pipeline.animation import animate

    index = result.largest() if index is None else index
    if not 0 <= index < len(result.faces):
        raise InputError(f"the photo has {len(result.faces)} face(s); there is no face {index + 1}")
    face = result.faces[index]
    if editor.edits_photos:  # the whole photo moves from the face's own expression through the emotions
        from fexlab.pipeline.animation import Animation

        photos = editor.animate_photo(result.image, [face.face or Face(face.box, 1.0, None)], result.emotions, frames,
                                      **{**options, "strength": strength})
        side = face.crop.shape[0]
        return Animation([Image.fromarray(_cut(photo, face.matrix, side)) for photo in photos], result.emotions,
                         seed, seed, True)
    settings = {**options, "strength": strength} if "strength" in editor.options else dict(options)
    animation = animate(editor, result.emotions, seed, frames, image=face.crop, cross_fade=not editor.needs_image,
                        **settings)
    if strength == 0.0:  # the face as it is, in every frame
        animation.frames = [Image.fromarray(face.crop) for _ in animation.frames]
        return animation
    animation.frames = [Image.fromarray(_carry_back(face.crop, face.seen, np.asarray(frame.convert("RGB"))))
                        for frame in animation.frames]
    return animation
