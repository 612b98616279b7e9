"""Many-to-many training: the harmonizer (models/harmonizer.py) on the Bach chorales.

Every epoch each training chorale is moved to a random key and cut to a random window
(training/harmonizer_data.py); AdamW with gradient clipping and the schedule every genrnn loop
uses (schedule.py), over the time budget, seeded. After each epoch the held-out loss and frame
accuracies are measured, and the best model (by held-out loss) is written atomically as
``best.safetensors`` (inference/harmonizer.py). At the end the best model harmonizes the
held-out melodies free-running and is scored against Bach (``evaluate``).

Library code: raises genrnn.errors, never prints; progress goes to a callback.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrnn.config import HarmonizeConfig, from_dict
from genrnn.errors import ConfigError
from genrnn.inference.harmonizer import generate_lines, load_harmonizer, save_harmonizer
from genrnn.models.harmonizer import (
    VOICE_ORDERS,
    Batch,
    Harmonizer,
    HarmonizerConfig,
    count_parameters,
    make_batch,
)
from genrnn.music import metrics
from genrnn.music import voices as V
from genrnn.training.harmonizer_data import chorales, epoch_pieces, split
from genrnn.training.schedule import adamw, lr_at, set_lr


def model_config(cfg: HarmonizeConfig) -> HarmonizerConfig:
    """The model ``cfg`` asks for: its voices, with ``cfg.model``'s overrides (checked)."""
    fixed = {"voices", "vocab_size", "meter_size"} & set(cfg.model)
    if fixed:
        raise ConfigError(f"model settings {sorted(fixed)} follow from the voices and the grid; leave them out")
    return from_dict(HarmonizerConfig, {**cfg.model, "voices": VOICE_ORDERS[cfg.voices]}, where="model")


