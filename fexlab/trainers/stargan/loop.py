"""Train the ``stargan`` expression translator with Accelerate (StarGAN, Choi et al. 2018, with
GANimation's attention mask, Pumarola et al. 2018).

Per batch of real faces ``x`` with emotions ``y``, and random target emotions ``t``:

1. the translator's own classifier learns the emotions of the real faces (never of edited ones);
2. the discriminator learns real faces from edited ones, ``G(x, t)`` (hinge loss, both through
   the same differentiable augmentation);
3. the translator learns to fool it while showing ``t`` to the classifier, to give ``x`` back
   when the edit is undone (cycle, ``G(G(x, t), y)``), to change nothing when the target is the
   emotion the face already shows (identity, ``G(x, y)``), and to keep its attention mask small
   and smooth;
4. the EMA copy of the translator is updated: it is the one that is saved.

Each epoch saves a grid of fixed validation faces (rows) in every emotion (columns), scores
edits of validation faces with a judge classifier when one is given (its target accuracy, among
epochs that keep the faces' SSIM, picks ``best/``), and saves ``last/`` and ``state/``.
"""

from __future__ import annotations

from typing import Any

from ..gan import ema_copy, face_arrays, finish_gan_run, open_gan_run
from ..run import EpochSampler, RunDirectory, RunState, budget_spent, check_finite, format_metrics, progress
from .config import StarGANTrainConfig

__all__ = ["train_stargan"]


