"""Animated export of generated faces: one identity moving between emotions, as GIF and WebM.

Two kinds of animation, for any generator plugin:

- ``interpolate``: from one emotion to another (and optionally from one identity to another);
- ``all``: one identity through a list of emotions, by default the seven in label order.

Both are a path of ``(emotion, seed)`` stops with ``frames`` images from one stop to the next,
the two stops included, so a path of ``k`` stops has ``(k - 1) * (frames - 1) + 1`` frames; the
first frame is what the generator draws for the first stop and the last what it draws for the
last. Between two stops a generator that morphs on its own (it implements
:meth:`registry.Generator.interpolate`: the cGAN, the FACS renderer, the diffusion LoRA) draws
every frame; any other generator draws only the stops, and the frames between them are a
cross-fade of those two images (a blend of pixels, not a morph of the face).

The GIF is written by Pillow (looping, one frame every ``1 / fps`` seconds, to the hundredth of a
second the format allows) and the WebM (VP8) by OpenCV through :class:`predict.VideoWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fexlab.registry import EMOTIONS, Generator, InputError, parse_emotions

__all__ = ["MAX_FPS", "MIN_FPS", "MODES", "Animation", "animate", "check_fps", "morphs", "path_emotions", "write_gif",
           "write_webm"]

#: The kinds of animation: between two emotions, or through every emotion asked for.
MODES = ("interpolate", "all")
#: Frame rates accepted: the WebM writer needs at least one a second, GIF viewers slow anything
#: faster than 50 down.
MIN_FPS, MAX_FPS = 1.0, 50.0


@dataclass
class Animation:
    """Frames (RGB ``PIL.Image``) along ``emotions``, from ``seed`` to ``end_seed``; ``morphed``
    says whether the generator drew every frame (else the frames between stops are cross-fades)."""

    frames: list
    emotions: list[str]
    seed: int
    end_seed: int
    morphed: bool

    def stem(self, prefix: str) -> str:
        """A file name (without suffix) saying what moves: ``cgan_neutral-happy_seed3``,
        ``cgan_all_seed3`` for the seven emotions in label order, ``..._seed3-9`` when the
        identity moves too."""
        path = "all" if self.emotions == list(EMOTIONS) else "-".join(self.emotions)
        seeds = str(self.seed) if self.end_seed == self.seed else f"{self.seed}-{self.end_seed}"
        return f"{prefix}_{path}_seed{seeds}"

    def save_strip(self, path: str | Path, title: str = "") -> Path:
        """Every frame side by side in one PNG, each headed by its place on the path (0 to 1)."""
        from fexlab.eval.plots import sample_grid, save_figure

        last = max(len(self.frames) - 1, 1)
        ticks = [f"{k / last:.2f}" for k in range(len(self.frames))]
        row = f"seed {self.seed}" if self.end_seed == self.seed else f"seed {self.seed}-{self.end_seed}"
        return save_figure(sample_grid({row: self.frames}, ticks, title=title or " → ".join(self.emotions), cell=1.0),
                           path)

    def save(self, stem: str | Path, fps: float) -> tuple[Path, Path]:
        """Write ``stem``.gif and ``stem``.webm at ``fps`` frames per second; returns both paths."""
        stem = Path(stem)
        gif, webm = stem.with_name(stem.name + ".gif"), stem.with_name(stem.name + ".webm")
        return write_gif(self.frames, gif, fps), write_webm(self.frames, webm, fps)


def morphs(generator: Generator) -> bool:
    """Whether ``generator`` draws the faces between two emotions itself (it overrides
    :meth:`registry.Generator.interpolate`)."""
    return type(generator).interpolate is not Generator.interpolate


def path_emotions(mode: str, emotions: Sequence[str] | None = None) -> list[str]:
    """The stops of a ``mode`` animation: ``interpolate`` takes exactly two emotions (default
    neutral, happy), ``all`` every emotion given in that order (default the seven)."""
    if mode not in MODES:
        raise InputError(f"the animation is one of {', '.join(MODES)}, got '{mode}'")
    try:
        names = parse_emotions(list(emotions or [])) if emotions else []
    except ValueError as err:
        raise InputError(str(err)) from None
    if mode == "interpolate":
        names = names or ["neutral", "happy"]
        if len(names) != 2:
            raise InputError(f"an interpolation goes from one emotion to another: give two, got {len(names)}")
        return names
    names = names or list(EMOTIONS)
    if len(names) < 2:
        raise InputError("an animation through the emotions needs at least two of them")
    return names


def check_fps(fps: float) -> float:
    """``fps`` as a float, or an :class:`InputError` when it is outside ``MIN_FPS`` to ``MAX_FPS``."""
    try:
        rate = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"frames per second must be a number, got '{fps}'") from None
    if not MIN_FPS <= rate <= MAX_FPS:
        raise InputError(f"frames per second must be between {MIN_FPS:g} and {MAX_FPS:g}, got {fps}")
    return rate


def _check_writable(frames: Sequence[Any], fps: float) -> None:
    if not frames:
        raise InputError("no frames to write")
    check_fps(fps)


def _cross_fade(start: Any, end: Any, frames: int) -> list:
    """``frames`` images blending ``start`` into ``end`` (both included)."""
    from PIL import Image

    first, last = start.convert("RGB"), end.convert("RGB")
    if last.size != first.size:
        last = last.resize(first.size, Image.Resampling.BILINEAR)
    return [Image.blend(first, last, k / (frames - 1)) for k in range(frames)]


def animate(generator: Generator, emotions: Sequence[str], seed: int, frames: int = 16, *,
            end_seed: int | None = None, cross_fade: bool = False, **options: Any) -> Animation:
    """The frames of one identity (``seed``) moving through ``emotions`` (two or more),
    ``frames`` from one emotion to the next. ``end_seed`` (two emotions only) moves the identity
    too, from ``seed`` to ``end_seed``. ``cross_fade`` blends the stops even where the generator
    could morph (its morph would not keep an edited photo). ``options`` go to the generator as
    they are."""
    if int(frames) < 2:
        raise InputError(f"an animation needs at least 2 frames from one emotion to the next, got {frames}")
    names = generator.check_inputs(emotions, options)
    if len(names) < 2:
        raise InputError("an animation goes from one emotion to another: give at least two")
    seed = int(seed)
    end_seed = seed if end_seed is None else int(end_seed)
    if end_seed != seed and len(names) != 2:
        raise InputError("another end identity needs exactly two emotions (an interpolation)")
    if names[0] == names[-1] and len(names) == 2 and end_seed == seed:
        raise InputError(f"the animation starts and ends on the same face ({names[0]}, seed {seed}); "
                         "choose two different emotions or another end seed")
    stops = [(emotion, seed) for emotion in names[:-1]] + [(names[-1], end_seed)]
    native = morphs(generator) and not cross_fade
    if not native:
        if end_seed == seed:
            faces = generator.generate(names, seed=seed, **options)
        else:
            faces = generator.generate(names[:1], seed=seed, **options) + generator.generate(names[1:], seed=end_seed,
                                                                                                **options)
    out: list = []
    for step, (start, end) in enumerate(zip(stops, stops[1:])):
        part = (generator.interpolate(start, end, int(frames), **options) if native
                else _cross_fade(faces[step], faces[step + 1], int(frames)))
        out += [image.convert("RGB") for image in (part if step == 0 else part[1:])]
    return Animation(out, names, seed, end_seed, native)


def write_gif(frames: Sequence[Any], path: str | Path, fps: float) -> Path:
    """A looping animated GIF of ``frames`` (RGB ``PIL.Image``) at ``fps`` frames per second."""
    _check_writable(frames, fps)
    path = Path(path)
    first, *rest = [frame.convert("RGB") for frame in frames]
    first.save(path, save_all=True, append_images=rest, duration=round(1000 / float(fps)), loop=0)
    return path


def write_webm(frames: Sequence[Any], path: str | Path, fps: float) -> Path:
    """A WebM (VP8) video of ``frames`` (RGB ``PIL.Image``) at ``fps`` frames per second."""
    import numpy as np

    from fexlab.pipeline.predict import VideoWriter

    _check_writable(frames, fps)
    path = Path(path)
    with VideoWriter(path, float(fps)) as writer:
        for frame in frames:
            writer.write(np.asarray(frame.convert("RGB")))
    return path
