"""A tiny Stable Diffusion base model built from configs, saved as a diffusers folder.

Tiny UNet / VAE / CLIP text encoder with seeded random weights, and a real ``CLIPTokenizer`` read
from a small BPE vocabulary (``vocab.json`` + ``merges.txt``) written here, so that the plugin and
the trainer load it with ``StableDiffusionPipeline.from_pretrained`` exactly as a real base model.
"""

from __future__ import annotations

import json
from pathlib import Path

from fexlab.registry.emotions import EMOTIONS

__all__ = ["RESOLUTION", "WORDS", "write_tiny_base_model", "write_tokenizer_files"]

RESOLUTION = 32
#: Every word the tests' captions and negative prompts use; anything else becomes <|endoftext|>.
WORDS = ("a", "close", "up", "photo", "of", "face", "blurry", "deformed", "disfigured", "cartoon", "text",
         "watermark", *EMOTIONS)


def write_tokenizer_files(folder: Path) -> None:
    """``vocab.json`` and ``merges.txt`` in CLIP's byte-level BPE format: single characters,
    then merges that build each word of :data:`WORDS` left to right (``</w>`` ends a word)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    merges: list[str] = []

    def add(token: str) -> None:
        vocab.setdefault(token, len(vocab))

    for ch in "abcdefghijklmnopqrstuvwxyz,.-'":
        add(ch)
        add(ch + "</w>")
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            if f"{pieces[0]} {pieces[1]}" not in merges:
                merges.append(f"{pieces[0]} {pieces[1]}")
            add(merged)
            pieces = [merged, *pieces[2:]]
    add("<|startoftext|>")
    add("<|endoftext|>")
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def write_tiny_base_model(folder: Path, seed: int = 0) -> Path:
    """Save a tiny seeded Stable Diffusion pipeline (32x32 images) to ``folder``; returns it."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    write_tokenizer_files(folder / "vocab")
    tokenizer = CLIPTokenizer(str(folder / "vocab" / "vocab.json"), str(folder / "vocab" / "merges.txt"),
                              model_max_length=32)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=RESOLUTION // 2, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=32, attention_head_dim=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        norm_num_groups=8, down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        sample_size=RESOLUTION,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
