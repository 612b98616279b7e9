"""The performance-event grammar, enforced at every draw of an event model's stream.

A language model over events can say things that mean nothing: a NOTE_OFF for a pitch that is
not sounding (a no-op), a START or a label token in the middle of a piece. The first is not
harmless: when a model that means to release C4 draws the neighbouring B3's NOTE_OFF instead,
C4 hangs for the rest of the piece, stacking voices and clashes. Measured on the shipped Bach
model (34 chorales, temperature 1.0): without the grammar, polyphony 5.4 against Bach's 4.0 and
vertical consonance 0.66 against 0.87; with it, 3.9 and 0.81.

So, before each draw, ``EventGrammar.mask`` forbids:

- PAD, START and label tokens (they only open a piece);
- NOTE_OFF of a pitch that is not sounding;
- NOTE_ON and NOTE_OFF of a pitch struck at this very step (a note lasts at least one step,
  as in every encoded piece; a zero-length note or a double strike cannot be written to MIDI);
- END, unless ``allow_end``;
- NOTE_ON while ``settings.max_polyphony`` notes sound; when that is 0, the piece's own
  ``voices=N`` label, for models trained with it (the model draws it before the piece, like
  mode and key: 29 of 32 held-out chorales are "4"). Without the cap, one sampled chorale in
  twenty drifted into six or seven voices and pulled the set's consonance from 0.85 to 0.80;
- with ``settings.max_note_seconds`` (0 = off): a TIME_SHIFT that would carry the oldest
  sounding note past the limit, and, once a note reaches it, everything but the NOTE_OFFs of
  the notes that reached it. The longest note in the Bach chorales is 3.6 s.

The mask is renormalised by the sampler like any other filter (temperature, top-k, top-p act on
what is allowed). O(notes sounding) per step, a handful of element writes. NumPy, no torch: the
stream (``stream.Stream``) applies it on either back-end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from genrnn.config import SampleConfig
from genrnn.tokenizers.midi_events import (
    END,
    LABEL,
    MAX_SHIFT,
    NOTE_OFF,
    NOTE_ON,
    NUM_PITCHES,
    PAD,
    START,
    STEP_SECONDS,
    TIME_SHIFT,
    VELOCITY,
)


class EventGrammar:
    """Tracks what the stream has said (sounding notes, time) and what it may say next."""

    def __init__(self, vocab_size: int, allow_end: bool = True, voice_labels: dict[int, int] | None = None) -> None:
        self.vocab_size = vocab_size
        self.allow_end = allow_end
        self.voice_labels = voice_labels or {}  # label id → N, for ``voices=N`` (``for_tokenizer``)
        self.voices = 0  # the piece's voices label once fed (0 = none)
        self.step = 0
        self.sounding: dict[int, int] = {}  # pitch → onset step
        self.fresh: set[int] = set()  # pitches struck at the current step
        self.only: np.ndarray | None = None  # one draw restricted to these ids (``restrict_next``)
        # Forbidden whatever the state: PAD, START, labels; every NOTE_OFF until its note sounds.
        self._base = np.zeros(vocab_size, dtype=bool)
        self._base[[PAD, START]] = True
        self._base[LABEL:] = True
        self._base[NOTE_OFF:NOTE_OFF + NUM_PITCHES] = True
        self._end_allowed = self._base.copy()
        self._end_forbidden = self._base.copy()
        self._end_forbidden[END] = True

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> EventGrammar:
        """The grammar of an event tokenizer's vocabulary, ``voices=N`` labels included."""
        voices = {tokenizer.label_id(lb): int(lb.split("=", 1)[1])
                  for lb in getattr(tokenizer, "labels", []) or [] if lb.startswith("voices=")}
        return cls(tokenizer.vocab_size, voice_labels=voices)

    # ------------------------------------------------------------------ state
    def feed(self, tokens: Iterable[int]) -> None:
        """Advance the state by the tokens the stream has consumed (primer or drawn)."""
        self.only = None
        for token in tokens:
            t = int(token)
            if NOTE_ON <= t < NOTE_OFF:
                self._strike(t - NOTE_ON)
            elif NOTE_OFF <= t < TIME_SHIFT:
                self._release(t - NOTE_OFF)
            elif TIME_SHIFT <= t < VELOCITY:
                self.step += t - TIME_SHIFT + 1
                self._settle()
            elif t == END:
                self._settle()
                for pitch in list(self.sounding):
                    self._release(pitch)
            elif t >= LABEL:  # labels and START only open a piece: off the per-note path
                self.voices = self.voice_labels.get(t, self.voices)
            elif t == START:
                self.voices = 0

    def _forbid(self, token: int, value: bool) -> None:
        self._end_allowed[token] = value
        self._end_forbidden[token] = value

    def _strike(self, pitch: int) -> None:
        self.sounding[pitch] = self.step  # a re-strike restarts the note
        self.fresh.add(pitch)
        self._forbid(NOTE_ON + pitch, True)  # until time moves on
        self._forbid(NOTE_OFF + pitch, True)

    def _release(self, pitch: int) -> None:
        self.sounding.pop(pitch, None)
        self._forbid(NOTE_OFF + pitch, True)

    def _settle(self) -> None:
        """Time moved on: notes struck at the last step may now end or be struck again."""
        for pitch in self.fresh:
            self._forbid(NOTE_ON + pitch, False)
            if pitch in self.sounding:
                self._forbid(NOTE_OFF + pitch, False)
        self.fresh.clear()

    def restrict_next(self, ids: list[int]) -> None:
        """The next draw, and only it, is one of ``ids`` (e.g. the label ids of one kind:
        conditions.labels_to_draw)."""
        self.only = np.asarray(ids, dtype=np.int64)

    # ------------------------------------------------------------------ mask
    def mask(self, settings: SampleConfig) -> np.ndarray:
        """(V,) bool, True = forbidden at the next draw. Never forbids everything."""
        if self.only is not None:
            mask = np.ones(self.vocab_size, dtype=bool)
            mask[self.only] = False
            return mask
        base = self._end_allowed if self.allow_end else self._end_forbidden
        most = settings.max_polyphony or self.voices
        limit_poly = most > 0 and len(self.sounding) >= most
        limit_steps = round(settings.max_note_seconds / STEP_SECONDS) if settings.max_note_seconds > 0 else 0
        if not self.sounding or not (limit_poly or limit_steps):
            return base
        mask = base.copy()
        if limit_poly:
            mask[NOTE_ON:NOTE_OFF] = True
        if limit_steps:
            oldest = min(self.sounding.values())
            left = oldest + limit_steps - self.step  # steps before the oldest note is due
            if left <= 0:
                mask[:] = True
                for pitch, onset in self.sounding.items():
                    if self.step - onset >= limit_steps:
                        mask[NOTE_OFF + pitch] = False
            elif left < MAX_SHIFT:
                mask[TIME_SHIFT + left:TIME_SHIFT + MAX_SHIFT] = True
        return mask


class LabelMask:
    """Character models trained ``--conditioned``: a label id opens a file and is never drawn
    in the middle of text (it would decode to nothing)."""

    allow_end = True

    def __init__(self, vocab_size: int, first_label: int) -> None:
        self._mask = np.zeros(vocab_size, dtype=bool)
        self._mask[first_label:] = True

    def feed(self, tokens: Iterable[int]) -> None:
        pass

    def mask(self, settings: SampleConfig) -> np.ndarray:
        return self._mask
