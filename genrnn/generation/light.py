"""Torch-free streaming for LSTMs on the CPU: output before PyTorch could have loaded.

Importing PyTorch takes ~1.3 s on the 2-core box; reading a 15 MB bfloat16 checkpoint into
NumPy and priming it takes ~0.1 s. ``genrnn sample`` on an LSTM (text, ABC tunes or MIDI
events, with or without labels) streams through ``LightStream`` when it runs on the CPU, and
the first characters, or the first .mid, appear in a fraction of a second: the RNN's promise
(constant work per step, state carried forward) kept from the very first token. Everything
else (GPU, other cells, guidance, playback, batches) uses ``stream.Generator``. Event models
draw under the same grammar (grammar.py), labelled models hold their labels the same way
(models/labels.py).

The maths is ``FusedStep``'s NumPy step (``models/numpy_lstm.py``) and the draw is
``npsample.sample_numpy`` with a NumPy generator seeded like ``Generator``'s; the primer is fed
one step at a time instead of through ``nn.LSTM``, so a seed gives the same text here on every
run, though not always bit-for-bit the text the PyTorch path would give.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.config import ModelConfig, SampleConfig, from_dict
from genrnn.errors import ConfigError, GenrnnError
from genrnn.generation.conditions import settle_labels
from genrnn.generation.grammar import EventGrammar, LabelMask
from genrnn.generation.npsample import sample_numpy
from genrnn.models.checkpoint_format import (
    FORMAT,
    check_format,
    json_field,
    read_numpy,
    resolve_checkpoint_path,
)
from genrnn.models.labels import LabelTrack
from genrnn.models.numpy_lstm import LstmArrays, lstm_step
from genrnn.tokenizers import tokenizer_from_dict


@dataclass
class LightModel:
    """An LSTM checkpoint in NumPy arrays; quacks like ``session.Model`` for the CLI."""

    path: Path
    config: ModelConfig
    tokenizer: Any
    training: dict[str, Any]
    arrays: LstmArrays

    @property
    def kind(self) -> str:
        return str(self.training.get("corpus", {}).get("kind", self.tokenizer.kind))

    def encode_text(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> Any:
        return self.tokenizer.decode(ids)


def load_light(path: str | Path) -> LightModel | None:
    """The checkpoint as a ``LightModel``, or None when this path does not serve it (not an
    LSTM, or anything unexpected in the file: the PyTorch loader then reports it)."""
    p = resolve_checkpoint_path(path)
    try:
        meta, _ = read_numpy(p, tensors_too=False)  # decide from the header before reading weights
        check_format(p, meta, FORMAT)
        config = from_dict(ModelConfig, json_field(p, meta, "model_config"), where="model_config")
        tokenizer = tokenizer_from_dict(json_field(p, meta, "tokenizer"))
        training = json_field(p, meta, "training")
        if (config.cell != "lstm" or tokenizer.kind not in ("chars", "midi_events")
                or tokenizer.vocab_size != config.vocab_size):
            return None
        _, tensors = read_numpy(p)
        expected = {"embed.weight": (config.vocab_size, config.embed), "head.weight": (config.vocab_size, config.hidden),
                    "head.bias": (config.vocab_size,)}
        for layer in range(config.layers):
            width = config.embed if layer == 0 else config.hidden
            expected |= {f"rnn.weight_ih_l{layer}": (4 * config.hidden, width),
                         f"rnn.weight_hh_l{layer}": (4 * config.hidden, config.hidden),
                         f"rnn.bias_ih_l{layer}": (4 * config.hidden,), f"rnn.bias_hh_l{layer}": (4 * config.hidden,)}
        if config.cond_ids:
            expected["cond_embed.weight"] = (len(config.cond_ids) + 1, config.embed)
        if {k: tuple(v.shape) for k, v in tensors.items()} != expected:
            return None
        if not all(np.isfinite(v).all() for v in tensors.values()):
            return None
        return LightModel(p, config, tokenizer, training, LstmArrays.from_weights(tensors, config.layers))
    except (GenrnnError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class LightStep:
    """What ``next(LightStream)`` gives: the drawn id (``Step.token``'s twin)."""

    token: int


class LightStream:
    """One stream, like ``Generator`` with ``batch=1``: ``prime(ids)``, then ``next()`` → step."""

    def __init__(self, model: LightModel, settings: SampleConfig) -> None:
        self.model = model
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = np.random.default_rng(self.seed)
        c = model.config
        self.h = np.zeros((c.layers, 1, c.hidden), np.float32)
        self.c = np.zeros((c.layers, 1, c.hidden), np.float32)
        self.logits: np.ndarray | None = None
        self.drawn_labels: list[str] = []  # labels the model chose after the primer (open_light)
        self.guide: LightStream | None = None  # the unlabelled twin (classifier-free guidance)
        self.track = LabelTrack.from_config(c)
        self.slots = self.track.empty(1) if self.track is not None else None
        tok = model.tokenizer
        self.nucleus: tuple[int, int] | None = getattr(tok, "nucleus", None)  # as Generator's
        self.grammar: EventGrammar | LabelMask | None = None
        if tok.kind == "midi_events":
            self.grammar = EventGrammar.for_tokenizer(tok)
        elif getattr(tok, "labels", None):
            self.grammar = LabelMask(tok.vocab_size, len(tok.chars))

    @property
    def allow_end(self) -> bool:
        return self.grammar is None or self.grammar.allow_end

    @allow_end.setter
    def allow_end(self, value: bool) -> None:
        if self.grammar is not None:
            self.grammar.allow_end = value

    def restrict_next(self, ids: list[int]) -> None:
        """The next draw is one of ``ids`` (event models: grammar.py)."""
        if isinstance(self.grammar, EventGrammar):
            self.grammar.restrict_next(ids)

    def prime(self, ids: Sequence[int] | None) -> None:
        tokens = list(ids) if ids else self._default_primer()
        bad = [t for t in tokens if not 0 <= int(t) < self.model.config.vocab_size]
        if bad:
            raise ConfigError(f"primer token ids {bad[:5]} outside the vocabulary")
        for t in tokens:
            self._feed(int(t))

    def _default_primer(self) -> list[int]:
        tok = self.model.tokenizer
        if tok.kind == "midi_events":
            return list(tok.start_tokens())
        return [tok.chars.index("\n")] if "\n" in tok.chars else [0]

    def _feed(self, token: int) -> None:
        ids = np.array([token])
        if self.track is not None:
            self.slots = self.track.step(self.slots, ids)
        if self.grammar is not None:
            self.grammar.feed((token,))
        self.logits, self.h, self.c = lstm_step(self.model.arrays, ids, self.h, self.c, self.slots)

    def __iter__(self) -> Iterator[LightStep]:
        return self

    def guided_by(self, unlabelled: Sequence[int]) -> None:
        """Classifier-free guidance, as ``Generator.guided_by``: a twin primed with
        ``unlabelled`` follows every drawn token; draws use u + w·(c − u)."""
        twin = LightStream(self.model, self.settings)
        twin.grammar = None  # the grammar acts once, on the mixed logits
        twin.prime(unlabelled)
        self.guide = twin

    def __next__(self) -> LightStep:
        if self.logits is None:
            self.prime(None)
        assert self.logits is not None
        logits = self.logits
        w = self.settings.guidance
        if self.guide is not None and w != 1.0:
            u = self.guide.logits
            logits = u + np.float32(w) * (logits - u)
        if self.grammar is not None:  # what cannot be said next (grammar.py)
            logits = np.where(self.grammar.mask(self.settings), np.float32(-np.inf), logits)
        ids, _ = sample_numpy(logits, self.settings, self.rng, self.nucleus)
        token = int(ids[0])
        self._feed(token)
        if self.guide is not None:
            self.guide._feed(token)
        return LightStep(token)


def open_light(model: LightModel, settings: SampleConfig, ids: Sequence[int] | None = None) -> LightStream:
    """A primed ``LightStream`` (``session.open_stream``'s twin for generation/pieces.py); an
    event model then draws the labels it was not given, and a guided one gets its twin
    (conditions.settle_labels)."""
    stream = LightStream(model, settings)
    stream.prime(ids)
    settle_labels(stream, model.tokenizer, list(ids) if ids else stream._default_primer())
    return stream
