"""Train the ``cgan`` plugin with Accelerate: hinge loss, EMA generator, DiffAugment.

The loop reads top to bottom like Accelerate's examples: one ``prepare``, then per batch a
discriminator step on real and generated faces (both through the same differentiable
augmentation) and a generator step, then an update of the EMA generator, which is the one that
samples and is saved. Each epoch logs the losses, saves a grid (rows emotions, columns fixed
seeds) under ``samples/``, scores the EMA generator with a judge classifier when one is given
(its score picks ``best/``), and saves ``last/`` and the resumable ``state/``.
"""

from __future__ import annotations

from typing import Any

from ..gan import ema_copy, finish_gan_run, open_gan_run
from ..run import (
    EpochSampler,
    RunDirectory,
    RunState,
    budget_spent,
    check_finite,
    format_metrics,
    progress,
)
from ..samples import faces_by_emotion, judge_expression, save_sample_grid
from .config import CGANTrainConfig

__all__ = ["train_cgan"]


def train_cgan(cfg: CGANTrainConfig, *, resume: bool = False) -> RunDirectory:
    """Train (or, with ``resume``, continue) the cGAN run in ``cfg.run_folder()``; returns it."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from fexlab.plugins.cgan import CGAN
    from fexlab.plugins.cgan.diffaugment import diff_augment

    opened = open_gan_run(cfg, resume, (cfg.diffaugment, cfg.aux_augment), "cgan")
    cfg, accelerator, run, judge = opened.cfg, opened.accelerator, opened.run, opened.judge
    faces, labels = opened.faces, opened.labels

    plugin = CGAN.from_config(cfg.plugin_config())
    generator = plugin.torch_module().train()
    discriminator = plugin.build_discriminator()
    classifier = plugin.build_classifier() if cfg.aux_weight > 0 else None
    ema = ema_copy(generator, cfg.ema_decay)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas))
    loader = DataLoader(TensorDataset(torch.from_numpy(faces), torch.from_numpy(labels)), batch_size=cfg.batch_size,
                        sampler=EpochSampler(len(labels), cfg.seed), drop_last=len(labels) >= cfg.batch_size)
    models = [generator, discriminator, ema, opt_g, opt_d, loader]
    if classifier is not None:
        models += [classifier, torch.optim.Adam(classifier.parameters(), lr=cfg.lr_c)]
    generator, discriminator, ema, opt_g, opt_d, loader, *aux = accelerator.prepare(*models)
    classifier, opt_c = aux if aux else (None, None)
    state = run.load_state(accelerator) if resume else RunState(extra={"best": None})
    plugin.module = accelerator.unwrap_model(ema).module  # the EMA weights are the plugin's weights
    grid_seeds = list(range(cfg.grid_seeds))
    provenance = opened.provenance()

    for epoch in range(state.epoch, cfg.epochs):
        loader.set_epoch(epoch)
        generator.train()
        sums: dict[str, float] = {}
        extra: dict[str, float] = {}
        batches = 0
        for real, y in progress(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", enabled=accelerator.is_main_process):
            z = torch.randn(real.shape[0], cfg.z_dim, device=real.device)
            with torch.no_grad():
                fake = generator(z, y)
            d_real = discriminator(diff_augment(real, cfg.diffaugment), y)
            d_fake = discriminator(diff_augment(fake, cfg.diffaugment), y)
            d_loss = torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()  # hinge
            if classifier is not None:  # the auxiliary classifier learns the emotions of real faces only
                classifier.train()
                logits = classifier(diff_augment(real, cfg.aux_augment))
                c_loss = F.cross_entropy(logits, y)
                opt_c.zero_grad(set_to_none=True)
                accelerator.backward(c_loss)
                opt_c.step()
                classifier.eval().requires_grad_(False)
                extra = {"c_loss": float(c_loss.detach()),
                         "c_accuracy": float((logits.detach().argmax(1) == y).float().mean())}
            opt_d.zero_grad(set_to_none=True)
            accelerator.backward(d_loss)
            opt_d.step()

            discriminator.requires_grad_(False)  # the generator step needs input gradients only
            z = torch.randn(real.shape[0], cfg.z_dim, device=real.device)
            fake = generator(z, y)
            g_loss = -discriminator(diff_augment(fake, cfg.diffaugment), y).mean()
            if classifier is not None:  # ... and the generator learns to show each face's emotion
                logits = classifier(diff_augment(fake, cfg.aux_augment))
                g_loss = g_loss + cfg.aux_weight * F.cross_entropy(logits, y)
                extra["g_class_accuracy"] = float((logits.detach().argmax(1) == y).float().mean())
            opt_g.zero_grad(set_to_none=True)
            accelerator.backward(g_loss)
            opt_g.step()
            discriminator.requires_grad_(True)
            if classifier is not None:
                classifier.requires_grad_(True)
            accelerator.unwrap_model(ema).update_parameters(accelerator.unwrap_model(generator))

            state.step += 1
            batches += 1
            values = {"d_loss": check_finite(d_loss, epoch=epoch, step=state.step, run=run),
                      "g_loss": check_finite(g_loss, epoch=epoch, step=state.step, run=run),
                      "d_real": float(d_real.detach().mean()), "d_fake": float(d_fake.detach().mean()), **extra}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            if state.step % cfg.log_every == 0:
                run.log(split="train_step", epoch=epoch + batches / len(loader), step=state.step, **values)
            if budget_spent(cfg, run, state):
                break

        metrics = {key: value / max(batches, 1) for key, value in sums.items()}
        run.log(split="train", epoch=epoch + 1, step=state.step, **metrics)
        if accelerator.is_main_process:
            save_sample_grid(faces_by_emotion(plugin, grid_seeds), grid_seeds,
                             run.path / "samples" / f"epoch_{epoch + 1:03d}.png", title=f"epoch {epoch + 1}")
        val: dict[str, Any] = {}
        if judge is not None:
            scores = judge_expression(plugin, judge, range(10_000, 10_000 + cfg.judge_seeds))
            val = {"judge_accuracy": scores["judge_accuracy"], "judge_macro_f1": scores["judge_macro_f1"]}
            run.log(split="val", epoch=epoch + 1, step=state.step, **val)
        summary = {**provenance, "metrics": {**metrics, **val, "epoch": epoch + 1, "step": state.step}}
        run.save_checkpoint(plugin, "last", **summary)
        best = state.extra.get("best")
        if judge is None or best is None or val["judge_accuracy"] >= best:
            state.extra["best"] = val.get("judge_accuracy", 0.0)
            run.save_checkpoint(plugin, "best", **summary)
        state.epoch = epoch + 1
        run.save_state(accelerator, state)
        run.plot_curves(("d_loss", "g_loss", "judge_accuracy"))
        accelerator.print(f"epoch {epoch + 1}: {format_metrics({**metrics, **val})}")
        if budget_spent(cfg, run, state):
            accelerator.print(f"stopping at step {state.step}: the step or time budget is spent")
            break
    return finish_gan_run(opened, "cgan")
