"""Train, save, load and use the harmonizer (genrnn.models.harmonizer) on the Bach chorales.

Training: the chorales on the 16th grid (genrnn.music.voices, cached), held out by piece;
every epoch each training chorale is moved to a random key (augmentation) and cut to a random
window; AdamW with gradient clipping, a cosine learning rate over the time budget, seeded.
After each epoch the held-out loss and frame accuracies are measured, and the best model (by
held-out loss) is written atomically as ``best.safetensors`` (weights + JSON metadata: model
config, voices, grid, vocabulary, accuracy, wall time). At the end the best model harmonizes
the held-out melodies free-running and is scored against Bach (``evaluate``).

Library code: raises genrnn.errors, never prints; progress goes to a callback.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrnn import __version__
from genrnn.errors import CheckpointError, ConfigError
from genrnn.models.harmonizer import VOICE_ORDERS, Harmonizer, HarmonizerConfig, count_parameters
from genrnn.music import metrics
from genrnn.music import voices as V
from genrnn.training.checkpoint import (
    _atomic_save,
    _check_format,
    _json_field,
    _load_weights,
    _read,
)

FORMAT = "genrnn-harmonizer"
DEFAULT_CHECKPOINTS = (Path("runs/harmonizer/best.safetensors"), Path("checkpoints/harmonizer.safetensors"))


@dataclass
class HarmonizeTrainConfig:
    voices: str = "bass"  # "bass" or "atb"
    time_budget: float = 300.0  # seconds of training (evaluation included)
    max_epochs: int | None = None
    batch_size: int = 4  # chorales per step: more, smaller steps learn more in a fixed time
    window: int = 256  # frames per training window (64 quarters)
    lr: float = 5e-3
    weight_decay: float = 0.01
    clip: float = 1.0
    seed: int = 0
    val_percent: float = 10.0
    split_salt: str = "genrnn"
    limit: int | None = None  # first N chorales only (tests, quick looks)
    transpose: tuple[int, int] = (-6, 5)  # augmentation range in semitones (0, 0 = none)
    threads: int | None = None
    model: dict[str, Any] = field(default_factory=dict)  # HarmonizerConfig overrides

    def validate(self) -> None:
        if self.voices not in VOICE_ORDERS:
            raise ConfigError(f"--voices {self.voices!r}: expected one of {sorted(VOICE_ORDERS)}")
        if not self.time_budget > 0:
            raise ConfigError(f"--time-budget {self.time_budget}: expected a positive number of seconds")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ConfigError(f"--max-epochs {self.max_epochs}: expected at least 1")
        if self.batch_size < 1 or self.window < 16:
            raise ConfigError("--batch-size must be at least 1 and --window at least 16 frames")
        if not 0 < self.val_percent < 100:
            raise ConfigError(f"--val-percent {self.val_percent}: expected 0 < value < 100")
        if self.limit is not None and self.limit < 2:
            raise ConfigError(f"--limit {self.limit}: need at least 2 chorales (one to train, one held out)")
        lo, hi = self.transpose
        if lo > 0 or hi < 0 or hi - lo > 24:
            raise ConfigError(f"transpose range {self.transpose}: expected lo <= 0 <= hi within two octaves")
        known = {f.name for f in fields(HarmonizerConfig)} - {"voices", "vocab_size", "meter_size"}
        unknown = sorted(set(self.model) - known)
        if unknown:
            raise ConfigError(f"unknown model setting(s) {unknown}; known: {sorted(known)}")

    def model_config(self) -> HarmonizerConfig:
        config = HarmonizerConfig(voices=VOICE_ORDERS[self.voices], **self.model)
        try:
            config.validate()
        except ValueError as exc:
            raise ConfigError(f"model: {exc}") from None
        return config


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    melody: torch.Tensor  # (B, T)
    meter: torch.Tensor  # (B, T)
    targets: torch.Tensor  # (B, T, V), REST in padding
    lengths: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T) True on real frames


def _voice_columns(voices: Sequence[str]) -> list[int]:
    return [V.VOICE_NAMES.index(v) for v in voices]


def make_batch(pieces: Sequence[tuple[np.ndarray, np.ndarray]], voices: Sequence[str]) -> Batch:
    """pieces of (tokens (T, 4), meter (T,)) → padded tensors."""
    cols = _voice_columns(voices)
    longest = max(len(t) for t, _ in pieces)
    n = len(pieces)
    melody = np.full((n, longest), V.REST, dtype=np.int64)
    meter = np.zeros((n, longest), dtype=np.int64)
    targets = np.full((n, longest, len(cols)), V.REST, dtype=np.int64)
    lengths = np.array([len(t) for t, _ in pieces], dtype=np.int64)
    for i, (tokens, pos) in enumerate(pieces):
        melody[i, : len(tokens)] = tokens[:, 0]
        meter[i, : len(tokens)] = pos
        targets[i, : len(tokens)] = tokens[:, cols]
    mask = np.arange(longest)[None, :] < lengths[:, None]
    return Batch(*(torch.from_numpy(a) for a in (melody, meter, targets, lengths, mask)))


def training_pieces(grids: Sequence[V.ChoraleGrid], cfg: HarmonizeTrainConfig,
                    rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch: each chorale in a random allowed key, cut to a random window."""
    out = []
    for g in grids:
        shift = int(rng.choice(V.transpositions(g.tokens, *cfg.transpose)))
        tokens, meter = V.transpose_tokens(g.tokens, shift), g.meter
        if g.frames > cfg.window:
            start = int(rng.integers(0, g.frames - cfg.window + 1))
            tokens, meter = V.window(tokens, start, cfg.window), meter[start : start + cfg.window]
        out.append((tokens, meter))
    return out


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


