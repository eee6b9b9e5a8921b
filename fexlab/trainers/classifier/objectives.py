"""The classifier trainer's objective: label loss (hard or soft targets), distillation, mixup / cutmix.

- Hard labels: cross-entropy against each face's emotion, with class weights and label smoothing.
- Soft targets (FER+ vote distributions, :meth:`FaceDataset.soft_targets`): the same
  cross-entropy against a distribution, torch's own ``cross_entropy`` with probability targets.
- Distillation: Hinton et al.'s KL divergence between the teacher's and the student's
  temperature-softened distributions, times T squared, mixed with the label loss by ``weight``.
  The teacher's probabilities per training face are computed once before training.
- Mixup / cutmix: a batch is blended with a shuffled copy of itself (the whole image, or a box
  pasted in), and the loss is the same blend of the losses against both faces' targets. The
  draw is seeded per batch, so a resumed run mixes as the uninterrupted one did.

Targets come over the canonical emotions; ``lookup[c]`` is the model output of emotion ``c``
(-1 when the model has none), so a model with its own label order learns the right outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["MIX_MODES", "ClassifierLoss", "Mix", "mix_batch", "soften"]

MIX_MODES = ("none", "mixup", "cutmix")


@dataclass(frozen=True)
class Mix:
    """How a batch was mixed: face i is ``lam`` of itself and ``1 - lam`` of face ``perm[i]``."""

    perm: torch.Tensor
    lam: float


def mix_batch(inputs: torch.Tensor, mode: str, alpha: float, seed: Sequence[int]) -> tuple[torch.Tensor, Mix | None]:
    """``inputs`` (N, C, H, W) mixed by ``mode`` with lam ~ Beta(alpha, alpha), drawn from ``seed``.

    Cutmix pastes a box of the partner's image whose area is 1 - lam of the image (clipped at
    the borders, lam then being the share of the face's own pixels).
    """
    if mode == "none" or len(inputs) < 2:
        return inputs, None
    if mode not in MIX_MODES:
        raise ValueError(f"unknown mix mode {mode!r}; choose from {', '.join(MIX_MODES)}")
    rng = np.random.default_rng(list(seed))
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(inputs))).to(inputs.device)
    if mode == "mixup":
        return lam * inputs + (1.0 - lam) * inputs[perm], Mix(perm, lam)
    height, width = inputs.shape[-2:]
    side = np.sqrt(1.0 - lam)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    y0, y1 = max(cy - int(height * side) // 2, 0), min(cy + int(height * side) // 2, height)
    x0, x1 = max(cx - int(width * side) // 2, 0), min(cx + int(width * side) // 2, width)
    mixed = inputs.clone()
    mixed[..., y0:y1, x0:x1] = inputs[perm][..., y0:y1, x0:x1]
    return mixed, Mix(perm, 1.0 - (y1 - y0) * (x1 - x0) / (height * width))


def soften(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities at temperature T: softmax(log p / T), i.e. softmax(logits / T) of their logits."""
    return torch.softmax(torch.log(probs) / temperature, dim=1)


class ClassifierLoss(torch.nn.Module):
    """Label loss (hard or soft) mixed with distillation, over mixed or plain batches."""

    def __init__(self, lookup: torch.Tensor, outputs: int, *, weight: torch.Tensor | None = None,
                 label_smoothing: float = 0.0, distill_weight: float = 0.0, temperature: float = 1.0):
        super().__init__()
        self.register_buffer("lookup", torch.as_tensor(lookup, dtype=torch.long))
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))
        self.outputs, self.label_smoothing = int(outputs), float(label_smoothing)
        self.distill_weight, self.temperature = float(distill_weight), float(temperature)

    def to_outputs(self, dist: torch.Tensor) -> torch.Tensor:
        """(N, 7) distributions over the emotions -> (N, outputs) over the model's outputs, renormalised
        over the emotions the model has."""
        keep = self.lookup >= 0
        out = torch.zeros(len(dist), self.outputs, dtype=dist.dtype, device=dist.device)
        out[:, self.lookup[keep]] = dist[:, keep]
        return out / out.sum(dim=1, keepdim=True).clamp_min(1e-12)

    def label_loss(self, logits: torch.Tensor, labels: torch.Tensor, soft: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy against ``labels`` (canonical indices) or, when given, ``soft`` distributions.

        With class weights, a batch's loss is divided by the total weight of its targets, as torch
        does for class indices, so a one-hot soft target gives the same loss as its label.
        """
        if soft is None:
            return F.cross_entropy(logits, self.lookup[labels], weight=self.weight,
                                   label_smoothing=self.label_smoothing, ignore_index=-1)
        target = self.to_outputs(soft.float())
        if self.weight is None:
            return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        total = F.cross_entropy(logits, target, weight=self.weight, label_smoothing=self.label_smoothing,
                                reduction="sum")
        return total / (target @ self.weight).sum().clamp_min(1e-12)

    def distill_loss(self, logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """T^2 KL(teacher_T || student_T), ``teacher`` being (N, 7) probabilities over the emotions."""
        target = self.to_outputs(soften(teacher.float(), self.temperature))
        student = F.log_softmax(logits / self.temperature, dim=1)
        return F.kl_div(student, target, reduction="batchmean") * self.temperature**2

    def _one(self, logits: torch.Tensor, labels: torch.Tensor, extras: Mapping[str, torch.Tensor]) -> torch.Tensor:
        loss = self.label_loss(logits, labels, extras.get("soft"))
        if "teacher" in extras and self.distill_weight > 0:
            loss = (1.0 - self.distill_weight) * loss + self.distill_weight * self.distill_loss(logits, extras["teacher"])
        return loss

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, extras: Mapping[str, torch.Tensor] | None = None,
                mix: Mix | None = None) -> torch.Tensor:
        """The loss of a batch; ``extras`` may hold per-face "soft" targets and "teacher" probabilities."""
        extras = dict(extras or {})
        logits = logits.float()
        if mix is None:
            return self._one(logits, labels, extras)
        partner = {key: value[mix.perm] for key, value in extras.items()}
        return mix.lam * self._one(logits, labels, extras) + (1.0 - mix.lam) * self._one(logits, labels[mix.perm], partner)