def train_stargan(cfg: StarGANTrainConfig, *, resume: bool = False) -> RunDirectory:
    """Train (or, with ``resume``, continue) the translator run in ``cfg.run_folder()``; returns it."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from fexlab.plugins.cgan.diffaugment import diff_augment
    from fexlab.plugins.stargan import StarGAN
    from fexlab.plugins.stargan.model import total_variation

    opened = open_gan_run(cfg, resume, (cfg.diffaugment, cfg.aux_augment), "stargan")
    cfg, accelerator, run, judge = opened.cfg, opened.accelerator, opened.run, opened.judge
    faces, labels = opened.faces, opened.labels
    val_faces, val_labels, _ = face_arrays(cfg.data, cfg.data_options, "val", cfg.resolution, cfg.grayscale,
                                           need_all=False)

    plugin = StarGAN.from_config(cfg.plugin_config())
    generator = plugin.module.generator.train()
    classifier = plugin.module.classifier.train()
    discriminator = plugin.build_discriminator()
    ema = ema_copy(generator, cfg.ema_decay)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas))
    opt_c = torch.optim.Adam(classifier.parameters(), lr=cfg.lr_c)
    loader = DataLoader(TensorDataset(torch.from_numpy(faces), torch.from_numpy(labels)), batch_size=cfg.batch_size,
                        sampler=EpochSampler(len(labels), cfg.seed), drop_last=len(labels) >= cfg.batch_size)
    generator, discriminator, classifier, ema, opt_g, opt_d, opt_c, loader = accelerator.prepare(
        generator, discriminator, classifier, ema, opt_g, opt_d, opt_c, loader)
    state = run.load_state(accelerator) if resume else RunState(extra={"best": None})
    # The saved translator is the EMA copy; the classifier is saved as it trains.
    plugin.module.generator = accelerator.unwrap_model(ema).module
    plugin.module.classifier = accelerator.unwrap_model(classifier)
    num_classes = plugin.config.num_classes
    grid = _grid_faces(val_faces, val_labels, cfg.grid_faces)
    provenance = opened.provenance()

    for epoch in range(state.epoch, cfg.epochs):
        loader.set_epoch(epoch)
        generator.train()
        sums: dict[str, float] = {}
        batches = 0
        for real, y in progress(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", enabled=accelerator.is_main_process):
            # random targets, different from the source where possible
            shift = torch.randint(1, num_classes, (real.shape[0],), device=y.device)  # resumed with the RNG state
            t = (y + shift) % num_classes
            t_onehot, y_onehot = F.one_hot(t, num_classes).float(), F.one_hot(y, num_classes).float()

            classifier.train().requires_grad_(True)  # 1. the classifier learns real faces' emotions
            logits = classifier(diff_augment(real, cfg.aux_augment))
            c_loss = F.cross_entropy(logits, y)
            opt_c.zero_grad(set_to_none=True)
            accelerator.backward(c_loss)
            opt_c.step()
            classifier.eval().requires_grad_(False)

            with torch.no_grad():  # 2. the discriminator: real faces against edited ones
                fake = generator(real, t_onehot).image
            d_real = discriminator(diff_augment(real, cfg.diffaugment))
            d_fake = discriminator(diff_augment(fake, cfg.diffaugment))
            d_loss = torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            accelerator.backward(d_loss)
            opt_d.step()

            discriminator.requires_grad_(False)  # 3. the translator
            edited = generator(real, t_onehot)
            adv = -discriminator(diff_augment(edited.image, cfg.diffaugment)).mean()
            cls = F.cross_entropy(classifier(diff_augment(edited.image, cfg.aux_augment)), t)
            cycle = (generator(edited.image, y_onehot).image - real).abs().mean()
            same = generator(real, y_onehot)
            identity = (same.image - real).abs().mean()
            mask = edited.mask.mean() + same.mask.mean()
            tv = total_variation(edited.mask)
            g_loss = (adv + cfg.cls_weight * cls + cfg.cycle_weight * cycle + cfg.identity_weight * identity
                      + cfg.mask_weight * mask + cfg.tv_weight * tv)
            opt_g.zero_grad(set_to_none=True)
            accelerator.backward(g_loss)
            opt_g.step()
            discriminator.requires_grad_(True)
            accelerator.unwrap_model(ema).update_parameters(accelerator.unwrap_model(generator))  # 4.

            state.step += 1
            batches += 1
            values = {"d_loss": check_finite(d_loss, epoch=epoch, step=state.step, run=run),
                      "g_loss": check_finite(g_loss, epoch=epoch, step=state.step, run=run),
                      "adv": float(adv.detach()), "cls": float(cls.detach()), "cycle": float(cycle.detach()),
                      "identity": float(identity.detach()), "mask": float(edited.mask.detach().mean()),
                      "c_loss": float(c_loss.detach()),
                      "c_accuracy": float((logits.detach().argmax(1) == y).float().mean())}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            if state.step % cfg.log_every == 0:
                run.log(split="train_step", epoch=epoch + batches / len(loader), step=state.step, **values)
            if budget_spent(cfg, run, state):
                break

        metrics = {key: value / max(batches, 1) for key, value in sums.items()}
        run.log(split="train", epoch=epoch + 1, step=state.step, **metrics)
        if accelerator.is_main_process:
            _save_grid(plugin, grid, run.path / "samples" / f"epoch_{epoch + 1:03d}.png", f"epoch {epoch + 1}")
        val: dict[str, Any] = {}
        if judge is not None:
            from fexlab.eval.editing import editing_metrics

            scores = editing_metrics(plugin, judge, *_judge_faces(val_faces, val_labels, cfg.judge_faces, cfg.seed),
                                     n_resamples=100)
            val = {key: scores[key] for key in ("judge_accuracy", "judge_macro_f1", "ssim", "reconstruction_l1")}
            run.log(split="val", epoch=epoch + 1, step=state.step, **val)
        summary = {**provenance, "metrics": {**metrics, **val, "epoch": epoch + 1, "step": state.step}}
        run.save_checkpoint(plugin, "last", **summary)
        best = state.extra.get("best")
        keeps = not val or val["ssim"] >= cfg.best_min_ssim
        if judge is None or best is None or (keeps and val["judge_accuracy"] >= best):
            state.extra["best"] = val.get("judge_accuracy", 0.0) if keeps else -1.0
            run.save_checkpoint(plugin, "best", **summary)
        state.epoch = epoch + 1
        run.save_state(accelerator, state)
        run.plot_curves(("d_loss", "cls", "cycle", "identity", "mask", "judge_accuracy", "ssim"))
        accelerator.print(f"epoch {epoch + 1}: {format_metrics({**metrics, **val})}")
        if budget_spent(cfg, run, state):
            accelerator.print(f"stopping at step {state.step}: the step or time budget is spent")
            break
    return finish_gan_run(opened, "stargan")


def _grid_faces(faces: Any, labels: Any, count: int) -> tuple[Any, Any]:
    """``count`` fixed validation faces and labels for the sample grid, of as many emotions as there are."""
    import numpy as np

    order = np.argsort(labels, kind="stable")
    picks = order[np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)]
    return faces[picks], labels[picks]


def _judge_faces(faces: Any, labels: Any, count: int, seed: int) -> tuple[list, Any]:
    """``count`` validation faces (RGB uint8) and their labels, the same every epoch."""
    import numpy as np

    picks = np.random.default_rng(seed).permutation(len(labels))[:count]
    arrays = ((faces[picks] + 1) * 127.5).round().clip(0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays], labels[picks]


def _save_grid(plugin: Any, grid: tuple[Any, Any], path: Any, title: str) -> None:
    """Rows: the validation faces (named by their label); columns: the input, then the face
    edited to each emotion."""
    import torch

    from fexlab.eval.plots import sample_grid, save_figure
    from fexlab.registry.emotions import EMOTIONS

    faces, labels = grid
    rows = {}
    for i, (face, label) in enumerate(zip(torch.from_numpy(faces), labels)):
        edits = plugin.translate(face[None].expand(len(EMOTIONS), -1, -1, -1), torch.eye(len(EMOTIONS)))
        rows[f"{i + 1}: {EMOTIONS[int(label)]}"] = plugin.to_images(torch.cat([face[None], edits]))
    save_figure(sample_grid(rows, ["input", *EMOTIONS], title=title), path)
