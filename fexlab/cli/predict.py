"""``fexlab predict``: faces and their emotions in photos and videos, printed, as JSON or annotated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fexlab.registry import (
    DEFAULT_ALIGN,
    DEFAULT_CLASSIFIER,
    DEFAULT_DETECTOR,
    FexlabError,
    InputError,
    default_registry,
)
from fexlab.registry.classifier import DEFAULT_MESH_CLASSIFIER
from fexlab.registry.paths import printable

from .common import check_output_dir, err, make_output_dir, print_json, skipped


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="find faces and predict their emotions in images and videos")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, or folders of them")
    p.add_argument("--recursive", "-r", action="store_true", help="folders: also the images and videos in subfolders")
    p.add_argument("--classifier", action="append", metavar="NAME[:CHECKPOINT]",
                   help="classifier plugin, checkpoint or run folder (repeat to compare several; default "
                        f"{DEFAULT_CLASSIFIER}, tag ferplus_muxspace; with the face mesh {DEFAULT_MESH_CLASSIFIER}); "
                        "+flip after it also averages each face with its mirror image")
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint or run folder for the (single) classifier")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help="face detector plugin (full_frame for face crops)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=DEFAULT_ALIGN,
                   help="level the eyes on the detector's keypoints before classifying "
                        f"(default {'on' if DEFAULT_ALIGN else 'off'}: see the alignment measurement in docs/detection.md)")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S",
                   help="leave out faces the detector scores below S, 0 to 1 (default 0: every face it reports; "
                        "blazeface reports faces from 0.5, haar scores its own from 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON array, one object per input")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write images / videos with boxes and labels here")
    p.add_argument("--every", type=int, default=1, metavar="K", help="videos: analyse every K-th frame")
    p.add_argument("--analyzer", action="append", default=[], metavar="NAME",
                   help="face analyzer plugin (repeatable), e.g. face_mesh: adds each face's blendshapes, "
                        "action_units (estimated from blendshapes), head_pose and mesh to --json, drops faces "
                        "it finds no face in, and in videos follows each face from frame to frame")
    p.add_argument("--blendshapes-csv", metavar="PATH",
                   help="write the blendshapes and head pose as a Live Link Face CSV, one row per frame of a "
                        "video's main face, or one row per face of a photo (face 1 first, all at timecode 0); "
                        "with several inputs PATH is a folder of STEM.csv (implies --analyzer face_mesh)")
    p.add_argument("--blendshapes-json", metavar="PATH",
                   help="the same as JSON with the action units (a photo: its faces, numbered, with their boxes "
                        "and no frame rate); with several inputs a folder of STEM.json")
    p.add_argument("--mesh-obj", metavar="OUT_DIR",
                   help="photos: write each face's mesh as STEM.faceN.obj (MediaPipe's triangulation) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.pipeline.predict import Predictor, is_video, media_files

    if args.every < 1:
        raise InputError(f"--every must be at least 1, got {args.every}")
    specs = _classifier_specs(args)
    if args.checkpoint:
        if len(specs) != 1:
            raise InputError("--checkpoint needs exactly one --classifier; use NAME:CHECKPOINT for several")
        specs = [f"{specs[0].split(':')[0]}:{args.checkpoint}"]
    paths = media_files(args.paths, recursive=args.recursive)
    out_dir = check_output_dir(args.annotate) if args.annotate else None
    registry = default_registry()
    if not 0.0 <= args.min_score <= 1.0:
        raise InputError(f"--min-score must lie between 0 and 1, got {args.min_score}")
    predictor = Predictor({spec: registry.classifier(spec) for spec in specs}, registry.detector(args.detector),
                          analyzers={spec: registry.analyzer(spec) for spec in _analyzer_specs(args)},
                          align=args.align, min_score=args.min_score)
    if out_dir is not None:
        make_output_dir(out_dir)

    results, failed = [], 0
    for path in paths:
        record: dict[str, Any] = {"file": printable(path), "faces": [], "error": None}
        try:
            if is_video(path):
                record["faces"], record["summary"] = _predict_video(predictor, path, args.every, out_dir)
            else:
                record["faces"] = _predict_image(predictor, path, out_dir)
            _export_analysis(args, predictor, path, record["faces"], multiple=len(paths) > 1)
        except FexlabError as error:
            record["error"] = str(error)
            failed += 1
        results.append(record)
        if not args.json:
            _print_record(record)
        elif record["error"]:
            err(record["error"])
    if args.json:
        print_json([{k: v for k, v in record.items() if k != "summary"} for record in results])
    return skipped(failed, len(paths), "input")


def _classifier_specs(args: argparse.Namespace) -> list[str]:
    """The --classifier specs; by default efficientnet.ferplus_muxspace, or, where the face mesh runs anyway,
    its fusion with the mesh's geometry (ensemble.geometry: better on every validation split, and
    the mesh it needs is already there)."""
    if args.classifier:
        return list(args.classifier)
    return [DEFAULT_MESH_CLASSIFIER if "face_mesh" in _analyzer_specs(args) else DEFAULT_CLASSIFIER]


def _analyzer_specs(args: argparse.Namespace) -> list[str]:
    """The --analyzer specs, with face_mesh added when an export asks for what it gives."""
    specs = list(args.analyzer)
    if (args.blendshapes_csv or args.blendshapes_json or args.mesh_obj) and not specs:
        specs.append("face_mesh")
    return specs


def _export_target(path: str, source: str, suffix: str, multiple: bool) -> Path:
    """The file an export of ``source`` goes to: ``path`` itself, or ``path/STEM.suffix`` with several inputs."""
    if not multiple:
        make_output_dir(Path(path).parent)
        return Path(path)
    return make_output_dir(path) / f"{Path(source).stem}{suffix}"


def _export_analysis(args: argparse.Namespace, predictor: Any, path: str, faces: list[dict[str, Any]],
                     multiple: bool) -> None:
    """Write --blendshapes-csv / --blendshapes-json / --mesh-obj for one input's faces."""
    from fexlab.pipeline.exports import (
        face_series,
        mesh_topology,
        photo_series,
        write_blendshapes_json,
        write_live_link_csv,
        write_mesh_obj,
    )
    from fexlab.pipeline.predict import is_video, video_fps

    if not (args.blendshapes_csv or args.blendshapes_json or args.mesh_obj):
        return
    fps: float | None = None
    if is_video(path):
        fps = video_fps(path) / args.every
        series = face_series(faces)
    else:
        series = photo_series(faces)
    if (args.blendshapes_csv or args.blendshapes_json) and not series:
        err(f"{path}: no analysed face, so no blendshapes written")
    elif args.blendshapes_csv:
        write_live_link_csv(_export_target(args.blendshapes_csv, path, ".csv", multiple), series, fps)
    if series and args.blendshapes_json:
        write_blendshapes_json(_export_target(args.blendshapes_json, path, ".json", multiple), series, fps)
    if args.mesh_obj and not is_video(path):
        topology = mesh_topology(predictor.analyzers.values())
        if topology is None:
            raise InputError("--mesh-obj needs an analyzer that gives a mesh with triangles, such as face_mesh")
        out = make_output_dir(args.mesh_obj)
        for number, face in enumerate((f for f in faces if "mesh" in f), start=1):
            write_mesh_obj(out / f"{Path(path).stem}.face{number}.obj", face["mesh"], *topology)


