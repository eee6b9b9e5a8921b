"""The ``fexlab`` command: predict, plugins, serve, and the commands each capability adds.

Every subcommand is a pair of functions here, ``add_<name>(subparsers)`` and ``run_<name>(args)``;
the work itself lives in the packages. A :class:`registry.FexlabError` becomes one line on stderr
and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from registry import DEFAULT_ALIGN, DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, FexlabError, InputError, default_registry

__all__ = ["build_parser", "main"]


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _err(message: str) -> None:
    print(f"fexlab: {message}", file=sys.stderr)


def check_output_dir(path: str | Path) -> Path:
    """Create ``path`` (a folder to write into) or fail before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".fexlab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise InputError(f"cannot write to the output folder {path}: {err.strerror or err}") from None
    return path


# -- fexlab plugins --------------------------------------------------------------------------------
def add_plugins(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and whether they are ready")
    p.add_argument("--kind", choices=["classifier", "generator", "detector", "analyzer"], help="only this kind")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {name, kind, status, detail, tags, options}")
    p.set_defaults(func=run_plugins)


def plugin_extras(registry: Any, kind: str, name: str) -> dict[str, Any]:
    """A plugin's pretrained tags (``NAME.TAG``, the default first) and its generator options."""
    from registry.checkpoint import is_hub_id

    try:
        cls = registry.plugin_class(kind, name)
    except FexlabError:
        return {"tags": [], "options": {}}
    tags = []
    for number, (tag, source) in enumerate(getattr(cls, "pretrained", {}).items()):
        notes = ["default"] if number == 0 else []
        if not is_hub_id(source) and not Path(source).exists():
            notes.append("no weights here")
        tags.append(f"{name}.{tag}" + (f" ({', '.join(notes)})" if notes else ""))
    options = {key: value for key, value in getattr(cls, "options", {}).items() if key != "image"}
    return {"tags": tags, "options": options}


def run_plugins(args: argparse.Namespace) -> int:
    registry = default_registry()
    infos = registry.infos(args.kind)
    extras = [plugin_extras(registry, info.kind, info.name) for info in infos]
    if args.json:
        _print_json([{**info.as_dict(), **extra} for info, extra in zip(infos, extras, strict=True)])
        return 0
    width = max((len(i.name) for i in infos), default=4)
    indent = " " * (10 + 2 + width + 2 + 13 + 2)
    for info, extra in zip(infos, extras, strict=True):
        print(f"{info.kind:<10}  {info.name:<{width}}  {info.status:<13}  {info.detail}")
        if extra["tags"]:
            print(f"{indent}tags: {', '.join(extra['tags'])}")
        if extra["options"]:
            options = ", ".join(f"{key}={value!r}" if isinstance(value, str) else f"{key}=(unset)" if value is None
                                else f"{key}={value}" for key, value in extra["options"].items())
            print(f"{indent}options (--option KEY=VALUE): {options}")
    return 0


# -- fexlab predict --------------------------------------------------------------------------------
def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="find faces and predict their emotions in images and videos")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, or folders of them")
    p.add_argument("--recursive", "-r", action="store_true", help="folders: also the images and videos in subfolders")
    p.add_argument("--classifier", action="append", metavar="NAME[:CHECKPOINT]",
                   help="classifier plugin, checkpoint or run folder (repeat to compare several; default "
                        f"{DEFAULT_CLASSIFIER}, tag ferplus); +flip after it also averages each face with its mirror image")
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint or run folder for the (single) classifier")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help="face detector plugin (full_frame for face crops)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=DEFAULT_ALIGN,
                   help="level the eyes on the detector's keypoints before classifying "
                        f"(default {'on' if DEFAULT_ALIGN else 'off'}: see the README's alignment measurement)")
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
                   help="write the blendshapes and head pose as a Live Link Face CSV, one row per frame (a "
                        "photo: one row); with several inputs PATH is a folder of STEM.csv (implies "
                        "--analyzer face_mesh)")
    p.add_argument("--blendshapes-json", metavar="PATH",
                   help="the same as JSON with the action units; with several inputs a folder of STEM.json")
    p.add_argument("--mesh-obj", metavar="OUT_DIR",
                   help="photos: write each face's mesh as STEM.faceN.obj (MediaPipe's triangulation) here")
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from predict import Predictor, is_video, media_files

    if args.every < 1:
        raise InputError(f"--every must be at least 1, got {args.every}")
    specs = args.classifier or [DEFAULT_CLASSIFIER]
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

    results, failed = [], 0
    for path in paths:
        record: dict[str, Any] = {"file": path, "faces": [], "error": None}
        try:
            if is_video(path):
                record["faces"], record["summary"] = _predict_video(predictor, path, args.every, out_dir)
            else:
                record["faces"] = _predict_image(predictor, path, out_dir)
            _export_analysis(args, predictor, path, record["faces"], multiple=len(paths) > 1)
        except FexlabError as err:
            record["error"] = str(err)
            failed += 1
        results.append(record)
        if not args.json:
            _print_record(record)
        elif record["error"]:
            _err(record["error"])
    if args.json:
        _print_json([{k: v for k, v in record.items() if k != "summary"} for record in results])
    return _skipped(failed, len(paths), "input")


