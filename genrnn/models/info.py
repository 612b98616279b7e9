"""What a language-model file is, read from its header alone (no PyTorch, no weights).

``read_info`` gives the record every front end starts from: the model's config, tokenizer,
training record and kind, validated against the tensor shapes in the header, so a file whose
metadata and weights disagree is refused in milliseconds by every command (``info`` included),
not only by the ones that load the weights. The weights themselves are read by the step back-end
that needs them: ``models/weights.py`` into PyTorch, ``generation/light.py`` into NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrnn import fileformat
from genrnn.config import ModelConfig, from_dict, to_dict
from genrnn.errors import CheckpointError, ConfigError, TokenizerError
from genrnn.tokenizers import Tokenizer, tokenizer_from_dict

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


@dataclass
class ModelInfo:
    """A language model's record: everything but the weights."""

    path: Path
    config: ModelConfig
    tokenizer: Tokenizer
    training: dict[str, Any] = field(default_factory=dict)
    parameters: int = 0
    genrnn_version: str | None = None

    @property
    def kind(self) -> str:
        """'text', 'abc' or 'midi_events' (fileformat.model_kind: the one rule)."""
        corpus = self.training.get("corpus") or {}
        return fileformat.model_kind(corpus.get("kind") if isinstance(corpus, dict) else None,
                                     getattr(self.tokenizer, "kind", None))

    def encode_text(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> Any:
        return self.tokenizer.decode(ids)

    def record(self) -> dict[str, Any]:
        """As JSON: what ``genrnn info --json`` prints."""
        return {"path": str(self.path), "kind": self.kind, "model_config": to_dict(self.config),
                "tokenizer": self.tokenizer.to_dict(), "training": self.training,
                "parameters": self.parameters, "genrnn_version": self.genrnn_version}


def read_info(path: str | os.PathLike[str]) -> ModelInfo:
    """The record of a language-model file (a run folder means its best, else last, file).
    Every fault is one CheckpointError naming the file: not genrnn's, another kind of genrnn
    file, a newer format, broken JSON, a bad config or tokenizer, or weights whose shapes the
    config does not describe."""
    header = fileformat.read_header(path).expect(fileformat.LANGUAGE_MODEL)
    try:
        config = from_dict(ModelConfig, header.field("model_config"), where="model_config")
    except ConfigError as exc:
        raise CheckpointError(f"{header.path}: bad model config: {exc}") from None
    try:
        tokenizer = tokenizer_from_dict(header.field("tokenizer"))
    except TokenizerError as exc:
        raise CheckpointError(f"{header.path}: bad tokenizer: {exc}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointError(f"{header.path}: tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                              f"{config.vocab_size}")
    fileformat.check_shapes(header, state_shapes(config))
    return ModelInfo(header.path, config, tokenizer, header.table("training"), header.parameters,
                     header.meta.get("genrnn_version"))


def state_shapes(c: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes of ``RNNLanguageModel(c).state_dict()``, without PyTorch
    (a unit test holds the two together for every cell)."""
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (c.vocab_size, c.embed),
                                          "head.weight": (c.vocab_size, c.hidden), "head.bias": (c.vocab_size,)}
    if c.cond_ids:
        shapes["cond_embed.weight"] = (len(c.cond_ids) + 1, c.embed)
    if c.metre_period:  # a phase per grid unit of the cycle, and one for "on no grid"
        shapes["metre_embed.weight"] = (c.metre_period + 1, c.embed)
    for layer in range(c.layers):
        width = c.embed if layer == 0 else c.hidden
        if c.cell == "none":
            shapes |= {f"rnn.layers.{layer}.weight": (c.hidden, width), f"rnn.layers.{layer}.bias": (c.hidden,)}
        elif c.cell == "mingru":
            shapes |= {f"rnn.proj.{layer}.weight": (2 * c.hidden, width), f"rnn.proj.{layer}.bias": (2 * c.hidden,)}
        else:
            g = GATES[c.cell] * c.hidden
            shapes |= {f"rnn.weight_ih_l{layer}": (g, width), f"rnn.weight_hh_l{layer}": (g, c.hidden),
                       f"rnn.bias_ih_l{layer}": (g,), f"rnn.bias_hh_l{layer}": (g,)}
    return shapes
