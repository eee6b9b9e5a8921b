"""``fexlab generate``: faces in any emotion, animations, and edits of the faces of a photo."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fexlab.registry import DEFAULT_DETECTOR, FexlabError, InputError, NoFaceError, default_registry
from fexlab.registry.paths import printable

from .common import check_output_dir, err, input_failed, make_output_dir, say


#: The shipped generators that edit a photo's faces (named in --image's help; a test checks the list).
EDITORS = ("stargan", "mesh_warp", "sd_lora")


def option_keys(generator: Any) -> list[str]:
    """The keys ``--option`` takes, in natural order (``au1, au2, ..., au10``); ``image`` is ``--image``."""
    return [key for key in generator.option_names() if key != "image"]


def add(sub: argparse._SubParsersAction) -> None:
    from fexlab.pipeline.animation import MODES

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
                   f"edit: {', '.join(EDITORS)}); writes each face and the photo with the edits pasted back")
    p.add_argument("--detector", metavar="NAME", help=f"with --image: the face detector (default {DEFAULT_DETECTOR}; "
                   "full_frame when the photo is already a face crop)")
    p.add_argument("--no-align", dest="align", action="store_false",
                   help="with --image: crop the faces as found, without levelling the eyes")
    p.add_argument("--animate", choices=MODES, help="write an animated GIF and a WebM per seed instead of PNGs: "
                   "interpolate morphs between two --emotion (default neutral, happy), all shows one identity "
                   "through every --emotion in turn (default the seven)")
    p.add_argument("--face", type=int, metavar="N", help="with --image --animate: the face to animate, numbered left to "
                   "right as in PLUGIN_faceN_EMOTION.png (default the largest)")
    p.add_argument("--frames", type=int, metavar="N", help="with --animate: frames from one emotion to the next, "
                   "both included (default 16)")
    p.add_argument("--fps", type=float, metavar="F", help="with --animate: frames per second, 1 to 50 (default 8)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files (PLUGIN_EMOTION_seedN.png; "
                   "with --image PLUGIN_faceN_EMOTION.png, PLUGIN_photo_EMOTION.png and PLUGIN_grid.png; "
                   "with --animate interpolate also the frames as one strip, PLUGIN_EMOTIONS_seedN.png; "
                   "with --animate PLUGIN_EMOTIONS_seedN.gif and .webm)")
    p.set_defaults(func=run)


def _generator_options(generator: Any, pairs: Sequence[str], image: str | None) -> dict[str, Any]:
    """``["truncation=0.7"]`` -> ``{"truncation": 0.7}``, typed by the option's default."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key.strip() not in option_keys(generator):
            raise InputError(f"--option takes KEY=VALUE with KEY one of {', '.join(option_keys(generator))}, "
                             f"got '{pair}'" + (" (the photo to edit is --image PATH)" if key.strip() == "image" else ""))
        default = generator.options[key.strip()]
        try:
            options[key.strip()] = type(default)(text) if isinstance(default, (int, float)) else text
        except ValueError:
            raise InputError(f"--option {key.strip()} must be a {type(default).__name__}, got '{text}'") from None
    if image is not None and not generator.edits():
        raise InputError(f"{generator.name} cannot edit an image; drop --image, or use an editing generator such as "
                         "stargan")
    return options


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise InputError(f"--n must be at least 1, got {args.n}")
    if args.animate is None and (args.frames is not None or args.fps is not None):
        raise InputError("--frames and --fps go with --animate")
    if args.frames is not None and args.frames < 2:
        raise InputError(f"--frames: an animation needs at least 2 frames from one emotion to the next, got {args.frames}")
    out = check_output_dir(args.out)
    generator = default_registry().generator(args.plugin, checkpoint=args.checkpoint)
    options = _generator_options(generator, args.option, args.image)
    name = args.plugin.split(":")[0]
    if args.detector is not None and args.image is None:
        raise InputError("--detector goes with --image (the photo whose faces are edited)")
    if args.face is not None and not (args.image and args.animate):
        raise InputError("--face goes with --image and --animate (the face of the photo to animate)")
    if args.face is not None and args.face < 1:
        raise InputError(f"--face numbers the faces from 1, left to right; got {args.face}")
    if args.image is not None:
        return _edit(generator, name, args, options, out)
    if args.animate:
        return _animate(generator, name, args, options, out)
    emotions = generator.check_inputs(args.emotion or ["all"], options)
    make_output_dir(out)
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
    ``--animate``, the largest face (or ``--face N``) as GIF and WebM."""
    from PIL import Image

    from fexlab.pipeline.editing import animate_face, edit_photo

    detector = default_registry().detector(args.detector or DEFAULT_DETECTOR)
    strength = float(options.pop("strength", generator.options.get("strength", 1.0)))
    if args.animate:
        from fexlab.pipeline.animation import check_fps, path_emotions

        fps = check_fps(8.0 if args.fps is None else args.fps)
        # an editor of whole photos starts from the face's own expression: one emotion is a path
        emotions = (generator.check_inputs(args.emotion or ["all"], options) if generator.edits_photos
                    else path_emotions(args.animate, args.emotion))
    else:
        emotions = generator.check_inputs(args.emotion or ["all"], options)
    make_output_dir(out)
    from fexlab.preprocessing.images import load_image

    try:
        photo = load_image(args.image)
    except FexlabError as error:
        return input_failed(error)
    try:
        result = edit_photo(photo, generator, detector, emotions, strength=strength, align=args.align, seed=args.seed,
                            **options)
    except NoFaceError as error:
        say(f"{args.image}: {error}; nothing written")
        return 0
    if result.limit_note():
        err(f"note: {result.limit_note()} (the most one edit takes)")
    if result.skipped:
        err(f"note: {name} finds no face in {len(result.skipped)} of the detector's regions (boxes "
            f"{', '.join(str(tuple(round(v) for v in box)) for box in result.skipped)}), left as they are")
    if args.animate:
        if args.face is not None and args.face > len(result.faces):
            raise InputError(f"--face {args.face}: the photo has {len(result.faces)} face(s) to animate")
        index = result.largest() if args.face is None else args.face - 1
        animation = animate_face(result, generator, index, frames=16 if args.frames is None else args.frames,
                                 strength=strength, seed=args.seed, **options)
        for path in animation.save(out / animation.stem(f"{name}_face{index + 1}"), fps):
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
    from fexlab.eval.plots import sample_grid, save_figure

    rows = {f"face {n}": [face.crop, *(face.edits[e] for e in emotions)] for n, face in enumerate(result.faces, 1)}
    title = f"{name}: {printable(Path(args.image).name)}, each face (rows) in each emotion, strength {strength:g}"
    print(save_figure(sample_grid(rows, ["photo", *emotions], title=title, cell=1.3), out / f"{name}_grid.png"))
    return 0


def _animate(generator: Any, name: str, args: argparse.Namespace, options: dict[str, Any], out: Path) -> int:
    """``--animate``: a GIF and a WebM for each seed (docs/generators.md, "Animated export")."""
    from fexlab.pipeline.animation import animate, check_fps, path_emotions

    emotions, fps = path_emotions(args.animate, args.emotion), check_fps(8.0 if args.fps is None else args.fps)
    make_output_dir(out)
    for seed in range(args.seed, args.seed + args.n):
        animation = animate(generator, emotions, seed, 16 if args.frames is None else args.frames, **options)
        for path in animation.save(out / animation.stem(name), fps):
            print(path)
        if args.animate == "interpolate":  # two emotions: the frames also as one strip
            print(animation.save_strip(out / f"{animation.stem(name)}.png", f"{name}: {' → '.join(emotions)}"))
    if not animation.morphed:
        err(f"note: {name} does not interpolate on its own; the frames between two emotions are cross-fades")
    return 0
