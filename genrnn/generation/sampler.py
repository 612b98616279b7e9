"""Turning logits into the next token: temperature, top-k, top-p (nucleus), argmax at T=0."""

from __future__ import annotations

import torch

from genrnn.config import SampleConfig
from genrnn.generation.npsample import distribution_numpy, sample_numpy

__all__ = ["distribution", "distribution_numpy", "sample", "sample_numpy"]


def distribution(logits: torch.Tensor, cfg: SampleConfig, nucleus: tuple[int, int] | None = None) -> torch.Tensor:
    """logits (B, V) → probabilities (B, V) after temperature, top-k and top-p.

    ``nucleus`` (ids lo..hi-1): top-p truncates only these, by their share among themselves;
    the other tokens keep their probabilities. Event models pass END and their note-ons
    (``MidiEventTokenizer.nucleus``): a clash is a wrong pitch, while a fermata or a rest is a
    rare but right time shift that a nucleus over every token cut (benchmarks/README.md)."""
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
        lo, hi = nucleus or (0, probs.shape[-1])
        seg = probs[:, lo:hi]
        q = seg if nucleus is None else seg / seg.sum(-1, keepdim=True).clamp_min(1e-30)
        sorted_p, order = torch.sort(q, dim=-1, descending=True, stable=True)
        cum = sorted_p.cumsum(-1)
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        drop_sorted = (cum - sorted_p) >= cfg.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        probs = torch.cat([probs[:, :lo], seg.masked_fill(drop, 0.0), probs[:, hi:]], dim=-1)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample(logits: torch.Tensor, cfg: SampleConfig, generator: torch.Generator,
           nucleus: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one token per row: returns (tokens (B,), probs (B, V))."""
    probs = distribution(logits, cfg, nucleus)
    if cfg.temperature == 0:
        return probs.argmax(-1), probs
    # Inverse CDF: the first token whose cumulative mass reaches u. Four small ops instead of
    # torch.multinomial's set-up, which dominated the per-token cost of a one-stream sampler.
    cum = probs.cumsum(-1)  # (B, V)
    u = torch.rand(cum.shape[0], 1, generator=generator, device=cum.device) * cum[:, -1:]
    tokens = (cum <= u).sum(-1).clamp_(max=cum.shape[-1] - 1)  # <=: a zero-probability id is never drawn, even at u = 0
    return tokens, probs
