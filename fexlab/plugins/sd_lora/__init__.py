"""sd_lora: Stable Diffusion with an expression LoRA (diffusers + peft), loaded lazily."""

from .plugin import BASE_MODEL_ENV, DEFAULT_BASE_MODEL, LORA_WEIGHTS_NAME, SDLoRA, SDLoRAConfig

__all__ = ["BASE_MODEL_ENV", "DEFAULT_BASE_MODEL", "LORA_WEIGHTS_NAME", "SDLoRA", "SDLoRAConfig"]
