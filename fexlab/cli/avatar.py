"""``fexlab avatar``: the FACS cartoon face wearing the expression and head pose of a photo or video."""

from __future__ import annotations

import argparse
from pathlib import Path

from fexlab.registry import DEFAULT_DETECTOR, FexlabError, InputError, default_registry

from .common import check_output_dir, input_failed, make_output_dir, say


def add(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fexlab.pipeline.avatar import avatar_of, write_avatar_video
    from fexlab.pipeline.predict import Predictor, is_video, video_fps

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
    make_output_dir(out)
    try:
        if is_video(args.path):
            target = out / f"{stem}.avatar.webm"
            frames = predictor.predict_video(args.path, every=args.every, keep_frames=True)
            count, with_face = write_avatar_video(target, frames, video_fps(args.path) / args.every, seed=args.seed,
                                                  size=args.size)
            if not with_face:
                target.unlink()
                say(f"{args.path}: no face found in its {count} analysed frames, so no avatar video written")
                return 0
            say(f"wrote {target} ({count} frames, {with_face} with a face)")
            return 0
        faces = [face for face in predictor.predict_image(args.path).faces if face.analysis.get("action_units")]
    except FexlabError as error:
        return input_failed(error)
    if not faces:
        say(f"{args.path}: no face found, so no avatar written (for a photo that is already a face crop, use "
              "--detector full_frame)")
        return 0
    from PIL import Image

    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    target = out / f"{stem}.avatar.png"
    Image.fromarray(avatar_of(face.analysis, seed=args.seed, size=args.size)).save(target)
    say(f"wrote {target}")
    return 0
