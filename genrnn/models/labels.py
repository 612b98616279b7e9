"""Labels that condition every step (one-to-many): which label of each kind is in force.

A conditioned model reads its labels as tokens at the start of a piece (``START mode=minor
key=A …``) or of a file (``file=hamlet``). Seen once, a label token would have to be carried
by the hidden state for hundreds of steps, and a model trained on windows that rarely contain
the piece's start learns to ignore it (measured: 57 % mode match with start tokens alone).
So the model also *holds* the labels: a label token sets its kind's slot (a new one replaces
the old), a reset token (START) clears every slot, and each step's input gets the sum of the
active labels' embeddings. The slots are part of the carried state, so truncated BPTT windows
and streaming generation see the labels of the piece they are in, however far back it began.

This module is the bookkeeping, in NumPy (no torch): the model (models/rnn.py) does the same
per window with cumulative maxima, the single-step paths (FusedStep, the light sampler) call
``LabelTrack.step``. Slot values are 0 (no label of that kind) or 1 + the label's index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrnn.tokenizers.base import label_kind, label_kinds

__all__ = ["LabelTrack", "label_fields"]


def label_fields(tokenizer: Any) -> dict[str, tuple[int, ...]]:
    """ModelConfig fields (``cond_ids``, ``cond_groups``, ``cond_resets``) for a tokenizer
    with labels; {} for one without. A label's kind is its text before ``=``."""
    labels: list[str] = list(getattr(tokenizer, "labels", None) or [])
    if not labels:
        return {}
    kinds = label_kinds(tokenizer)
    resets: tuple[int, ...] = ()
    if getattr(tokenizer, "kind", "") == "midi_events":
        from genrnn.tokenizers.midi_events import START

        resets = (START,)
    return {"cond_ids": tuple(int(tokenizer.label_id(label)) for label in labels),
            "cond_groups": tuple(kinds.index(label_kind(label)) for label in labels),
            "cond_resets": resets}


class LabelTrack:
    """Lookup tables for one model's labels: token id → slot value and kind."""

    def __init__(self, vocab_size: int, ids: Sequence[int], groups: Sequence[int], resets: Sequence[int]) -> None:
        self.groups = (max(groups) + 1) if len(groups) else 0
        self.slot_of = np.zeros(vocab_size, np.int64)  # 1 + label index, 0 for other tokens
        self.group_of = np.full(vocab_size, -1, np.int64)
        self.is_reset = np.zeros(vocab_size, bool)
        for i, (tok, grp) in enumerate(zip(ids, groups, strict=True)):
            self.slot_of[tok] = i + 1
            self.group_of[tok] = grp
        self.is_reset[list(resets)] = True

    @classmethod
    def from_config(cls, config: Any) -> LabelTrack | None:
        if not config.cond_ids:
            return None
        return cls(config.vocab_size, config.cond_ids, config.cond_groups, config.cond_resets)

    def empty(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.groups), np.int64)

    def step(self, active: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """active (B, G) slot values, tokens (B,) → the slots after reading ``tokens``."""
        out = np.where(self.is_reset[tokens][:, None], 0, active)
        group = self.group_of[tokens]
        rows = np.nonzero(group >= 0)[0]
        out[rows, group[rows]] = self.slot_of[tokens[rows]]
        return out
