"""One-to-many, measured: generate from a mode label alone and ask music21's key profiles
whether the piece is in that mode."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from genrnn import session
from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.music.notation import matches_labels


def mode_match(model: session.Model, per_mode: int, seconds: float, settings: SampleConfig,
               modes: tuple[str, ...] = ("major", "minor")) -> dict[str, Any]:
    """``per_mode`` pieces of ``seconds`` from ``START, mode=M`` for each mode M (seeds
    ``settings.seed + n``); the share whose analysed mode is M, overall and per mode."""
    labels = getattr(model.tokenizer, "labels", []) or []
    missing = [m for m in modes if f"mode={m}" not in labels]
    if missing:
        raise ConfigError(f"{model.path.name}: no mode label(s) {missing}; train with --conditioned")
    base = settings.seed or 0
    rows: dict[str, Any] = {}
    total = 0
    for mode in modes:
        primer = session.label_primer(model, [f"mode={mode}"])
        checked = [matches_labels(session.sample_music(model, replace(settings, seed=base + n), primer, seconds)
                                  .sequence, [f"mode={mode}"]) for n in range(per_mode)]
        found = [analysed.split(" ")[-1] if analysed != "no notes" else "none" for _, analysed in checked]
        hits = sum(ok for ok, _ in checked)
        total += hits
        rows[mode] = {"samples": per_mode, "match": hits, "share": hits / per_mode, "analysed": found}
    return {"seconds": seconds, "temperature": settings.temperature, "top_p": settings.top_p,
            "per_mode": rows, "mode_match": total / (per_mode * len(modes))}
