"""Face detection benchmarks: recall and precision on real faces at known boxes, and speed.

Quality: real face photographs (FER2013 PublicTest crops, read by path from the shared data
folder and never written anywhere; their standard crop, the face filling the 48 px square, is
what makes a box "known") are pasted into larger scenes at known boxes,
sizes from 24 to 400 px and in-plane rotations up to 30 degrees, blended through a feathered
ellipse so no rectangle edge gives them away, on cluttered backgrounds (smooth noise, gradients,
shapes); plus the example photos with their faces marked. A detection is a true face when its
box overlaps a marked face by IoU >= 0.5 (each marked face matched once, best overlap first).
The marked box of a pasted face is the upright square of the crop's side at its centre. Detectors
draw boxes of their own tightness (Haar's about the FER2013 crop, BlazeFace's about 0.8 of it,
brows to chin), so before matching each detector's boxes are rescaled about their centres by one
factor per detector, the median size ratio of its boxes to the marked faces they fall in; the
factor is reported beside the figures.

Speed: each detector alone per 640x480 frame and per example photo.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fexlab.plugins.detectors.blazeface.decode import iou

from .harness import ROOT, Row, time_calls
from .inputs import five_face_image, large_photo, no_face_media, one_face_images

__all__ = ["DETECTORS", "detection_quality", "detection_speed", "false_faces", "make_scenes", "real_faces_dir"]

DETECTORS = ("haar", "blazeface.short", "blazeface.full", "yunet")

#: Faces marked by hand in the example photos, (x, y, w, h).
EXAMPLE_FACES = {
    "astronaut.jpg": [(176, 72, 100, 100)],
    "grace_hopper.jpg": [(160, 125, 205, 205)],
    "two_people.jpg": [(608, 100, 162, 162), (162, 70, 88, 88)],
}


def real_faces_dir() -> Path:
    """The shared real-face folder: ``FEXLAB_REAL_FACES`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("FEXLAB_REAL_FACES", ROOT.parent / "shared" / "data"))


@dataclass
class Scene:
    image: np.ndarray
    boxes: list[tuple[float, float, float, float]]
    name: str


def _face_files(root: Path, rng: np.random.Generator, count: int) -> list[Path]:
    faces = sorted((root / "fer2013" / "val").glob("*/*.jpg"))
    return [faces[i] for i in rng.choice(len(faces), min(count, len(faces)), replace=False)]


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    import cv2

    low = rng.integers(0, 256, (max(2, height // 80), max(2, width // 80), 3)).astype(np.uint8)
    image = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    image += np.linspace(-40, 40, width)[None, :, None] * rng.uniform(-1, 1)
    for _ in range(int(rng.integers(8, 20))):  # clutter: rectangles and circles of random grey levels
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(10, max(11, min(height, width) // 4)))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    image = 0.4 * image + 0.6 * image.mean(axis=2, keepdims=True)  # muted colours, as in most photos
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _paste(scene: np.ndarray, face: np.ndarray, side: int, angle: float, centre: tuple[int, int]) -> None:
    import cv2

    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if side < face.shape[0] else cv2.INTER_CUBIC)
    mask = np.zeros((side, side), np.float32)
    cv2.ellipse(mask, (side // 2, side // 2), (int(side * 0.47), int(side * 0.5)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, side / 30))
    big = int(np.ceil(side * 1.5))
    rotation = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    rotation[:, 2] += (big - side) / 2
    face = cv2.warpAffine(face, rotation, (big, big), borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(mask, rotation, (big, big))[..., None]
    x0, y0 = centre[0] - big // 2, centre[1] - big // 2
    region = scene[y0 : y0 + big, x0 : x0 + big].astype(np.float32)
    scene[y0 : y0 + big, x0 : x0 + big] = (region * (1 - mask) + face * mask).astype(np.uint8)


def make_scenes(root: Path, count: int = 40, seed: int = 0) -> list[Scene]:
    """``count`` scenes (640x480 frames and 1600x1200 photos) of 1-6 real faces each."""
    from fexlab.preprocessing.images import load_image

    rng = np.random.default_rng(seed)
    files = iter(_face_files(root, rng, count * 6))
    scenes = []
    for index in range(count):
        height, width = ((480, 640), (1200, 1600))[index % 2]
        image = _background(rng, height, width)
        boxes: list[tuple[float, float, float, float]] = []
        for _ in range(int(rng.integers(1, 7))):
            side = int(np.exp(rng.uniform(np.log(24), np.log(min(400, height * 0.6)))))
            big = int(np.ceil(side * 1.5))
            for _attempt in range(20):  # pasted regions (1.5 x the face) never overlap
                cx, cy = int(rng.integers(big // 2 + 1, width - big // 2 - 1)), int(rng.integers(big // 2 + 1, height - big // 2 - 1))
                if all(abs(cx - (x + w / 2)) > (side + w) * 0.75 or abs(cy - (y + h / 2)) > (side + h) * 0.75
                       for x, y, w, h in boxes):
                    break
            else:
                continue
            box = (cx - side / 2, cy - side / 2, float(side), float(side))
            path = next(files, None)
            if path is None:
                break
            face = load_image(path)
            _paste(image, face, side, float(rng.uniform(-30, 30)), (cx, cy))
            boxes.append(box)
        scenes.append(Scene(image, boxes, f"scene{index}"))
    return scenes


def example_scenes() -> list[Scene]:
    from fexlab.preprocessing.images import load_image

    return [Scene(load_image(p), [tuple(map(float, b)) for b in EXAMPLE_FACES[p.name]], p.name)
            for p in one_face_images() if p.name in EXAMPLE_FACES]


def _match(found: list[tuple], marked: list[tuple], threshold: float = 0.5) -> int:
    """True detections: marked faces matched one to one, best overlap first, at IoU >= threshold."""
    if not found or not marked:
        return 0
    marked_boxes = np.asarray(marked, np.float64)
    pairs = sorted(((float(overlap), i, j) for i, f in enumerate(found)
                    for j, overlap in enumerate(iou(np.asarray(f, np.float64), marked_boxes))), reverse=True)
    used_f, used_m, hits = set(), set(), 0
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if i not in used_f and j not in used_m:
            used_f.add(i), used_m.add(j)
            hits += 1
    return hits


def _rescaled(box, factor: float) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return (x + w / 2 - w * factor / 2, y + h / 2 - h * factor / 2, w * factor, h * factor)


def _holds_centre(marked, box) -> bool:
    """Whether the marked face box ``marked`` holds the centre of the detected ``box``."""
    x, y, w, h = box
    return marked[0] < x + w / 2 < marked[0] + marked[2] and marked[1] < y + h / 2 < marked[1] + marked[3]


def _size_factor(detections: list[list[tuple]], scenes: list[Scene]) -> float:
    """Median width ratio of a detector's boxes to the marked faces that hold their centres."""
    ratios = [box[2] / m[2] for boxes, scene in zip(detections, scenes) for box in boxes for m in scene.boxes
              if _holds_centre(m, box)]
    return float(np.median(ratios)) if ratios else 1.0


def _with_presence(registry, name: str):
    """``name``'s detect, keeping only the faces the face mesh's presence score accepts."""
    detector, mesh = registry.detector(name), registry.analyzer("face_mesh")

    def detect(image: np.ndarray) -> list:
        faces = detector.detect(image)
        return [face for face, analysis in zip(faces, mesh.analyze(image, faces)) if mesh.present(analysis)]

    return detect


def detection_quality(count: int = 40) -> list[Row]:
    """Recall and precision at IoU 0.5 of every detector on the same scenes, side by side."""
    from fexlab.registry import default_registry

    root = real_faces_dir()
    if not (root / "fer2013").is_dir():
        return [Row("detection quality", "-", None, "recall", note=f"not run: no real faces at {root}")]
    scenes = make_scenes(root, count) + example_scenes()
    registry = default_registry()
    rows = []
    for name, detect in [*((name, registry.detector(name).detect) for name in DETECTORS),
                         ("blazeface.full + face_mesh presence", _with_presence(registry, "blazeface.full"))]:
        detections = [[f.box for f in detect(scene.image)] for scene in scenes]
        factor = _size_factor(detections, scenes)
        per_size = {"24-48 px": [0, 0], "48-120 px": [0, 0], "120-400 px": [0, 0]}
        hits = marked = found_total = alarms = 0
        for scene, boxes in zip(scenes, detections):
            found = [_rescaled(box, 1 / factor) for box in boxes]
            hits += _match(found, scene.boxes)
            alarms += sum(not any(_holds_centre(m, box) for m in scene.boxes) for box in boxes)
            marked += len(scene.boxes)
            found_total += len(found)
            for box in scene.boxes:
                key = "24-48 px" if box[2] < 48 else "48-120 px" if box[2] < 120 else "120-400 px"
                per_size[key][0] += _match(found, [box])
                per_size[key][1] += 1
        recall, precision = hits / max(marked, 1), hits / max(found_total, 1)
        sizes = ", ".join(f"{k}: {h}/{n}" for k, (h, n) in per_size.items())
        rows.append(Row(f"detect quality ({name})", f"{len(scenes)} scenes, {marked} faces", recall, "recall",
                        note=f"precision {precision:.3f} ({hits} true of {found_total} found; {alarms} on no face at all); "
                             f"recall by size {sizes}; "
                             f"boxes rescaled by 1/{factor:.2f}",
                        extra={"recall": recall, "precision": precision, "hits": hits, "marked": marked,
                               "found": found_total, "false_alarms": alarms, "by_size": per_size, "box_factor": factor}))
    return rows


def detection_speed() -> list[Row]:
    """Each detector alone: per 640x480 frame (one face) and per example photo."""
    import cv2

    from fexlab.preprocessing.images import load_image
    from fexlab.registry import default_registry

    photos = [load_image(p) for p in one_face_images()]
    group, large = load_image(five_face_image()), load_image(large_photo())
    frame = np.full((480, 640, 3), 118, np.uint8)
    face = cv2.resize(photos[0], (300, 300), interpolation=cv2.INTER_AREA)
    frame[90:390, 170:470] = face
    registry = default_registry()
    rows = []
    for name in DETECTORS:
        detector = registry.detector(name)
        for case, images in (("640x480 frame, 1 face", [frame]), ("example photos", photos),
                             ("1024x768 group, 5 faces", [group]), ("4032x3024 photo, 2 faces", [large])):
            calls = iter(range(10**9))
            timing = time_calls(lambda: detector.detect(images[next(calls) % len(images)]), min_calls=30,
                                min_seconds=3.0, warmup=3)
            rows.append(Row(f"detect ({name})", case, timing.percentile_ms(50), "ms p50", timing.percentile_ms(50),
                            timing.percentile_ms(95), timing.cpu_ms, extra={"seconds": timing.seconds}))
    return rows


def false_faces() -> list[Row]:
    """Faces each detector reports on media with no face (:func:`benchmarks.inputs.no_face_media`),
    at its own threshold, and the highest score it gives there: a threshold above that reports none."""
    from fexlab.registry import default_registry

    media = no_face_media()
    registry = default_registry()
    rows = []
    for name in DETECTORS:
        detector = registry.detector(name)
        found = {title: detector.detect(image) for title, image in media}
        threshold = getattr(detector.config, "min_score", None)
        lenient = copy.copy(detector)  # the same detector reporting scores from 0.3, its config a copy
        if threshold is not None:
            lenient.config = dataclasses.replace(detector.config, min_score=0.3)
        scores = [face.score for _, image in media for face in lenient.detect(image)]
        count = sum(len(faces) for faces in found.values())
        where = ", ".join(f"{title}: {len(faces)}" for title, faces in found.items() if faces) or "none"
        rows.append(Row(f"false faces ({name})", f"{len(media)} no-face images", count, "faces",
                        note=f"at score >= {threshold}: {where}; highest score from 0.3: "
                             f"{max(scores) if scores else 0:.2f}",
                        extra={"faces": count, "by_image": {t: len(f) for t, f in found.items()},
                               "threshold": threshold, "max_score_from_0_3": max(scores) if scores else 0.0}))
    return rows