def _analyzer_specs(args: argparse.Namespace) -> list[str]:
    """The --analyzer specs, with face_mesh added when an export asks for what it gives."""
    specs = list(args.analyzer)
    if (args.blendshapes_csv or args.blendshapes_json or args.mesh_obj) and not specs:
        specs.append("face_mesh")
    return specs


def _export_target(path: str, source: str, suffix: str, multiple: bool) -> Path:
    """The file an export of ``source`` goes to: ``path`` itself, or ``path/STEM.suffix`` with several inputs."""
    if not multiple:
        check_output_dir(Path(path).parent)
        return Path(path)
    return check_output_dir(path) / f"{Path(source).stem}{suffix}"


def _export_analysis(args: argparse.Namespace, predictor: Any, path: str, faces: list[dict[str, Any]],
                     multiple: bool) -> None:
    """Write --blendshapes-csv / --blendshapes-json / --mesh-obj for one input's faces."""
    from exports import face_series, write_blendshapes_json, write_live_link_csv, write_mesh_obj
    from predict import is_video, video_fps

    if not (args.blendshapes_csv or args.blendshapes_json or args.mesh_obj):
        return
    if is_video(path):
        fps = video_fps(path) / args.every
        series = face_series(faces)
    else:
        fps = 60.0
        series = [(0.0, max(faces, key=lambda f: f["box"][2] * f["box"][3]))] if faces and "blendshapes" in faces[0] else []
    if (args.blendshapes_csv or args.blendshapes_json) and not series:
        _err(f"{path}: no analysed face, so no blendshapes written")
    elif args.blendshapes_csv:
        write_live_link_csv(_export_target(args.blendshapes_csv, path, ".csv", multiple), series, fps)
    if series and args.blendshapes_json:
        write_blendshapes_json(_export_target(args.blendshapes_json, path, ".json", multiple), series, fps)
    if args.mesh_obj and not is_video(path):
        topology = next((a.mesh_faces() for a in predictor.analyzers.values() if a.mesh_faces() is not None), None)
        if topology is None:
            raise InputError("--mesh-obj needs an analyzer that gives a mesh with triangles, such as face_mesh")
        out = check_output_dir(args.mesh_obj)
        for number, face in enumerate((f for f in faces if "mesh" in f), start=1):
            write_mesh_obj(out / f"{Path(path).stem}.face{number}.obj", face["mesh"], *topology)


def _skipped(failed: int, total: int, what: str) -> int:
    """The exit status of a command that went on past bad inputs (README, "Exit status"): 0 when
    none failed; else 1, after a last line on stderr saying how many were skipped."""
    if not failed:
        return 0
    _err(f"skipped {failed} of {total} {what}{'s' if total != 1 else ''} that could not be read (see above); "
         "exit status 1")
    return 1


