"""The ``sd_lora`` generator plugin: Stable Diffusion with an expression LoRA, via diffusers.

The base model is a diffusers Stable Diffusion folder or hub id (default
``stable-diffusion-v1-5/stable-diffusion-v1-5``; ``FEXLAB_SD_BASE_MODEL`` points the default at a
local folder). A fexlab checkpoint of this plugin is ``config.json`` (base model, caption template,
LoRA shape, training data) plus the LoRA exactly as diffusers saves it
(``pytorch_lora_weights.safetensors``), loaded with ``load_lora_weights``. Without a LoRA the
plugin still generates from the caption alone.

diffusers, transformers and peft are imported only inside methods: listing plugins and starting
the app never load them. With no base model on the machine and no network, ``status()`` says
"needs weights" and generation raises :class:`~fexlab.registry.errors.NeedsWeightsError`; nothing hangs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fexlab.registry import BROKEN, Generator, InputError, NeedsWeightsError, PluginStatus
from fexlab.registry.checkpoint import hub_offline

__all__ = ["BASE_MODEL_ENV", "DEFAULT_BASE_MODEL", "LORA_WEIGHTS_NAME", "SDLoRA", "SDLoRAConfig"]

DEFAULT_BASE_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
#: Environment variable naming a local base model folder (or another hub id) for the default tag.
BASE_MODEL_ENV = "FEXLAB_SD_BASE_MODEL"
#: The file name diffusers' ``save_lora_weights`` / ``load_lora_weights`` use.
LORA_WEIGHTS_NAME = "pytorch_lora_weights.safetensors"
#: Attention projections the LoRA adapts: the UNet's, and the CLIP text encoder's when asked.
UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass
class SDLoRAConfig:
    base_model: str = DEFAULT_BASE_MODEL
    caption_template: str = "a close-up photo of a {emotion} face"
    resolution: int = 512
    #: diffusers scheduler class used for sampling ("" keeps the base model's own).
    scheduler: str = "DPMSolverMultistepScheduler"
    lora_rank: int = 8
    lora_alpha: float = 8.0
    #: Whether the LoRA also adapts the text encoder.
    train_text_encoder: bool = False

    def __post_init__(self) -> None:
        if "{emotion}" not in self.caption_template:
            raise InputError(f"caption_template must contain '{{emotion}}', got '{self.caption_template}'")
        if self.resolution % 8:
            raise InputError(f"resolution must be a multiple of 8, got {self.resolution}")


class SDLoRA(Generator):
    """Stable Diffusion text-to-image with an expression LoRA; img2img expression editing."""

    name: ClassVar[str] = "sd_lora"
    description: ClassVar[str] = "Stable Diffusion 1.5 with an expression LoRA (diffusers + peft); needs the base model"
    config_class: ClassVar[type] = SDLoRAConfig
    pretrained: ClassVar[dict[str, str]] = {"sd15": DEFAULT_BASE_MODEL}
    weights_hint: ClassVar[str] = (
        f"set {BASE_MODEL_ENV} to a local Stable Diffusion folder, then train the expression LoRA with "
        "`fexlab train sd-lora --data DATA --base-model FOLDER --out runs/sd-lora`"
    )
    options: ClassVar[dict[str, Any]] = {
        "steps": 30,
        "guidance": 7.5,
        "negative_prompt": "blurry, deformed, disfigured, cartoon, text, watermark",
        "lora_scale": 1.0,
        "image": None,
        "strength": 0.6,
    }

    def __init__(self, config: Any = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.lora_path: Path | None = None
        self._pipe: Any = None
        self._img2img: Any = None
        self._adapters_added = False

    # -- weights ------------------------------------------------------------------------------------
    @classmethod
    def resolve_pretrained(cls, tag: str | None = None) -> str:
        source = super().resolve_pretrained(tag)
        if source == DEFAULT_BASE_MODEL and os.environ.get(BASE_MODEL_ENV):
            return os.environ[BASE_MODEL_ENV]
        return source

    @classmethod
    def load_default(cls, tag: str | None = None) -> SDLoRA:
        """The base model of tag ``tag`` with no LoRA: emotions come from the caption alone."""
        return cls.from_config(base_model=cls.resolve_pretrained(tag))

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, *, base_model: str | None = None) -> SDLoRA:
        """A fexlab LoRA checkpoint (folder or hub id) or a diffusers base model folder.

        ``base_model`` replaces the base the LoRA was trained on (e.g. the same model in
        another folder on this machine).
        """
        if (Path(source).expanduser() / "model_index.json").is_file():
            return cls.from_config(base_model=str(source))
        plugin = super().from_pretrained(source)
        if base_model:
            plugin.config.base_model = str(base_model)
        return plugin

    @classmethod
    def status(cls) -> PluginStatus:
        missing = [m for m in ("diffusers", "transformers", "peft") if importlib.util.find_spec(m) is None]
        if missing:
            return PluginStatus(BROKEN, f"{', '.join(missing)} not installed: pip install {' '.join(missing)}")
        return super().status()

    def save_weights(self, directory: Path) -> None:
        """The LoRA as diffusers saves it: trained here (peft adapters) or copied from its file."""
        if self._adapters_added:
            from diffusers import StableDiffusionPipeline
            from diffusers.utils import convert_state_dict_to_diffusers
            from peft.utils import get_peft_model_state_dict

            pipe = self.pipeline()
            layers = {"unet": pipe.unet, "text_encoder": pipe.text_encoder if self.config.train_text_encoder else None}
            StableDiffusionPipeline.save_lora_weights(
                directory, safe_serialization=True,
                **{f"{name}_lora_layers": convert_state_dict_to_diffusers(get_peft_model_state_dict(module))
                   for name, module in layers.items() if module is not None},
                # the LoRA config (rank, alpha, targets) travels in the file, so loading scales it the same
                **{f"{name}_lora_adapter_metadata": module.peft_config["default"].to_dict()
                   for name, module in layers.items() if module is not None},
            )
        elif self.lora_path is not None:
            shutil.copyfile(self.lora_path, directory / LORA_WEIGHTS_NAME)

    def load_weights(self, directory: Path) -> None:
        path = Path(directory) / LORA_WEIGHTS_NAME
        self.lora_path = path if path.is_file() else None
        self._pipe = self._img2img = None

    # -- the diffusers pipeline, built on first use ---------------------------------------------------
    @property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def pipeline(self) -> Any:
        """The text-to-image pipeline with the LoRA loaded (built once; NeedsWeightsError offline)."""
        if self._pipe is None:
            import torch
            from diffusers import StableDiffusionPipeline

            source = self.config.base_model
            dtype = torch.float16 if self.device == "cuda" else torch.float32
            try:  # a hub id comes from the local cache, or is downloaded unless HF_HUB_OFFLINE=1
                pipe = StableDiffusionPipeline.from_pretrained(source, dtype=dtype)
            except (OSError, ValueError) as err:
                reason = "HF_HUB_OFFLINE=1 and it is not cached" if hub_offline() else f"{type(err).__name__}: {str(err)[:200]}"
                raise NeedsWeightsError(
                    f"sd_lora cannot load its base model '{source}' ({reason}); {self.weights_hint}"
                ) from None
            if self.config.scheduler:
                import diffusers

                scheduler_class = getattr(diffusers, self.config.scheduler, None)
                if scheduler_class is None:
                    raise InputError(f"diffusers has no scheduler '{self.config.scheduler}'")
                pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config)
            if self.lora_path is not None:
                pipe.load_lora_weights(str(self.lora_path.parent), weight_name=self.lora_path.name)
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe.to(self.device)
        return self._pipe

    def add_lora(self) -> list[Any]:
        """Add fresh, trainable LoRA adapters (shape from the config); returns their parameters."""
        from peft import LoraConfig, inject_adapter_in_model

        cfg = self.config
        pipe = self.pipeline()
        modules = [(pipe.unet, UNET_TARGETS)]
        if cfg.train_text_encoder:
            modules.append((pipe.text_encoder, TEXT_ENCODER_TARGETS))
        for module, targets in modules:
            lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, init_lora_weights="gaussian",
                              target_modules=list(targets))
            if module is pipe.unet:
                module.add_adapter(lora)  # diffusers' peft integration
            else:  # peft itself: transformers' add_adapter may ask for a newer peft than the one installed
                inject_adapter_in_model(lora, module, adapter_name="default")
                module.peft_config = {"default": lora}
        self._adapters_added = True
        return [p for module, _ in modules for p in module.parameters() if p.requires_grad]

    def load_adapter_state(self, directory: Path) -> None:
        """Put the LoRA saved in ``directory`` back into the adapters :meth:`add_lora` made (resume)."""
        from diffusers import StableDiffusionPipeline
        from diffusers.training_utils import _set_state_dict_into_text_encoder
        from diffusers.utils import convert_unet_state_dict_to_peft
        from peft.utils import set_peft_model_state_dict

        pipe = self.pipeline()
        state, _ = StableDiffusionPipeline.lora_state_dict(str(directory), weight_name=LORA_WEIGHTS_NAME)
        unet_state = {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
        set_peft_model_state_dict(pipe.unet, convert_unet_state_dict_to_peft(unet_state), adapter_name="default")
        if self.config.train_text_encoder:
            _set_state_dict_into_text_encoder(state, prefix="text_encoder.", text_encoder=pipe.text_encoder)

    def prompt(self, emotion: str) -> str:
        """The caption of ``emotion``, as in training (e.g. "a close-up photo of a happy face")."""
        return self.config.caption_template.format(emotion=emotion)

    # -- generation -----------------------------------------------------------------------------------
    def _call_args(self, options: dict[str, Any], count: int) -> dict[str, Any]:
        """diffusers call arguments from the plugin options (``image`` / ``strength`` excluded)."""
        opts = {**self.options, **options}
        steps, guidance, scale = int(opts["steps"]), float(opts["guidance"]), float(opts["lora_scale"])
        if steps < 1:
            raise InputError(f"steps must be at least 1, got {steps}")
        negative = opts["negative_prompt"] or None
        return {
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "negative_prompt": [negative] * count if negative and guidance > 1 else None,
            "cross_attention_kwargs": {"scale": scale} if self.lora_path is not None or self._adapters_added else None,
        }

    def generate(self, emotions: Sequence[str], seed: int | None = None, **options: Any) -> list:
        """One image per emotion, all from the same initial noise (``seed``); with the ``image``
        option, that face is edited toward each emotion instead (img2img, ``strength``)."""
        import torch

        names = self.check_inputs(emotions, options)
        seed = self.resolve_seed(seed)
        if options.get("image") is not None:
            return self.edit(options["image"], names, seed, **{k: v for k, v in options.items() if k != "image"})
        args = self._call_args(options, len(names))
        size = self.config.resolution
        with torch.inference_mode():
            return self.pipeline()(
                prompt=[self.prompt(n) for n in names], height=size, width=size,
                generator=[torch.Generator().manual_seed(seed) for _ in names], **args,
            ).images

    def edit(self, image: Any, emotions: str | Sequence[str], seed: int | None = None, **options: Any) -> list:
        """Expression editing: the face ``image`` (path, bytes, PIL or array) redrawn with each
        emotion's caption by the img2img pipeline sharing this LoRA; ``strength`` in (0, 1]
        says how far from the input the result may go."""
        import torch
        from diffusers import StableDiffusionImg2ImgPipeline
        from PIL import Image

        from fexlab.preprocessing.images import load_image

        names = self.check_inputs(emotions, options)
        strength = float(options.get("strength", self.options["strength"]))
        if not 0.0 < strength <= 1.0:
            raise InputError(f"strength must be in (0, 1], got {strength}")
        face = Image.fromarray(_center_square(load_image(image))).resize((self.config.resolution,) * 2, Image.BICUBIC)
        if self._img2img is None:
            self._img2img = StableDiffusionImg2ImgPipeline(**self.pipeline().components)
            self._img2img.set_progress_bar_config(disable=True)
        seed = self.resolve_seed(seed)
        args = self._call_args(options, len(names))
        with torch.inference_mode():
            return self._img2img(
                prompt=[self.prompt(n) for n in names], image=[face] * len(names), strength=strength,
                generator=[torch.Generator().manual_seed(seed) for _ in names], **args,
            ).images

    def interpolate(self, start: tuple[str, int], end: tuple[str, int], frames: int = 8, **options: Any) -> list:
        """Images from ``(emotion, seed)`` ``start`` to ``end``: the caption embeddings blend
        linearly and the initial noise moves along a great circle (the endpoints are exactly
        what :meth:`generate` draws)."""
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        from fexlab.registry.generator import slerp

        if frames < 2:
            raise InputError(f"interpolation needs at least 2 frames, got {frames}")
        (emo_a, seed_a), (emo_b, seed_b) = start, end
        names = self.check_inputs([emo_a, emo_b], options)
        if options.get("image") is not None:
            raise InputError("interpolation draws from noise; it does not take an image")
        pipe = self.pipeline()
        args = self._call_args(options, 2)
        negative = args.pop("negative_prompt")
        cfg_on = args["guidance_scale"] > 1
        with torch.inference_mode():
            embeds, negatives = pipe.encode_prompt([self.prompt(n) for n in names], pipe.device, 1, cfg_on,
                                                   negative_prompt=negative)
            size = self.config.resolution // pipe.vae_scale_factor
            shape = (1, pipe.unet.config.in_channels, size, size)
            noise = [randn_tensor(shape, generator=torch.Generator().manual_seed(s), dtype=embeds.dtype)
                     for s in (seed_a, seed_b)]
            t = torch.linspace(0, 1, frames)
            mix = lambda pair: torch.cat([(1 - v) * pair[:1] + v * pair[1:] for v in t])  # noqa: E731
            latents = torch.cat([slerp(noise[0], noise[1], float(v)) for v in t]).to(pipe.device)
            return pipe(prompt_embeds=mix(embeds), negative_prompt_embeds=mix(negatives) if cfg_on else None,
                        latents=latents, height=self.config.resolution, width=self.config.resolution, **args).images


def _center_square(image: Any) -> Any:
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
