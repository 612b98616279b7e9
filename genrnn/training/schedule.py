"""The one optimiser set-up and learning-rate schedule of every genrnn training loop (language
models, the classifier, the harmonizer): AdamW with weight decay on the weight matrices only
(not embeddings, biases or norms), linear warmup, then cosine decay that ends exactly where the
run ends (its time budget or step limit, whichever comes first)."""

from __future__ import annotations

import math
from typing import Any

import torch

from genrnn.config import OptimConfig


def progress(step: int, elapsed: float, max_steps: int | None, time_budget: float | None) -> float:
    """How far through the run, 0 → 1: the further of the step limit and the time budget."""
    parts = [0.0]
    if time_budget:
        parts.append(elapsed / time_budget)
    if max_steps:
        parts.append(step / max_steps)
    return max(parts)


def lr_at(cfg: OptimConfig, step: int, done: float) -> float:
    """Linear warmup over ``warmup_steps``, then cosine from lr to lr·min_lr_frac as ``done``
    (``progress``) goes 0 → 1."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    p = min(max(done, 0.0), 1.0)
    cos = cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p))
    return cfg.lr * warm * cos


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def adamw(model: torch.nn.Module, cfg: OptimConfig, device: torch.device | None = None) -> torch.optim.Optimizer:
    """AdamW (β 0.9, 0.99) with ``cfg.weight_decay`` on 2-D weights that are not embeddings."""
    decay: list[Any] = []
    other: list[Any] = []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed" not in name else other).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}]
    fused = device is not None and device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99), fused=fused)
