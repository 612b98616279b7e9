"""Typed, frozen configuration: model, training and sampling.

Every value is validated on construction with a message that names the field and the allowed
range. Configs round-trip through plain dicts (JSON in checkpoints) and TOML files.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from genrnn.errors import ConfigError

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu", "none", "mingru")
DTYPES = ("auto", "fp32", "bf16")

T = TypeVar("T")


def _check_range(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> None:
    bad = value <= lo if lo_open else value < lo
    if bad or value > hi or (isinstance(value, float) and math.isnan(value)):
        left = "(" if lo_open else "["
        raise ConfigError(f"{name} = {value!r}: expected a value in {left}{lo}, {hi}]")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} = {value!r}: expected one of {', '.join(choices)}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the language model. ``cell='none'`` removes the recurrence (one-to-one)."""

    vocab_size: int = 0
    cell: str = "lstm"
    embed: int = 64
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    num_labels: int = 0  # unused; kept so checkpoints written before cond_ids still load
    # Labels held at every step (models/labels.py): the label token ids, each one's kind
    # (a new label replaces its kind's), and the ids that clear them all (START). Empty: none.
    cond_ids: tuple[int, ...] = ()
    cond_groups: tuple[int, ...] = ()
    cond_resets: tuple[int, ...] = ()
    # Dropout on the top layer's output only (None = ``dropout``). Separate because dropout
    # between nn.LSTM layers halves oneDNN's speed on CPU, while this one costs nothing.
    out_dropout: float | None = None

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_range("vocab_size", self.vocab_size, 0, 10_000_000)
        _check_range("embed", self.embed, 1, 65_536)
        _check_range("hidden", self.hidden, 1, 65_536)
        _check_range("layers", self.layers, 1, 64)
        _check_range("dropout", self.dropout, 0.0, 0.95)
        if self.out_dropout is not None:
            _check_range("out_dropout", self.out_dropout, 0.0, 0.95)
        for name in ("cond_ids", "cond_groups", "cond_resets"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v >= 0 for v in value):
                raise ConfigError(f"{name} = {value!r}: expected a list of non-negative integers")
            object.__setattr__(self, name, tuple(value))  # JSON gives lists
        if len(self.cond_groups) != len(self.cond_ids):
            raise ConfigError(f"cond_groups has {len(self.cond_groups)} entries: expected one per cond_ids "
                              f"entry ({len(self.cond_ids)})")
        if self.vocab_size and any(v >= self.vocab_size for v in self.cond_ids + self.cond_resets):
            raise ConfigError(f"cond_ids/cond_resets: expected token ids below vocab_size {self.vocab_size}")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: truncated BPTT windows over B contiguous streams."""

    seq_len: int = 128
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_frac: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.01
    clip: float = 1.0
    time_budget: float | None = None  # seconds; the schedule ends exactly here
    max_steps: int | None = None
    eval_interval: float = 15.0  # seconds between validations
    eval_tokens: int | None = None  # None = whole validation split
    log_interval: int = 20  # steps between metrics.jsonl lines
    checkpoint_interval: float = 60.0  # seconds between "last" checkpoints
    seed: int = 1337
    dtype: str = "auto"
    device: str = "auto"
    threads: int = 0  # 0 = torch default

    def __post_init__(self) -> None:
        _check_range("seq_len", self.seq_len, 1, 1_000_000)
        _check_range("batch_size", self.batch_size, 1, 1_000_000)
        _check_range("lr", self.lr, 0.0, 10.0, lo_open=True)
        _check_range("min_lr_frac", self.min_lr_frac, 0.0, 1.0)
        _check_range("warmup_steps", self.warmup_steps, 0, 10_000_000)
        _check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        _check_range("clip", self.clip, 0.0, 1e9)
        if self.time_budget is not None:
            _check_range("time_budget", self.time_budget, 0.0, 1e8, lo_open=True)
        if self.max_steps is not None:
            _check_range("max_steps", self.max_steps, 1, 10**12)
        _check_range("eval_interval", self.eval_interval, 0.0, 1e8, lo_open=True)
        _check_range("log_interval", self.log_interval, 1, 10**9)
        _check_range("checkpoint_interval", self.checkpoint_interval, 0.0, 1e8, lo_open=True)
        _check_choice("dtype", self.dtype, DTYPES)
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device = {self.device!r}: expected auto, cpu, cuda, cuda:N or mps")


# What `genrnn sample` and the TUI start from, per kind of model, when the user sets nothing:
# event models at the settings their figures are measured at, text and ABC at the char-rnn
# classic 0.8. An event model's top-p truncates its note-ons only (MidiEventTokenizer.nucleus);
# timing keeps the model's probabilities. Chosen against the *training* chorales (shipped Bach
# model, 170 samples; benchmarks/README.md), then checked on the held-out ones: over the
# note-ons, 0.7 matches their empty time (0.0083 vs 0.0078) and consonance (0.865 vs 0.862),
# 0.8 rests too little (0.0057), 0.9 clashes (0.840). Over every token, 0.95 had been the best
# compromise (density +9 %, empty time 0.0036).
SAMPLING_DEFAULTS: dict[str, dict[str, float]] = {
    "midi_events": {"temperature": 1.0, "top_p": 0.7},
    "text": {"temperature": 0.8, "top_p": 1.0},
    "abc": {"temperature": 0.8, "top_p": 1.0},
}


def sampling_defaults(kind: str) -> dict[str, float]:
    """Temperature and top-p a model of ``kind`` samples at unless told otherwise."""
    return SAMPLING_DEFAULTS.get(kind, SAMPLING_DEFAULTS["text"])


# `genrnn sample --condition …` guides by default: logits u + 2·(c − u), u from the piece without
# its labels. Measured on the `music` preset (benchmarks/README.md, seed_ideas.py): the asked
# mode comes out 70 % of the time unguided, 95 % at W 2 and 3.
CONDITION_GUIDANCE = 2.0


@dataclass(frozen=True)
class SampleConfig:
    """Sampling controls; a Generator may swap in a new one between any two steps."""

    temperature: float = 0.8
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    seed: int | None = None
    # Event models only (see generation/grammar.py): a note held this long is released before
    # time moves on (0 = off; Bach's longest is 3.6 s), and at most this many notes sound at
    # once (0 = the piece's own ``voices`` label when the model has one, else no limit).
    max_note_seconds: float = 4.0
    max_polyphony: int = 0
    # Conditioned models (labels in the primer): classifier-free guidance. The next-token
    # logits are u + w·(c − u), c from the primer with its labels, u from the same primer
    # without them (label dropout in training taught the model both). 1 = off.
    guidance: float = 1.0

    def __post_init__(self) -> None:
        _check_range("temperature", self.temperature, 0.0, 100.0)
        _check_range("top_k", self.top_k, 0, 10_000_000)
        _check_range("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        _check_range("max_note_seconds", self.max_note_seconds, 0.0, 3600.0)
        _check_range("max_polyphony", self.max_polyphony, 0, 128)
        _check_range("guidance", self.guidance, 0.0, 20.0)


def sample_config(kind: str, temperature: float | None = None, top_p: float | None = None,
                  **fields: Any) -> SampleConfig:
    """A SampleConfig for a model of ``kind``: temperature and top-p not given (None) take the
    kind's defaults (``sampling_defaults``); every other field as given."""
    d = sampling_defaults(kind)
    return SampleConfig(temperature=d["temperature"] if temperature is None else temperature,
                        top_p=d["top_p"] if top_p is None else top_p, **fields)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build ``cls`` from a dict, rejecting unknown fields by name."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of fields, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


