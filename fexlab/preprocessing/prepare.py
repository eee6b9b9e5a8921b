"""``fexlab prepare``: any data set source -> a clean class-per-folder set of face crops.

OUT gets ``{train,val,test}/{emotion}/{name}.png`` (one crop per source image: the largest face
when a ``detector`` is given; it is passed in, never chosen here), ``report.json`` and ``class_balance.png``. The source is only read. A file that
cannot be read is listed under ``failed`` and skipped; an image with no face under ``no_face``.
File names derive from the source id, so re-running into the same OUT rewrites the same files,
and crops a previous run wrote that this run did not (another seed or split) are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fexlab.registry.detector import FaceDetector
from fexlab.registry.emotions import EMOTIONS
from fexlab.registry.errors import FexlabError, InputError

from .align import EyeFinder, align_face, to_gray
from .faces import crop_face
from .readers import SPLITS, FaceDataset, open_dataset, parse_fractions

__all__ = ["REPORT_NAME", "prepare", "write_faces"]

REPORT_NAME = "report.json"
_CHUNK = 64


def _output_name(source_id: str) -> str:
    """A file name unique to ``source_id``: its readable tail plus a short hash of the whole id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source_id.replace(":", "_")).with_suffix("").as_posix())[-60:]
    return f"{stem.strip('._') or 'face'}-{hashlib.sha1(source_id.encode()).hexdigest()[:8]}.png"


def _decoded(dataset: FaceDataset) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """(index, image, None) or (index, None, error) for every face, decoding in chunks when possible."""
    for start in range(0, len(dataset), _CHUNK):
        indices = range(start, min(start + _CHUNK, len(dataset)))
        try:
            images = dataset.images(indices)
        except FexlabError:  # a bad file in this chunk: decode one by one to isolate it
            images = None
        for offset, index in enumerate(indices):
            if images is not None:
                yield index, images[offset], None
                continue
            try:
                yield index, dataset.images([index])[0], None
            except FexlabError as err:
                yield index, None, str(err)


def _check_paths(source: str, out: Path) -> None:
    src = Path(source).expanduser()
    if not src.exists():
        return
    src, target = src.resolve(), out.resolve()
    if target == src or (src.is_dir() and target.is_relative_to(src)):
        raise InputError(f"the output folder {out} is inside the source {source}; choose a folder outside it")


def _save(path: Path, image: np.ndarray) -> None:
    """Write a PNG atomically (a killed run never leaves half a file)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(tmp), data):
        raise OSError(f"cannot write {tmp}")
    os.replace(tmp, path)


def write_faces(dataset: FaceDataset, out: str | Path, *, detector: FaceDetector | None = None, align: bool = False,
                eye_finder: EyeFinder | None = None, size: int = 64, gray: bool = False,
                margin: float | None = None, progress: bool = True, desc: str = "prepare",
                options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``dataset``'s faces under ``out`` as class-per-folder crops; returns the report.

    ``detector`` finds the face in each image (None: the whole image is the face); with ``align``
    the eyes are levelled on the detector's eye keypoints, or on what ``eye_finder`` finds where
    the detector gives none.
    """
    from tqdm.auto import tqdm

    if not 8 <= size <= 1024:
        raise InputError(f"--size must be between 8 and 1024 pixels, got {size}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(out)
    detect = detector is not None
    margin = (0.1 if detect else 0.0) if margin is None else margin
    labels, splits, ids = dataset.labels(), dataset.split_names(), dataset.source_ids()
    written: list[str] = []
    no_face: list[str] = []
    failed: list[dict[str, str]] = []
    counts = {split: dict.fromkeys(EMOTIONS, 0) for split in SPLITS}
    bar = tqdm(_decoded(dataset), total=len(dataset), desc=desc, unit="img", disable=not progress)
    for index, image, error in bar:
        source_id = str(ids[index])
        if error is not None:
            failed.append({"path": source_id, "error": error})
            continue
        height, width = image.shape[:2]
        faces = detector.detect(image) if detector is not None else [(0, 0, width, height)]
        if not faces:
            no_face.append(source_id)
            continue
        if align:
            crop = align_face(image, faces[0], size=size, margin=margin, gray=gray, eye_finder=eye_finder)
        else:
            box = faces[0].box if detector is not None else faces[0]
            crop = crop_face(image, box, margin=margin, size=size)
            crop = to_gray(crop) if gray else crop
        split, emotion = str(splits[index]), EMOTIONS[int(labels[index])]
        relative = f"{split}/{emotion}/{_output_name(source_id)}"
        try:
            _save(out / relative, crop)
        except OSError as err:
            failed.append({"path": source_id, "error": f"cannot write {relative}: {err}"})
            continue
        written.append(relative)
        counts[split][emotion] += 1
    for stale in previous - set(written):  # only files a previous run of prepare wrote here
        (out / stale).unlink(missing_ok=True)
    report = {
        "source": dataset.name, "synthetic": dataset.synthetic, "images": len(dataset), "faces": len(written),
        "no_face": no_face, "failed": failed,
        "classes": {e: sum(counts[s][e] for s in SPLITS) for e in EMOTIONS},
        "splits": counts, "dropped_labels": dataset.info.get("dropped_labels", []),
        "options": {"detect": detector.name if detect else None, "align": align, "size": size, "gray": gray, "margin": margin, **(options or {})},
        "files": sorted(written),
    }
    (out / REPORT_NAME).write_text(json.dumps(report, indent=2))
    _plot_balance(report, out)
    return report


def _previous_files(out: Path) -> set[str]:
    try:
        return set(json.loads((out / REPORT_NAME).read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        return set()


def _plot_balance(report: dict[str, Any], out: Path) -> None:
    from fexlab.eval.plots import class_balance, save_figure

    title = f"{'SYNTHETIC faces' if report['synthetic'] else 'Faces'} per emotion in {out.name}"
    save_figure(class_balance(report["classes"], title), out / "class_balance.png")


def prepare(source: str, out: str | Path, *, detector: FaceDetector | None = None, align: bool = False,
            eye_finder: EyeFinder | None = None, size: int = 64, gray: bool = False,
            split: str | Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
            progress: bool = True, desc: str = "prepare", **reader_options: Any) -> dict[str, Any]:
    """Open ``source`` with :func:`~fexlab.preprocessing.readers.open_dataset` and write its crops under ``out``
    (see :func:`write_faces` for ``detector``, ``align`` and ``eye_finder``; ``desc`` labels the progress bar)."""
    out = Path(out)
    _check_paths(str(source), out)
    fractions = parse_fractions(split)
    dataset = open_dataset(source, split_fractions=fractions, seed=seed, **reader_options)
    options = {"split": list(fractions), "seed": seed, **reader_options}
    return write_faces(dataset, out, detector=detector, align=align, eye_finder=eye_finder, size=size, gray=gray,
                       progress=progress, desc=desc, options=options)
