"""Torch-free streaming for character LSTMs on the CPU: text before PyTorch could have loaded.

Importing PyTorch takes ~1.3 s on the 2-core box; reading a 15 MB bfloat16 checkpoint into
NumPy and priming it takes ~0.1 s. ``genrnn sample`` on a text LSTM streams through
``LightStream`` when it runs on the CPU, and the first characters appear in a fraction of a
second: the RNN's promise (constant work per step, state carried forward) kept from the very
first token. Everything else (GPU, other cells, music, batches) uses ``stream.Generator``.

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
from genrnn.generation.npsample import sample_numpy
from genrnn.models.checkpoint_format import (
    FORMAT,
    check_format,
    json_field,
    read_numpy,
    resolve_checkpoint_path,
)
from genrnn.models.numpy_lstm import LstmArrays, lstm_step
from genrnn.tokenizers import tokenizer_from_dict


@dataclass
class LightModel:
    """A character LSTM checkpoint in NumPy arrays; quacks like ``session.Model`` for the CLI."""

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
    """The checkpoint as a ``LightModel``, or None when this path does not serve it (not a
    character LSTM, or anything unexpected in the file: the PyTorch loader then reports it)."""
    p = resolve_checkpoint_path(path)
    try:
        meta, _ = read_numpy(p, tensors_too=False)  # decide from the header before reading weights
        check_format(p, meta, FORMAT)
        config = from_dict(ModelConfig, json_field(p, meta, "model_config"), where="model_config")
        tokenizer = tokenizer_from_dict(json_field(p, meta, "tokenizer"))
        training = json_field(p, meta, "training")
        if config.cell != "lstm" or tokenizer.kind != "chars" or tokenizer.vocab_size != config.vocab_size:
            return None
        _, tensors = read_numpy(p)
        expected = {"embed.weight": (config.vocab_size, config.embed), "head.weight": (config.vocab_size, config.hidden),
                    "head.bias": (config.vocab_size,)}
        for layer in range(config.layers):
            width = config.embed if layer == 0 else config.hidden
            expected |= {f"rnn.weight_ih_l{layer}": (4 * config.hidden, width),
                         f"rnn.weight_hh_l{layer}": (4 * config.hidden, config.hidden),
                         f"rnn.bias_ih_l{layer}": (4 * config.hidden,), f"rnn.bias_hh_l{layer}": (4 * config.hidden,)}
        if {k: tuple(v.shape) for k, v in tensors.items()} != expected:
            return None
        if not all(np.isfinite(v).all() for v in tensors.values()):
            return None
        return LightModel(p, config, tokenizer, training, LstmArrays.from_weights(tensors, config.layers))
    except (GenrnnError, KeyError, TypeError, ValueError):
        return None


class LightStream:
    """One stream, like ``Generator`` with ``batch=1``: ``prime(ids)``, then ``next()`` → id."""

    def __init__(self, model: LightModel, settings: SampleConfig) -> None:
        self.model = model
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = np.random.default_rng(self.seed)
        c = model.config
        self.h = np.zeros((c.layers, 1, c.hidden), np.float32)
        self.c = np.zeros((c.layers, 1, c.hidden), np.float32)
        self.logits: np.ndarray | None = None
        self.first_label = len(model.tokenizer.chars) if getattr(model.tokenizer, "labels", None) else None

    def prime(self, ids: Sequence[int] | None) -> None:
        tokens = list(ids) if ids else self._default_primer()
        bad = [t for t in tokens if not 0 <= int(t) < self.model.config.vocab_size]
        if bad:
            raise ConfigError(f"primer token ids {bad[:5]} outside the vocabulary")
        for t in tokens:
            self._feed(int(t))

    def _default_primer(self) -> list[int]:
        chars = self.model.tokenizer.chars
        return [chars.index("\n")] if "\n" in chars else [0]

    def _feed(self, token: int) -> None:
        logits, self.h, self.c = lstm_step(self.model.arrays, np.array([token]), self.h, self.c)
        self.logits = logits

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if self.logits is None:
            self.prime(None)
        assert self.logits is not None
        logits = self.logits
        if self.first_label is not None:  # label ids open a file, never drawn mid-text
            logits = logits.copy()
            logits[:, self.first_label:] = -np.inf
        ids, _ = sample_numpy(logits, self.settings, self.rng)
        token = int(ids[0])
        self._feed(token)
        return token
