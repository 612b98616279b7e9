"""Turning logits into the next token, in NumPy (no torch): temperature, top-k, top-p (nucleus),
argmax at T = 0. Every stream draws here, on either back-end (stream.py)."""

from __future__ import annotations

import numpy as np

from genrnn.config import SampleConfig


def distribution(logits: np.ndarray, cfg: SampleConfig, nucleus: tuple[int, int] | None = None) -> np.ndarray:
    """logits (B, V) → probabilities (B, V) after temperature, top-k and top-p.

    ``nucleus`` (ids lo..hi-1): top-p truncates only these, by their share among themselves;
    the other tokens keep their probabilities. Event models pass END and their note-ons
    (``MidiEventTokenizer.nucleus``): a clash is a wrong pitch, while a fermata or a rest is a
    rare but right time shift that a nucleus over every token cut (benchmarks/README.md)."""
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
        seg = probs if nucleus is None else probs[:, nucleus[0]:nucleus[1]]  # a view: zeros land in probs
        q = seg if nucleus is None else seg / np.maximum(seg.sum(-1, keepdims=True), np.float32(1e-30))
        order = np.argsort(-q, axis=-1, kind="stable")
        if q.shape[0] == 1:  # one stream, the live case: plain indexing (a fifth of a band token's draw)
            sorted_p = q[0, order[0]]
            seg[0, order[0][(sorted_p.cumsum() - sorted_p) >= cfg.top_p]] = 0.0
        else:
            sorted_p = np.take_along_axis(q, order, axis=-1)
            drop_sorted = (sorted_p.cumsum(-1) - sorted_p) >= cfg.top_p
            drop = np.empty_like(drop_sorted)
            np.put_along_axis(drop, order, drop_sorted, axis=-1)
            seg[drop] = 0.0
        probs /= probs.sum(-1, keepdims=True)
    return probs


def sample(logits: np.ndarray, cfg: SampleConfig, rng: np.random.Generator,
           nucleus: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw one token per row: returns (tokens (B,), probs (B, V)). Inverse CDF: the first
    token whose cumulative mass reaches u (a zero-probability id is never drawn)."""
    probs = distribution(logits, cfg, nucleus)
    if cfg.temperature == 0:
        return probs.argmax(-1), probs
    cum = probs.cumsum(-1)
    u = rng.random((cum.shape[0], 1), dtype=np.float32) * cum[:, -1:]
    if cum.shape[0] == 1:  # the count of cum ≤ u, found by bisection (cum never decreases)
        return np.minimum(np.searchsorted(cum[0], u[0], side="right"), cum.shape[-1] - 1), probs
    return np.minimum((cum <= u).sum(-1), cum.shape[-1] - 1), probs
