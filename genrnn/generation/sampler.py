"""Turning logits into the next token: temperature, top-k, top-p (nucleus), argmax at T=0."""

from __future__ import annotations

import numpy as np
import torch

from genrnn.config import SampleConfig


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


def distribution_numpy(logits: np.ndarray, cfg: SampleConfig) -> np.ndarray:
    """NumPy twin of :func:`distribution` for the CPU stream (same maths, no dispatch cost)."""
    logits = np.asarray(logits, dtype=np.float32)
    rows = np.arange(logits.shape[0])
    if cfg.temperature == 0:
        probs = np.zeros_like(logits)
        probs[rows, logits.argmax(-1)] = 1.0
        return probs
    z = logits / np.float32(cfg.temperature)
    if cfg.top_k and cfg.top_k < z.shape[-1]:
        kth = np.partition(z, -cfg.top_k, axis=-1)[:, -cfg.top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max(-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(-1, keepdims=True)
    if cfg.top_p < 1.0:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(probs, order, axis=-1)
        drop_sorted = (sorted_p.cumsum(-1) - sorted_p) >= cfg.top_p
        drop = np.empty_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        probs[drop] = 0.0
        probs /= probs.sum(-1, keepdims=True)
    return probs


def sample_numpy(logits: np.ndarray, cfg: SampleConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one token per row with NumPy: returns (tokens (B,), probs (B, V))."""
    probs = distribution_numpy(logits, cfg)
    if cfg.temperature == 0:
        return probs.argmax(-1), probs
    cum = probs.cumsum(-1)
    u = rng.random((cum.shape[0], 1), dtype=np.float32) * cum[:, -1:]
    return np.minimum((cum <= u).sum(-1), cum.shape[-1] - 1), probs