@torch.no_grad()
def generate_lines(model: Harmonizer, melodies: Sequence[tuple[np.ndarray, np.ndarray]], temperature: float = 0.0,
                   seed: int = 0, batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """Free-running harmonization of (melody tokens (T,), meter (T,)) → per melody {voice: tokens}.
    Silence before the melody's first note and after its last stays silent: the chorales never
    begin with a rest, so the model would otherwise fill a count-in with a held chord."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    spans = [_sounding_span(m) for m, _ in melodies]
    out: list[dict[str, np.ndarray]] = []
    for i in range(0, len(melodies), batch_size):
        chunk = [(m[a:b], pos[a:b]) for (m, pos), (a, b) in zip(melodies[i : i + batch_size], spans[i : i + batch_size],
                                                                strict=True)]
        fake = [(np.stack([V.window(m, 0, len(m))] * 4, axis=1), pos) for m, pos in chunk]
        batch = make_batch(fake, model.config.voices)
        lines = model.generate(batch.melody, batch.meter, batch.lengths, temperature, gen).numpy()
        for j, (m, _) in enumerate(melodies[i : i + batch_size]):
            a, b = spans[i + j]
            full = np.full((len(m), len(model.config.voices)), V.REST, dtype=np.int16)
            full[a:b] = lines[j, : b - a]
            out.append({v: full[:, k].copy() for k, v in enumerate(model.config.voices)})
    return out


def _sounding_span(tokens: np.ndarray) -> tuple[int, int]:
    """First frame of the melody's first note .. one past the last sounding frame."""
    on = np.flatnonzero(np.asarray(tokens) != V.REST)
    return (int(on[0]), int(on[-1]) + 1) if on.size else (0, len(tokens))


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


# ---------------------------------------------------------------- checkpoints


@dataclass
class HarmonizerCheckpoint:
    path: Path
    model: Harmonizer
    training: dict[str, Any]

    @property
    def voices(self) -> tuple[str, ...]:
        return self.model.config.voices


def grid_spec() -> dict[str, int]:
    return {"frames_per_quarter": V.FRAMES_PER_QUARTER, "pitch_lo": V.PITCH_LO, "pitch_hi": V.PITCH_HI,
            "meter_size": V.METER_SIZE}


def save_harmonizer(path: str | Path, model: Harmonizer, training: dict[str, Any],
                    dtype: torch.dtype | None = None) -> Path:
    """Weights + JSON metadata, atomically. ``dtype=torch.bfloat16`` halves the file."""
    path = Path(path)
    config = asdict(model.config)
    config["voices"] = list(model.config.voices)
    meta = {
        "format": FORMAT,
        "format_version": "1",
        "genrnn_version": __version__,
        "model_config": json.dumps(config),
        "voices": json.dumps(list(model.config.voices)),
        "grid": json.dumps(grid_spec()),
        "vocab": json.dumps(V.token_names()),
        "training": json.dumps(training),
    }
    state = {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    _atomic_save(state, meta, path)
    return path


def resolve_harmonizer_path(path: str | Path | None) -> Path:
    """An explicit path (a run folder means its best.safetensors), else the first default that exists."""
    if path is None:
        for candidate in DEFAULT_CHECKPOINTS:
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            "no harmonizer checkpoint: none at " + " or ".join(str(p) for p in DEFAULT_CHECKPOINTS)
            + "; train one with `genrnn harmonize train --out runs/harmonizer` (a few minutes on a CPU) "
              "or pass --checkpoint PATH")
    p = Path(path)
    if p.is_dir():
        if (p / "best.safetensors").is_file():
            return p / "best.safetensors"
        raise CheckpointError(f"{p}: folder without best.safetensors; expected a harmonizer checkpoint or run folder")
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint; train one with `genrnn harmonize train --out DIR`")
    return p


def load_harmonizer(path: str | Path | None = None) -> HarmonizerCheckpoint:
    """Load and validate a harmonizer checkpoint; every problem is a CheckpointError that names it."""
    path = resolve_harmonizer_path(path)
    meta, tensors = _read(path)
    if meta.get("format") == "genrnn-checkpoint":
        raise CheckpointError(f"{path}: a language-model checkpoint (genrnn train), not a harmonizer; "
                              "train one with `genrnn harmonize train`")
    _check_format(path, meta, FORMAT)
    grid = _json_field(path, meta, "grid")
    if grid != grid_spec():
        raise CheckpointError(f"{path}: made for the grid {grid}, this genrnn uses {grid_spec()}")
    raw = _json_field(path, meta, "model_config")
    vocab = _json_field(path, meta, "vocab")
    config = _config_from(path, raw)
    if not isinstance(vocab, list) or len(vocab) != config.vocab_size or vocab != V.token_names():
        raise CheckpointError(f"{path}: vocabulary does not match the grid's {V.VOCAB_SIZE} tokens")
    voices = _json_field(path, meta, "voices")
    if list(config.voices) != voices:
        raise CheckpointError(f"{path}: metadata voices {voices} disagree with the model config {list(config.voices)}")
    model = Harmonizer(config)
    _load_weights(path, model, {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    model.eval()
    training = _json_field(path, meta, "training")
    return HarmonizerCheckpoint(path, model, training if isinstance(training, dict) else {})


def _config_from(path: Path, raw: Any) -> HarmonizerConfig:
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: metadata 'model_config' is not an object")
    known = {f.name for f in fields(HarmonizerConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CheckpointError(f"{path}: model_config has unknown field(s) {unknown} (made by a newer genrnn?)")
    try:
        config = HarmonizerConfig(**{**raw, "voices": tuple(raw.get("voices", ()))})
        config.validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model config: {exc}") from None
    if config.vocab_size != V.VOCAB_SIZE or config.meter_size != V.METER_SIZE:
        raise CheckpointError(f"{path}: vocab_size/meter_size {config.vocab_size}/{config.meter_size} do not "
                              f"match the grid ({V.VOCAB_SIZE}/{V.METER_SIZE})")
    return config


# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict[str, Any]]
    evaluation: dict[str, Any]
    training: dict[str, Any]


def train_harmonizer(cfg: HarmonizeTrainConfig, out_dir: str | Path, cache_dir: str | Path | None = None,
                     on_epoch: Callable[[dict[str, Any]], None] | None = None,
                     on_data: Callable[[V.ChoraleSet, int, int], None] | None = None) -> TrainResult:
    """Prepare (or read the cached) chorales, train within the time budget, keep the best model
    by held-out loss in ``out_dir/best.safetensors``, evaluate it; ``history.json`` and
    ``eval.json`` are written beside it."""
    from genrnn.corpora.recipes import default_cache_dir

    cfg.validate()
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; expected a folder")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = V.prepare_chorales(cache_dir or default_cache_dir(), cfg.limit)
    train, val = data.split(cfg.val_percent, cfg.split_salt)
    if not train or not val:
        raise ConfigError(f"{len(data.grids)} usable chorale(s): need at least one to train on and one held out")
    if on_data is not None:
        on_data(data, len(train), len(val))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Harmonizer(cfg.model_config())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    record = _record(cfg, model, data, train, val)
    history: list[dict[str, Any]] = []
    best_loss, best_path = math.inf, out / "best.safetensors"
    train_start = time.perf_counter()
    epoch = 0
    while True:
        epoch += 1
        row = _train_epoch(model, opt, training_pieces(train, cfg, rng), cfg, rng, train_start)
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
    save_harmonizer(best_path, best.model, record)
    (out / "history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    (out / "eval.json").write_text(json.dumps(evaluation, indent=1), encoding="utf-8")
    return TrainResult(best_path, history, evaluation, record)


def _train_epoch(model: Harmonizer, opt: torch.optim.Optimizer, pieces: list[tuple[np.ndarray, np.ndarray]],
                 cfg: HarmonizeTrainConfig, rng: np.random.Generator, train_start: float) -> dict[str, Any]:
    model.train()
    order = rng.permutation(len(pieces))
    losses, frames, stopped = 0.0, 0, False
    for i in range(0, len(order), cfg.batch_size):
        elapsed = time.perf_counter() - train_start
        if elapsed >= cfg.time_budget:
            stopped = True
            break
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _schedule(elapsed / cfg.time_budget)
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


def _schedule(progress: float) -> float:
    """Short warm-up, then cosine to 5% of the peak over the time budget."""
    if progress < 0.02:
        return 0.1 + 0.9 * progress / 0.02
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k not in ("best", "stopped")}


def _record(cfg: HarmonizeTrainConfig, model: Harmonizer, data: V.ChoraleSet, train: list, val: list) -> dict[str, Any]:
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


# ---------------------------------------------------------------- harmonizing a file


@dataclass
class HarmonizeResult:
    out: Path
    musicxml: Path | None
    melody: V.Melody
    lines: dict[str, np.ndarray]
    notes: dict[str, int]  # per voice, melody included
    consonance: float  # of the written result (melody + new voices)
    consonance_by_voice: dict[str, float]  # each new voice against the melody alone
    checkpoint: Path


def harmonize_melody(ckpt: HarmonizerCheckpoint, melody: V.Melody, temperature: float = 0.0,
                     seed: int = 0) -> dict[str, np.ndarray]:
    if temperature < 0:
        raise ConfigError(f"--temperature {temperature}: expected 0 (most likely) or more")
    return generate_lines(ckpt.model, [(melody.tokens, melody.meter)], temperature, seed)[0]


def harmonize_file(ckpt: HarmonizerCheckpoint, midi: str | Path, out: str | Path, temperature: float = 0.0,
                   seed: int = 0, musicxml: str | Path | None = None) -> HarmonizeResult:
    """Read a melody, write it with the new voices under it (MIDI, and MusicXML if asked)."""
    from genrnn.music.midi_io import write_midi

    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise ConfigError(f"--out {out}: expected a .mid file name")
    melody = V.melody_from_midi(midi)
    lines = harmonize_melody(ckpt, melody, temperature, seed)
    seq = V.harmonized_sequence(melody, lines)
    write_midi(seq, out)
    xml = V.write_harmonized_musicxml(melody, lines, musicxml) if musicxml else None
    notes = {"melody": len(melody.notes)}
    by_voice = {}
    for v, tokens in lines.items():
        notes[v] = int((tokens >= 2).sum())
        by_voice[v] = metrics.vertical_consonance([V.harmonized_sequence(melody, {v: tokens})])
    return HarmonizeResult(out, xml, melody, lines, notes, metrics.vertical_consonance([seq]), by_voice, ckpt.path)