def _predict_image(predictor, path: str, out_dir: Path | None) -> list[dict[str, Any]]:
    from predict import annotate

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

    from predict import VideoWriter, annotate, describe_video, playable_suffix, video_fps, video_frame_count

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
    from predict import draw_mesh

    if not any("mesh" in face.analysis for face in faces):
        return image
    topology = next((a.mesh_faces() for a in predictor.analyzers.values() if a.mesh_faces() is not None), None)
    return draw_mesh(image, faces, topology[0] if topology else None)


def _print_record(record: dict[str, Any]) -> None:
    """Faces are listed in the one order fexlab uses: left to right, numbered from 1 (in a video,
    by frame, each with its track number)."""
    if record["error"]:
        _err(record["error"])
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


# -- fexlab avatar ---------------------------------------------------------------------------------
def add_avatar(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("avatar", help="the FACS cartoon face wearing the expression and head pose of a photo or video")
    p.add_argument("path", metavar="PHOTO_OR_VIDEO")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for STEM.avatar.png (a photo: its largest face) or STEM.avatar.webm (a video: "
                        "each frame beside its avatar)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"face detector plugin (default {DEFAULT_DETECTOR})")
    p.add_argument("--analyzer", default="face_mesh", help="face analyzer giving action units and head pose "
                                                            "(default face_mesh)")
    p.add_argument("--seed", type=int, default=0, help="the cartoon identity (default 0)")
    p.add_argument("--size", type=int, default=256, help="avatar side in pixels, 48 to 256 (default 256)")
    p.add_argument("--every", type=int, default=1, metavar="K", help="videos: every K-th frame")
    p.set_defaults(func=run_avatar)


def run_avatar(args: argparse.Namespace) -> int:
    from avatar import avatar_of, write_avatar_video
    from predict import Predictor, is_video, video_fps

    if not 48 <= args.size <= 256:
        raise InputError(f"--size must be between 48 and 256 pixels, got {args.size}")
    if args.every < 1:
        raise InputError(f"--every must be at least 1, got {args.every}")
    if not Path(args.path).is_file():
        raise InputError(f"{args.path}: no such file")
    out = check_output_dir(args.out)
    registry = default_registry()
    analyzer = registry.analyzer(args.analyzer)
    # A Predictor runs at least one classifier; the avatar reads only the analysis, so the cheapest one.
    predictor = Predictor({"mini_xception": registry.classifier("mini_xception")}, registry.detector(args.detector),
                          analyzers={args.analyzer: analyzer})
    stem = Path(args.path).stem
    if is_video(args.path):
        target = out / f"{stem}.avatar.webm"
        frames = predictor.predict_video(args.path, every=args.every, keep_frames=True)
        count = write_avatar_video(target, frames, video_fps(args.path) / args.every, seed=args.seed, size=args.size)
        print(f"wrote {target} ({count} frames)")
        return 0
    from PIL import Image

    faces = [face for face in predictor.predict_image(args.path).faces if face.analysis.get("action_units")]
    if not faces:
        raise InputError(f"{args.path}: no face found for the avatar")
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    target = out / f"{stem}.avatar.png"
    Image.fromarray(avatar_of(face.analysis, seed=args.seed, size=args.size)).save(target)
    print(f"wrote {target}")
    return 0


# -- fexlab serve ----------------------------------------------------------------------------------
def add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="launch the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import app

    app.launch(host=args.host, port=args.port, share=args.share)
    return 0


# -- fexlab generate -------------------------------------------------------------------------------
def add_generate(sub: argparse._SubParsersAction) -> None:
    from animation import MODES

    p = sub.add_parser("generate", help="generate faces showing emotions; one seed keeps one identity")
    p.add_argument("--plugin", default="cgan", metavar="NAME[.TAG][:CHECKPOINT]", help="generator plugin (default cgan)")
    p.add_argument("--emotion", action="append", metavar="EMOTION",
                   help="emotion to generate (repeat for several; 'all' for the seven; default all)")
    p.add_argument("--n", type=int, default=1, help="faces per emotion, from seeds SEED, SEED+1, ... (default 1)")
    p.add_argument("--seed", type=int, default=0, help="first seed; the same arguments give the same files (default 0)")
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint or run folder of the generator")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="generator option, e.g. truncation=0.7 or steps=30 (repeat; `fexlab plugins` lists them)")
    p.add_argument("--image", metavar="PATH", help="a photo whose faces are edited into each emotion (generators that "
                   "edit: stargan, sd_lora); writes each face and the photo with the edits pasted back")
    p.add_argument("--detector", metavar="NAME", help=f"with --image: the face detector (default {DEFAULT_DETECTOR}; "
                   "full_frame when the photo is already a face crop)")
    p.add_argument("--no-align", dest="align", action="store_false",
                   help="with --image: crop the faces as found, without levelling the eyes")
    p.add_argument("--animate", choices=MODES, help="write an animated GIF and a WebM per seed instead of PNGs: "
                   "interpolate morphs between two --emotion (default neutral, happy), all shows one identity "
                   "through every --emotion in turn (default the seven)")
    p.add_argument("--frames", type=int, metavar="N", help="with --animate: frames from one emotion to the next, "
                   "both included (default 16)")
    p.add_argument("--fps", type=float, metavar="F", help="with --animate: frames per second, 1 to 50 (default 8)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files (PLUGIN_EMOTION_seedN.png; "
                   "with --image PLUGIN_faceN_EMOTION.png, PLUGIN_photo_EMOTION.png and PLUGIN_grid.png; "
                   "with --animate interpolate also the frames as one strip, PLUGIN_EMOTIONS_seedN.png; "
                   "with --animate PLUGIN_EMOTIONS_seedN.gif and .webm)")
    p.set_defaults(func=run_generate)


def _generator_options(generator: Any, pairs: Sequence[str], image: str | None) -> dict[str, Any]:
    """``["truncation=0.7"]`` -> ``{"truncation": 0.7}``, typed by the option's default."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key.strip() not in generator.options:
            raise InputError(f"--option takes KEY=VALUE with KEY one of {sorted(generator.options)}, got '{pair}'")
        default = generator.options[key.strip()]
        try:
            options[key.strip()] = type(default)(text) if isinstance(default, (int, float)) else text
        except ValueError:
            raise InputError(f"--option {key.strip()} must be a {type(default).__name__}, got '{text}'") from None
    if image is not None and not generator.edits():
        raise InputError(f"{generator.name} cannot edit an image; drop --image, or use an editing generator such as "
                         "stargan")
    return options


def run_generate(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise InputError(f"--n must be at least 1, got {args.n}")
    if args.animate is None and (args.frames is not None or args.fps is not None):
        raise InputError("--frames and --fps go with --animate")
    out = check_output_dir(args.out)
    generator = default_registry().generator(args.plugin, checkpoint=args.checkpoint)
    options = _generator_options(generator, args.option, args.image)
    name = args.plugin.split(":")[0]
    if args.detector is not None and args.image is None:
        raise InputError("--detector goes with --image (the photo whose faces are edited)")
    if args.image is not None:
        return _edit(generator, name, args, options, out)
    if args.animate:
        return _animate(generator, name, args, options, out)
    emotions = generator.check_inputs(args.emotion or ["all"], options)
    for seed in range(args.seed, args.seed + args.n):
        for emotion, image in zip(emotions, generator.generate(emotions, seed=seed, **options)):
            path = out / f"{name}_{emotion}_seed{seed}.png"
            image.save(path)
            print(path)
    return 0


def _edit(generator: Any, name: str, args: argparse.Namespace, options: dict[str, Any], out: Path) -> int:
    """``--image``: every face of the photo edited into each emotion (PLUGIN_faceN_EMOTION.png),
    the photo with all of them pasted back (PLUGIN_photo_EMOTION.png), every face in every emotion
    at its own resolution (PLUGIN_sheet.png) and as a labelled figure (PLUGIN_grid.png); with
    ``--animate``, the first face as GIF and WebM."""
    from PIL import Image

    from editing import animate_face, edit_photo

    detector = default_registry().detector(args.detector or DEFAULT_DETECTOR)
    strength = float(options.pop("strength", generator.options.get("strength", 1.0)))
    if args.animate:
        from animation import check_fps, path_emotions

        fps = check_fps(8.0 if args.fps is None else args.fps)
        # an editor of whole photos starts from the face's own expression: one emotion is a path
        emotions = (generator.check_inputs(args.emotion or ["all"], options) if generator.edits_photos
                    else path_emotions(args.animate, args.emotion))
    else:
        emotions = generator.check_inputs(args.emotion or ["all"], options)
    result = edit_photo(args.image, generator, detector, emotions, strength=strength, align=args.align, seed=args.seed,
                        **options)
    if args.animate:
        animation = animate_face(result, generator, 0, frames=16 if args.frames is None else args.frames,
                                 strength=strength, seed=args.seed, **options)
        for path in animation.save(out / animation.stem(f"{name}_face1"), fps):
            print(path)
        return 0
    for emotion in emotions:
        for number, face in enumerate(result.faces, start=1):
            path = out / f"{name}_face{number}_{emotion}.png"
            Image.fromarray(face.edits[emotion]).save(path)
            print(path)
        path = out / f"{name}_photo_{emotion}.png"
        Image.fromarray(result.photos[emotion]).save(path)
        print(path)
    path = out / f"{name}_sheet.png"
    Image.fromarray(result.sheet()).save(path)  # every face at its own resolution, no figure around it
    print(path)
    from eval.plots import sample_grid, save_figure

    rows = {f"face {n}": [face.crop, *(face.edits[e] for e in emotions)] for n, face in enumerate(result.faces, 1)}
    title = f"{name}: {Path(args.image).name}, each face (rows) in each emotion, strength {strength:g}"
    print(save_figure(sample_grid(rows, ["photo", *emotions], title=title, cell=1.3), out / f"{name}_grid.png"))
    return 0


def _animate(generator: Any, name: str, args: argparse.Namespace, options: dict[str, Any], out: Path) -> int:
    """``--animate``: a GIF and a WebM for each seed (README, "Animated export")."""
    from animation import animate, check_fps, path_emotions

    emotions, fps = path_emotions(args.animate, args.emotion), check_fps(8.0 if args.fps is None else args.fps)
    for seed in range(args.seed, args.seed + args.n):
        animation = animate(generator, emotions, seed, 16 if args.frames is None else args.frames, **options)
        for path in animation.save(out / animation.stem(name), fps):
            print(path)
        if args.animate == "interpolate":  # two emotions: the frames also as one strip
            print(animation.save_strip(out / f"{animation.stem(name)}.png", f"{name}: {' → '.join(emotions)}"))
    if not animation.morphed:
        _err(f"note: {name} does not interpolate on its own; the frames between two emotions are cross-fades")
    return 0


# -- fexlab train ----------------------------------------------------------------------------------
#: Trainer name -> its light config module (HELP, add_arguments(parser), main(args)); no torch import.
TRAINERS = {"classifier": "trainers.classifier.config", "cgan": "trainers.cgan.config",
            "stargan": "trainers.stargan.config", "sd-lora": "trainers.sd_lora.config"}


def add_train(sub: argparse._SubParsersAction) -> None:
    import importlib

    p = sub.add_parser("train", help="train a classifier or generator plugin with Accelerate")
    trainers = p.add_subparsers(dest="trainer", required=True, metavar="TRAINER")
    for name, module_name in TRAINERS.items():
        module = importlib.import_module(module_name)
        t = trainers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(t)
        t.set_defaults(func=run_train, trainer_module=module_name)


def run_train(args: argparse.Namespace) -> int:
    import importlib

    return int(importlib.import_module(args.trainer_module).main(args) or 0)


# -- fexlab evaluate -------------------------------------------------------------------------------
def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score classifiers and generators on one data split; write a leaderboard")
    p.add_argument("--classifier", action="append", default=[], metavar="NAME[:CHECKPOINT]",
                   help="classifier to score (repeat; a checkpoint or training-run folder after ':' or alone; "
                        "+flip after it averages each face with its mirror image)")
    p.add_argument("--generator", action="append", default=[], metavar="NAME[:CHECKPOINT]",
                   help="generator to score with the judge (repeat)")
    p.add_argument("--judge", metavar="NAME[:CHECKPOINT]",
                   help="classifier that judges generated faces (default: the first --classifier, else mini_xception)")
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="synthetic[:n=...], a FER2013 .csv, FER+ votes (majority labels), an image-list table, "
                        "a class-per-folder tree, a save_to_disk folder or hf:owner/name; A+B for both")
    p.add_argument("--split", default="test", help="split to score on (default test)")
    p.add_argument("--n-per-emotion", type=int, default=100, metavar="N",
                   help="generated (and real reference) faces per emotion for each generator; for an editor, the real "
                        "faces (or photos) of each emotion it edits (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for generation, sampling and bootstrap (default 0)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/results/*.json, DIR/plots/*.png, DIR/leaderboard.md and .csv")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--detector", metavar="NAME",
                   help=f"score classifiers and face editors end to end on whole photos: this detector's largest face "
                        f"of each image, cropped with each classifier's (and the judge's) margin; editors edit the whole "
                        f"photo (e.g. {DEFAULT_DETECTOR}; photos with no face are counted and left out; generators that "
                        "draw faces are refused)")
    p.add_argument("--align", action="store_true", help="with --detector: level the eyes before cropping")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    out = check_output_dir(args.out)
    if not args.classifier and not args.generator:
        raise InputError("nothing to evaluate: give at least one --classifier or --generator")
    from tqdm import tqdm

    from eval.harness import evaluate
    from eval.results import leaderboard_markdown, warnings_by_text

    with tqdm(total=1000, desc="loading models", file=sys.stderr, leave=False,
              bar_format="evaluate {percentage:3.0f}%|{bar}| {desc}") as bar:
        def progress(fraction: float, message: str) -> None:
            bar.n = round(1000 * fraction)
            bar.set_description_str(message, refresh=True)

        report = evaluate(args.classifier, args.generator, data=args.data, out=out, judge=args.judge,
                          split=args.split, n_per_emotion=args.n_per_emotion, seed=args.seed,
                          progress=progress, plots=not args.no_plots, detector=args.detector, align=args.align)
    print(leaderboard_markdown(report.leaderboard))
    print(f"wrote {report.markdown}, {report.csv}, {len(report.result_files)} result(s) in {out / 'results'}"
          + (f" and {len(report.plots)} plot(s) in {out / 'plots'}" if report.plots else ""))
    for warning, models in warnings_by_text(report.results).items():
        _err(f"warning ({', '.join(models)}): {warning}")
    return 0


# -- fexlab prepare / synth / augment-preview --------------------------------------------------------
def add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="turn photos or any data set into class-per-folder face crops")
    p.add_argument("source", metavar="SOURCE",
                   help="class-per-folder photos, a FER2013 .csv, a Hugging Face save_to_disk folder, hf:owner/name "
                        "or synthetic[:n=...]")
    p.add_argument("out", metavar="OUT", help="output folder (gets SPLIT/EMOTION/*.png and report.json)")
    p.add_argument("--detect", action="store_true", help="find the face with --detector (else: the whole image is the face)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"face detector plugin for --detect (default {DEFAULT_DETECTOR})")
    p.add_argument("--align", action="store_true",
                   help="rotate so the eyes are level before cropping (the detector's eye keypoints, else OpenCV's eye cascade)")
    p.add_argument("--size", type=int, default=64, help="side of the square crops in pixels (default 64)")
    p.add_argument("--gray", action="store_true", help="write one-channel gray crops")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,val,test fractions where the source has no splits")
    p.add_argument("--seed", type=int, default=0, help="seed of those splits")
    p.add_argument("--image-column", help="Hugging Face data sets: the image column")
    p.add_argument("--label-column", help="Hugging Face data sets: the label column")
    p.add_argument("--labels", help="order of numeric labels: rafdb, affectnet or fer2013")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    from preprocessing.prepare import REPORT_NAME, prepare

    out = check_output_dir(args.out)
    columns = {k: v for k, v in (("image_column", args.image_column), ("label_column", args.label_column),
                                 ("labels", args.labels)) if v}
    detector = default_registry().detector(args.detector) if args.detect else None
    report = prepare(args.source, out, detector=detector, align=args.align, eye_finder=_eye_cascade() if args.align else None,
                     size=args.size, gray=args.gray, split=args.split, seed=args.seed, **columns)
    for failure in report["failed"][:5]:
        _err(f"skipped {failure['path']}: {failure['error']}")
    print(f"{report['faces']} faces from {report['images']} images written to {out} "
          f"({len(report['no_face'])} without a face, {len(report['failed'])} failed); see {out / REPORT_NAME}")
    return _skipped(len(report["failed"]), report["images"], "image")


def _eye_cascade() -> Any:
    """OpenCV's eye cascade (the ``haar`` plugin's), for faces whose detector gives no eyes."""
    from plugins.detectors.haar import HaarCascade

    return HaarCascade.from_config().find_eyes


def add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write the SYNTHETIC FACS-style face set as class-per-folder PNGs")
    p.add_argument("out", metavar="OUT", help="output folder")
    p.add_argument("--n", type=int, default=7000, help="number of faces (default 7000)")
    p.add_argument("--size", type=int, default=64, help="side in pixels, 48 to 256 (default 64)")
    p.add_argument("--gray", action="store_true", help="one-channel gray faces")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from eval.plots import save_figure
    from preprocessing.prepare import prepare
    from preprocessing.synthetic import SyntheticSpec, preview_grid

    out = check_output_dir(args.out)
    spec = SyntheticSpec(n=args.n, size=args.size, seed=args.seed, gray=args.gray)
    source = f"synthetic:n={args.n},size={args.size},seed={args.seed},gray={int(args.gray)}"
    report = prepare(source, out, size=args.size, gray=args.gray, desc="synth")
    save_figure(preview_grid(spec), out / "grid.png")
    print(f"{report['faces']} SYNTHETIC faces written to {out} (identity-disjoint train / val / test); "
          f"a preview is in {out / 'grid.png'}")
    return 0


def add_augment_preview(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment-preview", help="one face under N training augmentations, as a PNG grid")
    p.add_argument("image", metavar="IMAGE", help="a photo (its largest face is used) or a face crop")
    p.add_argument("out", metavar="OUT.png")
    p.add_argument("--n", type=int, default=15, help="number of augmentations (default 15)")
    p.add_argument("--size", type=int, default=128, help="face side in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="augmentation option, e.g. --set rotation=25 --set erase_p=0 (repeatable)")
    p.set_defaults(func=run_augment_preview)


def run_augment_preview(args: argparse.Namespace) -> int:
    from preprocessing.augment import Augmenter, save_preview

    options = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            raise InputError(f"--set takes KEY=NUMBER, got '{item}'") from None
    check_output_dir(Path(args.out).parent)
    path = save_preview(args.image, args.out, Augmenter(options, seed=args.seed), count=args.n, size=args.size,
                        detector=default_registry().detector(DEFAULT_DETECTOR))
    print(f"wrote {path}")
    return 0


# -- entry point -----------------------------------------------------------------------------------
COMMANDS = [add_predict, add_avatar, add_plugins, add_serve, add_train, add_evaluate, add_generate, add_prepare, add_synth, add_augment_preview]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fexlab", description="Facial expression lab: predict emotions in faces, generate expressive faces."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (README, "Exit status"): 0 done, 1 done but some inputs
    were skipped, 2 a usage error (nothing done), 130 interrupted, 141 output pipe closed."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except FexlabError as err:
        _err(str(err))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # `fexlab predict clip.mp4 | head -1`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
