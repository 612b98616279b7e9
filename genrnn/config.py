"""Typed, frozen configuration: model, training, sampling, and the classifier's and harmonizer's
training.

Every value is validated on construction with a message that names the field and the allowed
range (``check_range`` and ``check_choice``, which the other configs of genrnn use too).
Configs round-trip through plain dicts (JSON in checkpoints); TOML files (recipes) are read by
``load_toml``. Why each default is what it is: benchmarks/README.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from genrnn.errors import ConfigError

CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu", "none", "mingru")
DTYPES = ("auto", "fp32", "bf16")
DROPOUT_MODES = ("standard", "locked")
METRE_PERIOD = 16  # ``train --metre``'s phases per cycle, in grid units: a 4/4 bar of 16ths

T = TypeVar("T")


def check_range(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> None:
    bad = value <= lo if lo_open else value < lo
    if bad or value > hi or (isinstance(value, float) and math.isnan(value)):
        left = "(" if lo_open else "["
        raise ConfigError(f"{name} = {value!r}: expected a value in {left}{lo}, {hi}]")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
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
    # Dropout on the top layer's output only (None = ``dropout``): free on oneDNN, unlike dropout
    # between nn.LSTM layers (benchmarks/README.md).
    out_dropout: float | None = None
    # "standard": a fresh mask at every step (nn.LSTM's own dropout between layers). "locked":
    # one mask per stream and window, shared by its steps (variational dropout, Gal & Ghahramani
    # 2016), between layers and on the top layer's output; the layers then run one fused call
    # each, which on oneDNN is faster than nn.LSTM's dropout (benchmarks/README.md).
    dropout_mode: str = "standard"
    # The metre input (models/metre.py): phases per cycle in grid units (0: none), the tick grids,
    # and the id ranges [first, stop) of note events and of TIME_SHIFTs (1 step first), and the
    # ids that restart the count (START). Filled from the tokenizer by ``metre_fields``.
    metre_period: int = 0
    metre_grids: tuple[int, ...] = ()
    metre_notes: tuple[int, ...] = ()
    metre_shifts: tuple[int, ...] = ()
    metre_resets: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELLS)
        check_choice("dropout_mode", self.dropout_mode, DROPOUT_MODES)
        check_range("vocab_size", self.vocab_size, 0, 10_000_000)
        check_range("embed", self.embed, 1, 65_536)
        check_range("hidden", self.hidden, 1, 65_536)
        check_range("layers", self.layers, 1, 64)
        check_range("dropout", self.dropout, 0.0, 0.95)
        if self.out_dropout is not None:
            check_range("out_dropout", self.out_dropout, 0.0, 0.95)
        for name in ("cond_ids", "cond_groups", "cond_resets", "metre_grids", "metre_notes", "metre_shifts",
                     "metre_resets"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v >= 0 for v in value):
                raise ConfigError(f"{name} = {value!r}: expected a list of non-negative integers")
            object.__setattr__(self, name, tuple(value))  # JSON gives lists
        if len(self.cond_groups) != len(self.cond_ids):
            raise ConfigError(f"cond_groups has {len(self.cond_groups)} entries: expected one per cond_ids "
                              f"entry ({len(self.cond_ids)})")
        if self.vocab_size and any(v >= self.vocab_size for v in self.cond_ids + self.cond_resets):
            raise ConfigError(f"cond_ids/cond_resets: expected token ids below vocab_size {self.vocab_size}")
        if self.metre_period:
            self._check_metre()

    def _check_metre(self) -> None:
        check_range("metre_period", self.metre_period, 1, 4096)
        if not self.metre_grids or min(self.metre_grids) < 1:
            raise ConfigError(f"metre_grids = {self.metre_grids!r}: expected one or more grids of 1 step or more")
        for name in ("metre_notes", "metre_shifts"):
            value = getattr(self, name)
            if len(value) != 2 or value[0] >= value[1] or (self.vocab_size and value[1] > self.vocab_size):
                raise ConfigError(f"{name} = {value!r}: expected [first, stop), a range of token ids within the "
                                  f"vocabulary ({self.vocab_size})")
        if self.vocab_size and any(v >= self.vocab_size for v in self.metre_resets):
            raise ConfigError(f"metre_resets: expected token ids below vocab_size {self.vocab_size}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW and its learning-rate schedule (training/schedule.py): what every training config
    of genrnn shares (language models, the classifier, the harmonizer)."""

    lr: float = 3e-3
    min_lr_frac: float = 0.1  # the cosine ends at lr · min_lr_frac
    warmup_steps: int = 50
    weight_decay: float = 0.01  # on weight matrices, not embeddings, biases or norms
    clip: float = 1.0  # gradient norm (0 = no clipping)

    def __post_init__(self) -> None:
        check_range("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_range("min_lr_frac", self.min_lr_frac, 0.0, 1.0)
        check_range("warmup_steps", self.warmup_steps, 0, 10_000_000)
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        check_range("clip", self.clip, 0.0, 1e9)


@dataclass(frozen=True)
class TrainConfig(OptimConfig):
    """How to train: truncated BPTT windows over B contiguous streams."""

    seq_len: int = 128
    batch_size: int = 32
    time_budget: float | None = None  # seconds; the schedule ends exactly here
    max_steps: int | None = None
    eval_interval: float = 15.0  # seconds between validations
    # The first N tokens of the validation split (0 or None: all of it). A million keeps a
    # validation of a GB corpus to seconds; Tiny Shakespeare's split (111 k) is read whole.
    eval_tokens: int | None = 1_000_000
    log_interval: int = 20  # steps between metrics.jsonl lines
    checkpoint_interval: float = 60.0  # seconds between "last" checkpoints
    seed: int = 1337
    dtype: str = "auto"
    device: str = "auto"
    threads: int = 0  # 0 = torch default
    # Validate and save an exponential moving average of the weights (Polyak averaging) with
    # this decay per step, e.g. 0.999 (0: off). It smooths out the step-to-step noise of a
    # small-batch run; the training itself goes on with the raw weights.
    ema: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("ema", self.ema, 0.0, 0.99999)
        check_range("seq_len", self.seq_len, 1, 1_000_000)
        check_range("batch_size", self.batch_size, 1, 1_000_000)
        if self.time_budget is not None or self.max_steps is not None:
            check_budget(self.time_budget, self.max_steps)
        check_range("eval_interval", self.eval_interval, 0.0, 1e8, lo_open=True)
        check_range("log_interval", self.log_interval, 1, 10**9)
        check_range("checkpoint_interval", self.checkpoint_interval, 0.0, 1e8, lo_open=True)
        check_choice("dtype", self.dtype, DTYPES)
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device = {self.device!r}: expected auto, cpu, cuda, cuda:N or mps")


# What every stream of a model of each kind samples at unless told otherwise: `genrnn sample`,
# the TUI, `genrnn eval` and the critic. Event models' top-p truncates their note-ons only
# (MidiEventTokenizer.nucleus). How these were chosen: benchmarks/README.md ("Sampling defaults").
SAMPLING_DEFAULTS: dict[str, dict[str, float]] = {
    "midi_events": {"temperature": 1.0, "top_p": 0.7, "voice_hold": 3.0},
    "text": {"temperature": 0.8, "top_p": 1.0},
    "abc": {"temperature": 0.8, "top_p": 1.0},
}


def sampling_defaults(kind: str) -> dict[str, float]:
    """Temperature, top-p (and for event models the voice hold) a model of ``kind`` samples at
    unless told otherwise."""
    return SAMPLING_DEFAULTS.get(kind, SAMPLING_DEFAULTS["text"])


# The copy check's limits (analysis/copies.py; `sample --check-copies`, `eval --copy-limit`).
BEATS_PER_BAR = 4  # the music limit's bars are 4/4 bars (a 3/4 chorale's 2 bars are 6 beats)
MUSIC_LIMIT_BEATS = 2 * BEATS_PER_BAR  # issue 18's target: no copy longer than 2 bars
# Text: held-out Tiny Shakespeare shares 15-31 characters (median 19) of every 1,000 with the
# training split by chance: a speaker's name and a common phrase (benchmarks/README.md, "Copy
# check"). A copy twice the longest of those is a memorised line.
TEXT_LIMIT_CHARS = 60


# Critic-reranked sampling (`--best-of N`, the TUI's "best of"): at most this many pieces
# drawn for each one kept.
MAX_BEST_OF = 64


def check_best_of(n: int, name: str = "best of") -> int:
    """``n`` pieces drawn per piece kept: 1 (every piece as drawn) to ``MAX_BEST_OF``."""
    if not 1 <= n <= MAX_BEST_OF:
        raise ConfigError(f"{name} {n}: expected 1 (every piece as drawn) to {MAX_BEST_OF} pieces")
    return n


# `--condition` guides by default: logits u + 2·(c − u), u from the piece without its labels
# (benchmarks/README.md, "Guidance").
CONDITION_GUIDANCE = 2.0


@dataclass(frozen=True)
class SampleConfig:
    """Sampling controls; a stream may swap in a new one between any two steps."""

    temperature: float = SAMPLING_DEFAULTS["text"]["temperature"]  # a model's kind: ``sample_config``
    top_k: int = 0  # 0 = off
    top_p: float = SAMPLING_DEFAULTS["text"]["top_p"]  # 1.0 = off
    seed: int | None = None
    # Event models only (see generation/grammar.py): a note held this long is released before
    # time moves on (0 = off; Bach's longest is 3.6 s), and at most this many notes sound at
    # once (0 = the piece's own ``voices`` label when the model has one, else no limit).
    max_note_seconds: float = 4.0
    max_polyphony: int = 0
    # Event models with a ``voices=N`` label: nats taken off moving time on while fewer than N
    # notes (but some) sound (grammar.EventGrammar.bias; 0 = off).
    voice_hold: float = 0.0
    # Conditioned models (labels in the primer): classifier-free guidance. The next-token
    # logits are u + w·(c − u), c from the primer with its labels, u from the same primer
    # without them (label dropout in training taught the model both). 1 = off.
    guidance: float = 1.0
    # Event models with instruments: only these may play (``piano``, ``bass``, ``drums``, ``violin``,
    # ``33``: music/instruments.py's names); () = any. The grammar holds the stream to them.
    instruments: tuple[str, ...] = ()
    # Event models of a quantised corpus (tokenizer.grids): a piece keeps the tick grid it
    # started on (grammar.py). False: time is free, as the model has it.
    tempo_lock: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "instruments", tuple(str(i).strip() for i in self.instruments if str(i).strip()))
        check_range("temperature", self.temperature, 0.0, 100.0)
        check_range("top_k", self.top_k, 0, 10_000_000)
        check_range("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        check_range("max_note_seconds", self.max_note_seconds, 0.0, 3600.0)
        check_range("max_polyphony", self.max_polyphony, 0, 128)
        check_range("voice_hold", self.voice_hold, 0.0, 100.0)
        check_range("guidance", self.guidance, 0.0, 20.0)


def sample_config(kind: str, temperature: float | None = None, top_p: float | None = None,
                  voice_hold: float | None = None, **fields: Any) -> SampleConfig:
    """A SampleConfig for a model of ``kind``: temperature, top-p and the voice hold not given
    (None) take the kind's defaults (``sampling_defaults``); every other field as given."""
    d = sampling_defaults(kind)
    return SampleConfig(temperature=d["temperature"] if temperature is None else temperature,
                        top_p=d["top_p"] if top_p is None else top_p,
                        voice_hold=d.get("voice_hold", 0.0) if voice_hold is None else voice_hold, **fields)


@dataclass(frozen=True)
class ClassifyConfig(OptimConfig):
    """How to train a many-to-one classifier (training/classifier.py). One of ``time_budget``
    (seconds) and ``max_steps`` ends it."""

    lr: float = 5e-3
    warmup_steps: int = 20
    window: int = 256  # events per training crop and per inference window
    batch_size: int = 32
    time_budget: float | None = 120.0
    max_steps: int | None = None
    transpose: int = 0  # each training crop moves by a random -N..N semitones (key labels move too)
    eval_interval: float = 15.0  # seconds between held-out checks (logged, never used to pick)
    seed: int = 0
    threads: int = 0  # 0 = torch's choice
    device: str = "cpu"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("window", self.window, 8, 1_000_000)
        check_range("batch_size", self.batch_size, 1, 100_000)
        check_range("transpose", self.transpose, 0, 12)
        check_range("eval_interval", self.eval_interval, 0.0, 1e8, lo_open=True)
        check_range("threads", self.threads, 0, 1024)
        check_budget(self.time_budget, self.max_steps, "--steps N")


HARMONIZER_VOICES = ("bass", "atb")  # bass alone, or alto + tenor + bass


@dataclass(frozen=True)
class HarmonizeConfig(OptimConfig):
    """How to train the harmonizer (training/harmonizer.py) on the Bach chorales."""

    lr: float = 5e-3
    min_lr_frac: float = 0.05
    warmup_steps: int = 20
    voices: str = "bass"  # "bass" or "atb"
    time_budget: float = 300.0  # seconds of training (evaluation included)
    max_epochs: int | None = None
    batch_size: int = 4  # chorales per step: more, smaller steps learn more in a fixed time
    window: int = 256  # frames per training window (64 quarters)
    seed: int = 0
    val_percent: float = 10.0
    split_salt: str = "genrnn"
    limit: int | None = None  # first N chorales only (tests, quick looks)
    transpose: tuple[int, int] = (-6, 5)  # augmentation range in semitones (0, 0 = none)
    threads: int = 0  # 0 = torch's choice
    model: dict[str, Any] = field(default_factory=dict)  # HarmonizerConfig overrides, checked when built

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("voices", self.voices, HARMONIZER_VOICES)
        check_range("time_budget", self.time_budget, 0.0, 1e8, lo_open=True)
        if self.max_epochs is not None:
            check_range("max_epochs", self.max_epochs, 1, 10**9)
        check_range("batch_size", self.batch_size, 1, 100_000)
        check_range("window", self.window, 16, 1_000_000)
        check_range("val_percent", self.val_percent, 0.0, 100.0, lo_open=True)
        if self.val_percent >= 100:
            raise ConfigError(f"val_percent = {self.val_percent!r}: expected a value in (0, 100)")
        if self.limit is not None:
            check_range("limit", self.limit, 2, 10**9)
        check_range("threads", self.threads, 0, 1024)
        lo, hi = self.transpose
        if lo > 0 or hi < 0 or hi - lo > 24:
            raise ConfigError(f"transpose = {tuple(self.transpose)}: expected (low, high) with low <= 0 <= high "
                              f"within two octaves")
        object.__setattr__(self, "transpose", (int(lo), int(hi)))


def check_budget(time_budget: float | None, max_steps: int | None, steps_flag: str = "--max-steps N") -> None:
    """A training run ends at a time budget or a step count: at least one, each in range."""
    if time_budget is None and max_steps is None:
        raise ConfigError(f"give --time-budget SECONDS or {steps_flag} (the schedule ends there)")
    if time_budget is not None:
        check_range("time_budget", time_budget, 0.0, 1e8, lo_open=True)
    if max_steps is not None:
        check_range("max_steps", max_steps, 1, 10**12)


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
# overridden by the flags. How each was calibrated: benchmarks/README.md ("Presets").
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The default for text: the `default` recipe, with the width and dtype chosen per run from
    # a calibration on this machine and a fitted loss model (genrnn/training/auto.py).
    "auto": {
        "model": {"embed": 64, "layers": 2, "dropout": 0.0},
        "train": {"seq_len": 64, "batch_size": 32, "lr": 6e-3, "warmup_steps": 50,
                  "weight_decay": 0.1, "eval_interval": 30.0},
    },
    "tiny": {
        "model": {"embed": 16, "hidden": 32, "layers": 1, "dropout": 0.0},
        "train": {"seq_len": 32, "batch_size": 8, "lr": 1e-2, "warmup_steps": 5,
                  "eval_interval": 5.0, "log_interval": 5},
    },
    "small": {
        "model": {"embed": 32, "hidden": 128, "layers": 2, "dropout": 0.0},
        "train": {"seq_len": 64, "batch_size": 32, "lr": 5e-3, "warmup_steps": 20},
    },
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
    "music": {
        "model": {"embed": 64, "hidden": 384, "layers": 2, "dropout": 0.0, "out_dropout": 0.3},
        "train": {"seq_len": 256, "batch_size": 32, "lr": 3e-3, "warmup_steps": 50, "weight_decay": 0.1,
                  "time_budget": 1200.0, "eval_interval": 60.0, "checkpoint_interval": 120.0},
    },
    # The shipped Tiny Shakespeare model (checkpoints/README.md), meant for a GPU.
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
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
