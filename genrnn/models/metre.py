"""Where a step falls in the bar: the metre input of an event model of a quantised corpus.

An event model hears time only as a sum of TIME_SHIFT tokens. To know that it is on the beat it
would have to count 10 ms steps modulo a quarter note (60 of them) through every shift since
the piece began, and a model that loses count releases a held note off the beat or writes a
melody that turns on weak 16ths. A tokenizer that knows its corpus's tick grids (the chorales:
16ths of 14, 15 or 16 steps, ``MidiEventTokenizer.grids``) lets the model be *told* instead:

- the time since the piece's START, ``t``, in steps;
- which grids every note event so far has landed on (``kept``, as the sampling grammar narrows
  them: generation/grammar.py), so a piece of 15-step 16ths is read on 15;
- the **phase**: ``(t // g) mod period`` for the first kept grid g that divides t (with the 16th
  as the grid and a period of 16, the 16th of a 4/4 bar counted from the first note), or
  ``period`` when t is on no kept grid (a played piece, or a rest off the grid).

Each step's input gets the phase's embedding, as it gets the held labels' (models/labels.py).
``t`` and ``kept`` are carried state, so TBPTT windows and streams read the phase of the piece
they are in however far back it began. This module is the bookkeeping in NumPy for the
single-step paths (FusedStep, the NumPy LSTM); the model (models/rnn.py) does the same per
window with cumulative sums and maxima. State: (B, 1 + grids) integers, ``[t, kept...]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrnn.config import METRE_PERIOD
from genrnn.errors import ConfigError

__all__ = ["MetreTrack", "metre_fields"]


def metre_fields(tokenizer: Any, period: int = METRE_PERIOD) -> dict[str, Any]:
    """ModelConfig fields for a metre input of ``period`` grid units ({} for period 0). Raises
    ConfigError for a tokenizer that has no tick grids (not an event tokenizer, or a corpus
    that is not quantised: there is no beat to be told)."""
    if period <= 0:
        return {}
    grids = tuple(int(g) for g in (getattr(tokenizer, "grids", None) or ()))
    if getattr(tokenizer, "kind", "") != "midi_events" or not grids:
        raise ConfigError("--metre: the corpus has no tick grid (a metre input needs a quantised MIDI-event "
                          "corpus, whose prepared tokenizer lists its grids: `genrnn info` shows them)")
    from genrnn.tokenizers.midi_events import NOTE_ON, START, TIME_SHIFT, VELOCITY

    return {"metre_period": int(period), "metre_grids": grids, "metre_notes": (NOTE_ON, TIME_SHIFT),
            "metre_shifts": (TIME_SHIFT, VELOCITY), "metre_resets": (START,)}


class MetreTrack:
    """Lookup tables for one model's metre input: token id → steps, note event, reset."""

    def __init__(self, vocab_size: int, grids: Sequence[int], period: int, notes: Sequence[int],
                 shifts: Sequence[int], resets: Sequence[int]) -> None:
        self.grids = np.asarray(grids, np.int64)
        self.period = int(period)
        self.width = 1 + len(self.grids)  # carried state: t, then one kept flag per grid
        self.phases = self.period + 1  # the last: on no kept grid
        self.steps_of = np.zeros(vocab_size, np.int64)
        self.steps_of[shifts[0]:shifts[1]] = np.arange(1, shifts[1] - shifts[0] + 1)
        self.is_note = np.zeros(vocab_size, bool)
        self.is_note[notes[0]:notes[1]] = True
        self.is_reset = np.zeros(vocab_size, bool)
        self.is_reset[list(resets)] = True

    @classmethod
    def from_config(cls, config: Any) -> MetreTrack | None:
        if not config.metre_period:
            return None
        return cls(config.vocab_size, config.metre_grids, config.metre_period, config.metre_notes,
                   config.metre_shifts, config.metre_resets)

    def empty(self, batch: int) -> np.ndarray:
        """A stream before any token: t = 0, every grid kept."""
        state = np.ones((batch, self.width), np.int64)
        state[:, 0] = 0
        return state

    def step(self, state: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """state (B, 1 + grids), tokens (B,) → the state after reading ``tokens``."""
        reset = self.is_reset[tokens]
        t = np.where(reset, 0, state[:, 0] + self.steps_of[tokens])
        kept = np.where(reset[:, None], 1, state[:, 1:])
        on = (t[:, None] % self.grids[None, :]) == 0
        kept = np.where(self.is_note[tokens][:, None] & ~on, 0, kept)
        return np.concatenate([t[:, None], kept], axis=1)

    def phase(self, state: np.ndarray) -> np.ndarray:
        """state (B, 1 + grids) → each stream's phase, 0 .. period (period: on no kept grid)."""
        t = state[:, 0]
        fits = state[:, 1:].astype(bool) & ((t[:, None] % self.grids[None, :]) == 0)
        grid = self.grids[fits.argmax(axis=1)]
        return np.where(fits.any(axis=1), (t // grid) % self.period, self.period)
