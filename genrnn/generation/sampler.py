"""Turning logits into the next token: temperature, top-k, top-p (nucleus), argmax at T=0."""

from __future__ import annotations

import torch

from genrnn.config import SampleConfig
from genrnn.generation.npsample import distribution_numpy, sample_numpy

__all__ = ["distribution", "distribution_numpy", "sample", "sample_numpy"]


def distribution(logits: torch.Tensor, cfg: SampleConfig) -> torch.Tensor:
    """logits (B, V) → probabilities (B, V) after temperature, top-k and top-p."""
    logits = logits.float()
    if cfg.temperature == 0:
        probs = torch.zeros_like(logits)
        probs.scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
        return probs
    logits = logits / cfg.temperature
    if cfg.top_k and cfg.top_k < logits.shape[-1]:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        cum = sorted_p.cumsum(-1)
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        drop_sorted = (cum - sorted_p) >= cfg.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample(logits: torch.Tensor, cfg: SampleConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one token per row: returns (tokens (B,), probs (B, V))."""
    probs = distribution(logits, cfg)
    if cfg.temperature == 0:
        return probs.argmax(-1), probs
    # Inverse CDF: the first token whose cumulative mass reaches u. Four small ops instead of
    # torch.multinomial's set-up, which dominated the per-token cost of a one-stream sampler.
    cum = probs.cumsum(-1)  # (B, V)
    u = torch.rand(cum.shape[0], 1, generator=generator, device=cum.device) * cum[:, -1:]
    tokens = (cum <= u).sum(-1).clamp_(max=cum.shape[-1] - 1)  # <=: a zero-probability id is never drawn, even at u = 0
    return tokens, probs