def masked_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy over real frames and voices. logits (B, T, V, C)."""
    ce = F.cross_entropy(logits.flatten(0, 2), batch.targets.flatten(), reduction="none")
    ce = ce.view(batch.targets.shape)  # (B, T, V)
    return (ce * batch.mask[..., None]).sum() / (batch.mask.sum() * ce.shape[-1])


# ---------------------------------------------------------------- held-out measures


@torch.no_grad()
def teacher_forced_scores(model: Harmonizer, grids: Sequence[V.ChoraleGrid], batch_size: int = 32) -> dict[str, Any]:
    """Held-out loss, and per voice: frame accuracy (every token) and onset accuracy (frames
    where the real voice starts a note: is the argmax that pitch?), the true past given."""
    model.eval()
    voices = model.config.voices
    loss_sum, frames = 0.0, 0
    hit = np.zeros(len(voices))
    onset_hit, onset_n = np.zeros(len(voices)), np.zeros(len(voices))
    for i in range(0, len(grids), batch_size):
        chunk = grids[i : i + batch_size]
        batch = make_batch([(g.tokens, g.meter) for g in chunk], voices)
        logits = model(batch.melody, batch.meter, batch.targets, batch.lengths)
        n = int(batch.mask.sum())
        loss_sum += float(masked_loss(logits, batch)) * n
        frames += n
        pred = logits.argmax(-1)  # (B, T, V)
        m = batch.mask[..., None]
        hit += ((pred == batch.targets) & m).sum((0, 1)).numpy()
        onset = (batch.targets >= 2) & m
        onset_hit += ((pred == batch.targets) & onset).sum((0, 1)).numpy()
        onset_n += onset.sum((0, 1)).numpy()
    out: dict[str, Any] = {"val_loss": loss_sum / max(frames, 1), "val_frames": frames}
    for k, v in enumerate(voices):
        out[f"{v}_frame_acc"] = float(hit[k] / max(frames, 1))
        out[f"{v}_onset_acc"] = float(onset_hit[k] / max(onset_n[k], 1))
    return out


def evaluate(model: Harmonizer, grids: Sequence[V.ChoraleGrid], temperature: float = 0.0,
             seed: int = 0) -> dict[str, Any]:
    """The held-out chorales harmonized from their soprano alone, against Bach's own voices:
    per voice the share of frames with the right sounding pitch (and pitch class), how often
    the voice sits below the melody, and the vertical consonance of the result next to the
    real chorales' and a shuffled-pitch baseline's (genrnn.music.metrics)."""
    voices = model.config.voices
    lines = generate_lines(model, [(g.voice("soprano"), g.meter) for g in grids], temperature, seed)
    out: dict[str, Any] = {"pieces": len(grids), "temperature": temperature}
    for v in voices:
        real = np.concatenate([V.sounding_pitches(g.voice(v)) for g in grids])
        made = np.concatenate([V.sounding_pitches(line[v]) for line in lines])
        sop = np.concatenate([V.sounding_pitches(g.voice("soprano")) for g in grids])
        both = (real >= 0) & (made >= 0)
        out[f"{v}_pitch_acc"] = float((made[real >= 0] == real[real >= 0]).mean())
        out[f"{v}_pitch_class_acc"] = float(((made[both] - real[both]) % 12 == 0).sum() / max((real >= 0).sum(), 1))
        under = (sop >= 0) & (made >= 0)
        out[f"{v}_below_melody"] = float((made[under] < sop[under]).mean()) if under.any() else 0.0
        out[f"{v}_notes"] = int(sum((line[v] >= 2).sum() for line in lines))
        out[f"{v}_notes_real"] = int(sum((g.voice(v) >= 2).sum() for g in grids))
    made_seqs, real_seqs, shuffled = [], [], []
    rng = np.random.default_rng(seed)
    for g, line in zip(grids, lines, strict=True):
        melody = V.melody_from_grid(g)
        made_seqs.append(V.harmonized_sequence(melody, line))
        real_seqs.append(V.grid_sequence(g, ("soprano", *voices)))
        lower = metrics.shuffled_pitches(V.grid_sequence(g, voices), rng)
        shuffled.append(_merged(V.grid_sequence(g, ("soprano",)), lower))
    out["consonance_generated"] = metrics.vertical_consonance(made_seqs)
    out["consonance_real"] = metrics.vertical_consonance(real_seqs)
    out["consonance_shuffled"] = metrics.vertical_consonance(shuffled)
    return out


def _merged(a: Any, b: Any) -> Any:
    return type(a)(notes=list(a.notes) + list(b.notes), tempo_bpm=a.tempo_bpm, time_signature=a.time_signature)


# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict[str, Any]]
    evaluation: dict[str, Any]
    training: dict[str, Any]


def train_harmonizer(cfg: HarmonizeConfig, out_dir: str | Path, cache_root: str | Path | None = None,
                     on_epoch: Callable[[dict[str, Any]], None] | None = None,
                     on_data: Callable[[V.ChoraleSet, int, int], None] | None = None,
                     dtype: str | None = None) -> TrainResult:
    """Prepare (or read the cached) chorales, train within the time budget, keep the best model
    by held-out loss in ``out_dir/best.safetensors``, evaluate it; ``history.json`` and
    ``eval.json`` are written beside it. ``dtype="bf16"`` stores the final weights as bfloat16."""
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; expected a folder")
    config = model_config(cfg)  # a bad size fails now, not after the chorales are read
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = chorales(cfg, cache_root)
    train, val = split(data, cfg)
    if on_data is not None:
        on_data(data, len(train), len(val))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Harmonizer(config)
    opt = adamw(model, cfg)
    record = _record(cfg, model, data, train, val)
    history: list[dict[str, Any]] = []
    best_loss, best_path = math.inf, out / "best.safetensors"
    train_start = time.perf_counter()
    epoch = 0
    while True:
        epoch += 1
        row = _train_epoch(model, opt, epoch_pieces(train, cfg, rng), cfg, rng, train_start)
        row.update(epoch=epoch, **teacher_forced_scores(model, val), elapsed=time.perf_counter() - train_start)
        row["best"] = row["val_loss"] < best_loss
        if row["best"]:
            best_loss = row["val_loss"]
            record.update(epochs=epoch, best_epoch=epoch, held_out=_public(row),
                          train_seconds=round(row["elapsed"], 1))
            save_harmonizer(best_path, model, record)
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        done_time = row["elapsed"] >= cfg.time_budget or row.get("stopped", False)
        if done_time or (cfg.max_epochs is not None and epoch >= cfg.max_epochs):
            break
    best = load_harmonizer(best_path)
    evaluation = evaluate(best.model, val)
    record = dict(best.training)
    record.update(evaluation=evaluation, wall_seconds=round(time.perf_counter() - started, 1),
                  epochs_run=epoch)
    save_harmonizer(best_path, best.model, record, dtype=torch.bfloat16 if dtype == "bf16" else None)
    (out / "history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    (out / "eval.json").write_text(json.dumps(evaluation, indent=1), encoding="utf-8")
    return TrainResult(best_path, history, evaluation, record)


def _train_epoch(model: Harmonizer, opt: torch.optim.Optimizer, pieces: list[tuple[np.ndarray, np.ndarray]],
                 cfg: HarmonizeConfig, rng: np.random.Generator, train_start: float) -> dict[str, Any]:
    model.train()
    order = rng.permutation(len(pieces))
    losses, frames, stopped = 0.0, 0, False
    for i in range(0, len(order), cfg.batch_size):
        elapsed = time.perf_counter() - train_start
        if elapsed >= cfg.time_budget:
            stopped = True
            break
        step = opt.state_dict()["state"].get(0, {}).get("step", 0)
        set_lr(opt, lr_at(cfg, int(step), elapsed / cfg.time_budget))
        batch = make_batch([pieces[j] for j in order[i : i + cfg.batch_size]], model.config.voices)
        loss = masked_loss(model(batch.melody, batch.meter, batch.targets, batch.lengths), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        n = int(batch.mask.sum())
        losses, frames = losses + float(loss.detach()) * n, frames + n
    return {"train_loss": losses / frames if frames else float("nan"), "train_frames": frames, "stopped": stopped,
            "lr": opt.param_groups[0]["lr"]}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k not in ("best", "stopped")}


def _record(cfg: HarmonizeConfig, model: Harmonizer, data: V.ChoraleSet, train: list, val: list) -> dict[str, Any]:
    settings = asdict(cfg)
    settings["transpose"] = list(cfg.transpose)
    return {
        "task": "harmonize",
        "data": "music21 Bach chorales",
        "chorales": len(data.grids),
        "skipped": {k: len(v) for k, v in data.skipped.items()},
        "train_pieces": len(train),
        "val_pieces": len(val),
        "val_names": sorted(g.name for g in val),
        "train_frames": int(sum(g.frames for g in train)),
        "parameters": count_parameters(model),
        "settings": settings,
    }