# Named presets: model and train fields. `--preset NAME` plus explicit flags = preset
# overridden by the flags. "default" is calibrated in benchmarks/README.md.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "model": {"embed": 16, "hidden": 32, "layers": 1, "dropout": 0.0},
        "train": {"seq_len": 32, "batch_size": 8, "lr": 1e-2, "warmup_steps": 5,
                  "eval_interval": 5.0, "log_interval": 5},
    },
    "small": {
        "model": {"embed": 32, "hidden": 128, "layers": 2, "dropout": 0.0},
        "train": {"seq_len": 64, "batch_size": 32, "lr": 5e-3, "warmup_steps": 20},
    },
    # Calibrated on Tiny Shakespeare, 150 s on the 2-core box (benchmarks/README.md): oneDNN's
    # bf16 LSTM runs 192 wide twice as fast as 256, so more tokens beat more width there; no
    # dropout (it halves oneDNN's speed), weight decay 0.1 instead.
    "default": {
        "model": {"embed": 64, "hidden": 192, "layers": 2, "dropout": 0.0},
        "train": {"seq_len": 128, "batch_size": 32, "lr": 4e-3, "warmup_steps": 50,
                  "weight_decay": 0.1, "eval_interval": 30.0},
    },
    "reference": {
        "model": {"embed": 64, "hidden": 256, "layers": 2, "dropout": 0.1},
        "train": {"seq_len": 128, "batch_size": 32, "lr": 3e-3, "warmup_steps": 0,
                  "dtype": "fp32", "weight_decay": 0.01},
    },
    # Performance-event music (corpora/bach_chorales.toml): 20 minutes on the 2-core box.
    # Longer windows than text: a chorale is ~550 events. Width calibrated at 150 s each
    # (conditioned chorales, bf16): 256 → 1.590 nats/event at 51k tok/s, 384 → 1.486 at 34k,
    # 512 → 2.17 at 24k (too few steps).
    # The 20-minute run overfitted after ~11 min (held-out best 0.837 at step 2,776, train 0.56 at
    # the end): dropout on the top layer's output (free on oneDNN) and weight decay 0.1 → 0.822;
    # with the chorale prep's shuffled records (v4) → 0.783 (benchmarks/README.md).
    "music": {
        "model": {"embed": 64, "hidden": 384, "layers": 2, "dropout": 0.0, "out_dropout": 0.3},
        "train": {"seq_len": 256, "batch_size": 32, "lr": 3e-3, "warmup_steps": 50, "weight_decay": 0.1,
                  "time_budget": 1200.0, "eval_interval": 60.0, "checkpoint_interval": 120.0},
    },
    # The shipped Tiny Shakespeare model (checkpoints/README.md): sized to ship (bf16 ≤ 20 MB)
    # and to sample on a CPU at ~1k chars/s; meant for a GPU (see make checkpoints).
    "shakespeare": {
        "model": {"embed": 64, "hidden": 768, "layers": 2, "dropout": 0.4},
        "train": {"seq_len": 256, "batch_size": 128, "lr": 2e-3, "warmup_steps": 100,
                  "time_budget": 40.0, "eval_interval": 3.0, "checkpoint_interval": 30.0},
    },
    "gpu": {
        "model": {"embed": 128, "hidden": 1024, "layers": 2, "dropout": 0.35},
        "train": {"seq_len": 256, "batch_size": 128, "lr": 2e-3, "warmup_steps": 100},
    },
}


def resolve_preset(name: str, model_overrides: dict[str, Any], train_overrides: dict[str, Any],
                   vocab_size: int) -> tuple[ModelConfig, TrainConfig]:
    """Preset values, then every override that is not None."""
    if name not in PRESETS:
        raise ConfigError(f"preset = {name!r}: expected one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    model = {**preset.get("model", {}), **{k: v for k, v in model_overrides.items() if v is not None}}
    train = {**preset.get("train", {}), **{k: v for k, v in train_overrides.items() if v is not None}}
    model["vocab_size"] = vocab_size
    return (from_dict(ModelConfig, model, where=f"preset {name} (model)"),
            from_dict(TrainConfig, train, where=f"preset {name} (train)"))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; errors name the file."""
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None


def dump_toml(data: dict[str, Any], path: str | Path) -> None:
    import tomli_w

    Path(path).write_text(tomli_w.dumps({k: v for k, v in data.items() if v is not None}))
