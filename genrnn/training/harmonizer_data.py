"""The harmonizer's training data: the Bach chorales on the 16th grid (genrnn/music/voices.py,
cached under the cache root's ``chorale-grids``), held out by name (corpora/base.py), and each
epoch's pieces: every training chorale moved to a random key (corpora/augment.py) and cut to a
random window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genrnn.config import HarmonizeConfig
from genrnn.corpora import augment
from genrnn.corpora.base import cache_folder, held_out_names
from genrnn.errors import ConfigError
from genrnn.music import voices as V


def chorales(cfg: HarmonizeConfig, cache_root: str | Path | None = None) -> V.ChoraleSet:
    """The chorales on the grid (the first ``cfg.limit`` only when set), from the cache when
    it holds them."""
    return V.prepare_chorales(cache_folder("chorale-grids", cache_root), cfg.limit)


def split(data: V.ChoraleSet, cfg: HarmonizeConfig) -> tuple[list[V.ChoraleGrid], list[V.ChoraleGrid]]:
    """(training, held-out) chorales; at least one of each, or one clear error."""
    val = held_out_names([g.name for g in data.grids], cfg.val_percent, cfg.split_salt)
    train, held = [g for g in data.grids if g.name not in val], [g for g in data.grids if g.name in val]
    if not train or not held:
        raise ConfigError(f"{len(data.grids)} usable chorale(s): need at least one to train on and one held out")
    return train, held


def epoch_pieces(grids: Sequence[V.ChoraleGrid], cfg: HarmonizeConfig,
                 rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch: each chorale in a random allowed key, cut to a random window."""
    out = []
    for g in grids:
        tokens, meter = augment.random_key(g.tokens, cfg.transpose, rng), g.meter
        if g.frames > cfg.window:
            start = int(rng.integers(0, g.frames - cfg.window + 1))
            tokens, meter = V.window(tokens, start, cfg.window), meter[start : start + cfg.window]
        out.append((tokens, meter))
    return out