def _predict_image(predictor, path: str, out_dir: Path | None) -> list[dict[str, Any]]:
    from fexlab.pipeline.predict import annotate

    result = predictor.predict_image(path, keep_image=out_dir is not None)
    if out_dir is not None:
        from PIL import Image

        scale = result.image.shape[1] / result.size[0]
        faces = [face.scaled(scale) for face in result.faces]
        drawn = _with_mesh(predictor, annotate(result.image, faces, numbers=len(faces) > 1), faces)
        Image.fromarray(drawn).save(out_dir / f"{Path(path).stem}.annotated.png")
    return [face.to_dict() for face in result.faces]


def _predict_video(predictor, path: str, every: int, out_dir: Path | None) -> tuple[list[dict[str, Any]], str]:
    """The faces of every analysed frame, and the line that sums them up; a progress bar on stderr."""
    import contextlib

    from tqdm import tqdm

    from fexlab.pipeline.predict import (
        VideoWriter,
        annotate,
        describe_video,
        playable_suffix,
        video_fps,
        video_frame_count,
    )

    faces: list[dict[str, Any]] = []
    analysed = 0
    total = video_frame_count(path)
    with contextlib.ExitStack() as stack:
        writer = None
        if out_dir is not None:
            target = out_dir / f"{Path(path).stem}.annotated{playable_suffix(path)}"
            writer = stack.enter_context(VideoWriter(target, video_fps(path) / every))
        frames = predictor.predict_video(path, every=every, keep_frames=writer is not None)
        bar = stack.enter_context(tqdm(frames, total=-(-total // every) if total else None, unit="frame",
                                       desc=f"predict {Path(path).name}", file=sys.stderr, leave=False,
                                       disable=None))  # on a terminal only, not in logs or pipes
        for frame in bar:
            analysed += 1
            for face in frame.faces:
                faces.append({"frame": frame.index, "time": round(frame.time, 3), **face.to_dict()})
            if writer is not None:
                writer.write(_with_mesh(predictor, annotate(frame.frame, frame.faces), frame.faces))
    return faces, describe_video(analysed, every, [face["track"] for face in faces])


def _with_mesh(predictor: Any, image: Any, faces: list[Any]) -> Any:
    """``image`` with the faces' meshes drawn on it when an analyzer gave them (--annotate)."""
    from fexlab.pipeline.exports import mesh_topology
    from fexlab.pipeline.predict import draw_mesh

    if not any("mesh" in face.analysis for face in faces):
        return image
    topology = mesh_topology(predictor.analyzers.values())
    return draw_mesh(image, faces, topology[0] if topology else None)


def _print_record(record: dict[str, Any]) -> None:
    """Faces are listed in the one order fexlab uses: left to right, numbered from 1 (in a video,
    by frame, each with its track number)."""
    if record["error"]:
        err(record["error"])
        return
    faces = record["faces"]
    if "summary" in record:
        print(f"{record['file']}: {record['summary']}")
    elif faces:
        print(f"{record['file']}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
    if not faces:
        print(f"{record['file']}: no face found (for images that are already face crops, use --detector full_frame)")
        return
    for number, face in enumerate(faces, start=1):
        where = f"frame {face['frame']} track {face['track']}" if "frame" in face else f"face {number}"
        # several classifiers: each one's answer, named; one classifier: its answer alone
        answers = {f"{name} ": a for name, a in face["classifiers"].items()} if "classifiers" in face else {"": face}
        said = ", ".join(f"{name}{a['emotion']} ({a['probabilities'][a['emotion']]:.0%})" for name, a in answers.items())
        print(f"  {where} box {tuple(face['box'])}: {said}")
        if "action_units" in face:
            print(f"    {_describe_analysis(face)}")


def _describe_analysis(face: dict[str, Any]) -> str:
    """One line of a face's analysis: its strongest action units and its head pose."""
    units = sorted(face["action_units"].items(), key=lambda item: -item[1])
    strong = ", ".join(f"{unit} {value:.2f}" for unit, value in units if value >= 0.3) or "none >= 0.3"
    pose = face.get("head_pose", {})
    angles = " ".join(f"{angle} {pose[angle]:+.0f}" for angle in ("yaw", "pitch", "roll") if angle in pose)
    return f"action units (estimated from blendshapes): {strong}; head pose {angles} degrees"
