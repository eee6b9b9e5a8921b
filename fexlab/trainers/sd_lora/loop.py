"""Train an expression LoRA for the ``sd_lora`` plugin with Accelerate.

The loop follows diffusers' text-to-image LoRA example: the VAE, text encoder and UNet of the
base model are frozen (in the mixed-precision dtype when one is asked for), peft LoRA adapters
go on the UNet's attention projections (and the text encoder's when asked), and each step
encodes a batch of faces to latents, adds noise at random timesteps and regresses the noise
(or the velocity, per the scheduler) from the caption of each face's emotion. Each epoch logs
a validation loss on fixed faces, noise and timesteps (so epochs are comparable; it picks
``best/``), saves a grid of validation images (rows emotions, columns seeds), ``last/`` and the
resumable ``state/``. Only the LoRA weights are saved, in the diffusers format, also in ``state/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fexlab.registry.emotions import EMOTIONS

from ..command import reproduce_command
from ..hub import write_checkpoint_card
from ..run import (
    EpochSampler,
    RunDirectory,
    RunState,
    TrainingError,
    check_finite,
    format_metrics,
    progress,
    seed_everything,
)
from ..samples import faces_by_emotion, save_sample_grid
from .config import SDLoRATrainConfig

__all__ = ["train_sd_lora"]

_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _face_tensors(cfg: SDLoRATrainConfig) -> tuple[Any, Any, Any]:
    """Training faces (flipped at random, per-sample seeded) and validation faces as
    ``(image in [-1, 1], emotion index)`` datasets at ``cfg.resolution``, and the data set."""
    import cv2

    from fexlab.preprocessing.augment import Augmenter
    from fexlab.preprocessing.readers import open_dataset
    from fexlab.trainers.classifier.data import FaceTensors

    dataset = open_dataset(cfg.data, **cfg.data_options)
    train, val = dataset.split("train"), dataset.split("val")
    if len(train) == 0:
        raise TrainingError(f"{dataset.name} has no training faces")
    if cfg.limit:
        train = train.subset(range(min(len(train), cfg.limit)))
    if len(val) == 0:
        val = train
    val = val.subset(np.linspace(0, len(val) - 1, min(cfg.val_faces, len(val))).round().astype(int))

    def transform(face: np.ndarray) -> torch.Tensor:
        shrink = face.shape[0] > cfg.resolution
        face = cv2.resize(face, (cfg.resolution, cfg.resolution), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        return torch.from_numpy(face).permute(2, 0, 1).float().div(127.5).sub(1.0)

    flips = Augmenter(rotation=0, scale=0, translate=0, hflip_p=0.5 if cfg.random_flip else 0.0, brightness=0,
                      contrast=0, blur_p=0, noise_p=0, erase_p=0, seed=cfg.seed)
    return (FaceTensors([s.image for s in train], train.labels(), transform, flips),
            FaceTensors([s.image for s in val], val.labels(), transform), dataset)


def _caption_ids(plugin: Any) -> torch.Tensor:
    """(7, max_length) token ids of the caption of each emotion, in :data:`EMOTIONS` order."""
    tokenizer = plugin.pipeline().tokenizer
    return tokenizer([plugin.prompt(e) for e in EMOTIONS], padding="max_length", truncation=True,
                     max_length=tokenizer.model_max_length, return_tensors="pt").input_ids


def _denoising_loss(models: tuple[Any, Any, Any], noise_scheduler: Any, pixels: torch.Tensor, ids: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """The diffusion training loss of a batch: noise at random timesteps, predicted by the UNet.
    ``models`` is (vae, text encoder, unet), the trained ones as Accelerate prepared them."""
    vae, text_encoder, unet = models
    latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.sample(generator) * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
    steps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
    steps = steps.to(latents.device)
    noisy = noise_scheduler.add_noise(latents, noise, steps)
    states = text_encoder(ids.to(latents.device), return_dict=False)[0]
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, steps)
    else:
        target = noise
    prediction = unet(noisy, steps, states, return_dict=False)[0]
    return F.mse_loss(prediction.float(), target.float())


def train_sd_lora(cfg: SDLoRATrainConfig, *, resume: bool = False) -> RunDirectory:
    """Train (or, with ``resume``, continue) the LoRA run in ``cfg.run_folder()``; returns it."""
    from accelerate import Accelerator
    from diffusers import DDPMScheduler
    from diffusers.training_utils import cast_training_params

    from fexlab.plugins.sd_lora import SDLoRA

    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision,
                              cpu=cfg.cpu or not torch.cuda.is_available())
    cfg = dataclasses.replace(cfg, out=cfg.run_folder())
    run = RunDirectory(cfg.out, resume=resume, is_main_process=accelerator.is_main_process)
    seed_everything(cfg.seed)
    plugin = SDLoRA.from_config(cfg.plugin_config())
    pipe = plugin.pipeline()  # NeedsWeightsError, before any work, when the base model is not here
    train_set, val_set, dataset = _face_tensors(cfg)
    run.write_config({**dataclasses.asdict(cfg), "training_data": dataset.name, "train_faces": len(train_set)})

    weight_dtype = _DTYPES[accelerator.mixed_precision] if accelerator.mixed_precision in _DTYPES else torch.float32
    for module in (pipe.vae, pipe.text_encoder, pipe.unet):
        module.requires_grad_(False)
        module.to(accelerator.device, dtype=weight_dtype)
    trainable = [pipe.unet, pipe.text_encoder] if cfg.train_text_encoder else [pipe.unet]
    plugin.add_lora()
    cast_training_params(trainable, dtype=torch.float32)  # LoRA weights train in fp32 under mixed precision
    if cfg.gradient_checkpointing:
        pipe.unet.enable_gradient_checkpointing()
        if cfg.train_text_encoder:
            pipe.text_encoder.gradient_checkpointing_enable()
    params = [p for module in trainable for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    captions = _caption_ids(plugin)
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size,
                                         sampler=EpochSampler(len(train_set), cfg.seed))
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=cfg.batch_size)

    accelerator.register_save_state_pre_hook(lambda models, weights, folder: _save_lora(plugin, models, weights, folder))
    accelerator.register_load_state_pre_hook(lambda models, folder: _load_lora(plugin, models, folder))
    *prepared, optimizer, loader = accelerator.prepare(*trainable, optimizer, loader)
    state = run.load_state(accelerator) if resume else RunState(extra={"best": None})
    models = (pipe.vae, prepared[1] if cfg.train_text_encoder else pipe.text_encoder, prepared[0])
    provenance = {"training_data": f"{dataset.name}; source '{cfg.data}', train split, {len(train_set)} faces",
                  "synthetic": bool(getattr(dataset, "synthetic", False))}
    validation_seeds = list(range(cfg.validation_seeds))
    if not resume:
        run.log(split="val", epoch=0, step=0, loss=_validation_loss(models, noise_scheduler, val_loader, captions, cfg.seed))

    for epoch in range(state.epoch, cfg.epochs):
        loader.set_epoch(epoch)
        train_set.set_epoch(epoch)
        for module in prepared:
            module.train()
        total, batches = 0.0, 0
        for pixels, labels in progress(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", enabled=accelerator.is_main_process):
            with accelerator.accumulate(*prepared):
                loss = _denoising_loss(models, noise_scheduler, pixels, captions[labels])
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            value = check_finite(accelerator.gather_for_metrics(loss.detach()), epoch=epoch, step=state.step, run=run)
            total, batches = total + value, batches + 1
            if accelerator.sync_gradients:
                state.step += 1
                if state.step % cfg.log_every == 0:
                    run.log(split="train_step", epoch=epoch + batches / len(loader), step=state.step, loss=value)

        for module in prepared:
            module.eval()
        val_loss = _validation_loss(models, noise_scheduler, val_loader, captions, cfg.seed)
        metrics = {"loss": total / max(batches, 1)}
        run.log(split="train", epoch=epoch + 1, step=state.step, **metrics)
        run.log(split="val", epoch=epoch + 1, step=state.step, loss=val_loss)
        if accelerator.is_main_process:
            faces = faces_by_emotion(plugin, validation_seeds, steps=cfg.validation_steps)
            save_sample_grid(faces, validation_seeds, run.path / "samples" / f"epoch_{epoch + 1:03d}.png",
                             title=f"epoch {epoch + 1}")
        summary = {**provenance, "metrics": {**metrics, "val_loss": val_loss, "epoch": epoch + 1, "step": state.step}}
        run.save_checkpoint(plugin, "last", **summary)
        if state.extra.get("best") is None or val_loss <= state.extra["best"]:
            state.extra["best"] = val_loss
            run.save_checkpoint(plugin, "best", **summary)
        state.epoch = epoch + 1
        run.save_state(accelerator, state)
        run.plot_curves(("loss",))
        accelerator.print(f"epoch {epoch + 1}: {format_metrics({**metrics, 'val_loss': val_loss})}")
    if accelerator.is_main_process and (run.path / "best").is_dir():
        write_checkpoint_card(run.path / "best", kind="generator", config=dataclasses.asdict(cfg),
                              command=reproduce_command("sd-lora", cfg), base_model=cfg.base_model)
    return run


def _validation_loss(models: tuple[Any, Any, Any], noise_scheduler: Any, loader: Any, captions: torch.Tensor,
                     seed: int) -> float:
    """Mean denoising loss on the validation faces with noise and timesteps fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with torch.no_grad():
        for pixels, labels in loader:
            losses.append(float(_denoising_loss(models, noise_scheduler, pixels, captions[labels], generator)))
    return float(np.mean(losses)) if losses else float("nan")


def _save_lora(plugin: Any, models: list, weights: list, folder: str) -> None:
    """Accelerate ``save_state`` hook: only the LoRA weights, as diffusers saves them."""
    plugin.save_weights(Path(folder))
    weights.clear()  # the frozen base weights are not saved with the state


def _load_lora(plugin: Any, models: list, folder: str) -> None:
    """Accelerate ``load_state`` hook: the LoRA weights back into the trainable adapters."""
    plugin.load_adapter_state(Path(folder))
    models.clear()
