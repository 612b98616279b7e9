"""The performance-event grammar, enforced at every draw of an event model's stream.

A language model over events can say things that mean nothing: a NOTE_OFF for a pitch that is
not sounding (a no-op), a START or a label token in the middle of a piece. The first is not
harmless: when a model that means to release C4 draws the neighbouring B3's NOTE_OFF instead,
C4 hangs for the rest of the piece, stacking voices and clashes. Measured on the shipped Bach
model (34 chorales, temperature 1.0): without the grammar, polyphony 5.4 against Bach's 4.0 and
vertical consonance 0.66 against 0.87; with it, 3.9 and 0.81.

So, before each draw, ``EventGrammar.mask`` forbids (for a model with instruments, each rule
holds per instrument: a NOTE_OFF ends a note of the instrument in force):

- PAD, START and label tokens (they only open a piece);
- a switch to the instrument already in force, to an instrument the model never heard in
  training (``tokenizer.played``: a quartet model plays no piano), and to one the piece was not
  given (``settings.instruments``: ``--instruments piano,bass,drums``); new notes of either;
- NOTE_OFF of a pitch that is not sounding;
- NOTE_ON and NOTE_OFF of a pitch struck at this very step (a note lasts at least one step,
  as in every encoded piece; a zero-length note or a double strike cannot be written to MIDI);
- END, unless ``allow_end``;
- a velocity the training data never used (``tokenizer.velocities``: the chorales hold one);
- with ``settings.tempo_lock`` (default on), for a model of a quantised corpus
  (``tokenizer.grids``, the tick grids its training pieces keep: 14, 15 and 16 steps for the
  chorales at their three stretches): a note struck or released off the grids the piece has
  kept so far. A piece's grids are those of the model's that divide every step it has put a
  note event on; a TIME_SHIFT under the largest must land on one of them, and after the
  largest (a run of shifts goes on) only time may move until it does. So a piece keeps the
  grid it started on: the shipped model drifted from one to another (more distinct
  inter-onset times than Bach: a cue of the feature critic). A primer off every grid (a
  played performance) turns the lock off for the piece. Before the mask, ``snap`` gives each
  shift that the lock forbids to the nearest one it allows, so time moves on as often as the
  model says (forbidden outright, their probability went to the notes of the current step:
  18 % fewer rests between phrases);
- NOTE_ON while ``settings.max_polyphony`` notes of the instrument sound; when that is 0, while
  as many pitched notes sound as the piece's own ``voices=N`` label says, for models trained with it (the model draws it before the piece, like
  mode and key: 29 of 32 held-out chorales are "4"). Without the cap, one sampled chorale in
  twenty drifted into six or seven voices and pulled the set's consonance from 0.85 to 0.80;
- with ``settings.max_note_seconds`` (0 = off): a TIME_SHIFT that would carry the oldest
  sounding note past the limit, and, once a note reaches it, everything but the NOTE_OFFs of
  the notes that reached it (or the switch to their instrument). The longest note in the Bach
  chorales is 3.6 s.

One rule is soft: ``bias`` (``settings.voice_hold`` nats, default 3 for event models) taxes every
TIME_SHIFT at an onset while fewer notes sound than the ``voices=N`` label says, but some do. The mask caps
voices from above only, and the shipped Bach model left a voice silent for 21 % of its sounding
time against Bach's 7 % (time at four voices 0.77 against 0.86), the feature critic's strongest
cue; at 3 nats: 8 % and 0.89 (benchmarks/README.md, "Voice hold"). A rest of every voice is free.

The mask is renormalised by the sampler like any other filter (temperature, top-k, top-p act on
what is allowed). O(notes sounding) per step, a handful of element writes. NumPy, no torch: the
stream (``stream.Stream``) applies it on either back-end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.music.instruments import InstrumentSet, parse_instrument
from genrnn.tokenizers.midi_events import (
    END,
    INSTRUMENT,
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
    """Tracks what the stream has said (sounding notes per instrument, time) and what it may say
    next. ``instruments``: the tokenizer's InstrumentSet (None: one merged performance)."""

    def __init__(self, vocab_size: int, allow_end: bool = True, voice_labels: dict[int, int] | None = None,
                 instruments: InstrumentSet | None = None, played: Iterable[int] | None = None,
                 grids: Iterable[int] | None = None, velocities: Iterable[int] | None = None) -> None:
        self.vocab_size = vocab_size
        self.allow_end = allow_end
        self.voice_labels = voice_labels or {}  # label id → N, for ``voices=N`` (``for_tokenizer``)
        self.instruments = instruments
        self.slots = instruments.size if instruments is not None else 0
        self.played = tuple(range(self.slots)) if played is None else tuple(played)  # heard in training
        self.drums = instruments.drums if instruments is not None else -1
        self.voices = 0  # the piece's voices label once fed (0 = none)
        self.step = 0
        self.slot = 0  # the instrument in force (EventStreamDecoder's rule)
        self.sounding: dict[tuple[int, int], int] = {}  # (instrument, pitch) → onset step
        self.fresh: set[tuple[int, int]] = set()  # notes struck at the current step
        self.only: np.ndarray | None = None  # one draw restricted to these ids (``restrict_next``)
        self.grids = tuple(sorted(int(g) for g in grids)) if grids else ()  # the model's (tokenizer.grids)
        self.kept = self.grids  # those the piece has kept so far (empty: time is free)
        self.origin = 0  # the step of the piece's START: grids count from it
        self._locks: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[np.ndarray, np.ndarray]] = {}  # ``_lock``
        self._names: tuple[str, ...] | None = None  # settings.instruments last seen, and their slots
        self._slots: frozenset[int] = frozenset()
        self._barred = np.zeros(0, np.int64)  # the switches to instruments not asked for
        # Forbidden whatever the state: PAD, START, labels; every NOTE_OFF until its note sounds.
        self._base = np.zeros(vocab_size, dtype=bool)
        self._base[[PAD, START]] = True
        self._base[INSTRUMENT + self.slots:] = True
        self._base[NOTE_OFF:NOTE_OFF + NUM_PITCHES] = True
        if velocities is not None:
            self._base[VELOCITY:INSTRUMENT] = True
            self._base[[VELOCITY + int(v) for v in velocities]] = False
        self._end_allowed = self._base.copy()
        self._end_forbidden = self._base.copy()
        self._end_forbidden[END] = True
        self._shift_penalty = np.zeros(vocab_size, dtype=np.float32)
        self._shift_penalty[TIME_SHIFT:VELOCITY] = -1.0
        if self.slots:
            self._switch_to(0)

    @classmethod
    def for_tokenizer(cls, tokenizer: Any) -> EventGrammar:
        """The grammar of an event tokenizer's vocabulary, ``voices=N`` labels included."""
        voices = {tokenizer.label_id(lb): int(lb.split("=", 1)[1])
                  for lb in getattr(tokenizer, "labels", []) or [] if lb.startswith("voices=")}
        return cls(tokenizer.vocab_size, voice_labels=voices, instruments=getattr(tokenizer, "instruments", None),
                   played=getattr(tokenizer, "played", None), grids=getattr(tokenizer, "grids", None),
                   velocities=getattr(tokenizer, "velocities", None))

    # ------------------------------------------------------------------ state
    def feed(self, tokens: Iterable[int]) -> None:
        """Advance the state by the tokens the stream has consumed (primer or drawn)."""
        self.only = None
        for token in tokens:
            t = int(token)
            if NOTE_ON <= t < TIME_SHIFT and self.kept:
                self.kept = tuple(g for g in self.kept if (self.step - self.origin) % g == 0)
            if NOTE_ON <= t < NOTE_OFF:
                self._strike(t - NOTE_ON)
            elif NOTE_OFF <= t < TIME_SHIFT:
                self._release(self.slot, t - NOTE_OFF)
            elif TIME_SHIFT <= t < VELOCITY:
                self.step += t - TIME_SHIFT + 1
                self._settle()
            elif INSTRUMENT <= t < INSTRUMENT + self.slots:
                self._switch_to(t - INSTRUMENT)
            elif t == END:
                self._settle()
                for slot, pitch in list(self.sounding):
                    self._release(slot, pitch)
            elif t >= INSTRUMENT + self.slots:  # labels and START only open a piece: off the per-note path
                self.voices = self.voice_labels.get(t, self.voices)
            elif t == START:
                self.voices = 0
                self.origin = self.step
                self.kept = self.grids

    def _forbid(self, token: int, value: bool) -> None:
        self._end_allowed[token] = value
        self._end_forbidden[token] = value

    def _switch_to(self, slot: int) -> None:
        """The notes now spoken of are ``slot``'s: its offs and fresh strikes decide the masks."""
        if self.slots:
            self._forbid(INSTRUMENT + self.slot, False)
            self._forbid(INSTRUMENT + slot, True)  # switching to the instrument in force says nothing
        self.slot = slot
        for region in (self._end_allowed, self._end_forbidden):
            region[NOTE_ON:NOTE_ON + NUM_PITCHES] = False
            region[NOTE_OFF:NOTE_OFF + NUM_PITCHES] = True
        for s, pitch in self.sounding:
            if s == slot and (s, pitch) not in self.fresh:
                self._forbid(NOTE_OFF + pitch, False)
        for s, pitch in self.fresh:
            if s == slot:
                self._forbid(NOTE_ON + pitch, True)

    def _strike(self, pitch: int) -> None:
        self.sounding[(self.slot, pitch)] = self.step  # a re-strike restarts the note
        self.fresh.add((self.slot, pitch))
        self._forbid(NOTE_ON + pitch, True)  # until time moves on
        self._forbid(NOTE_OFF + pitch, True)

    def _release(self, slot: int, pitch: int) -> None:
        self.sounding.pop((slot, pitch), None)
        if slot == self.slot:
            self._forbid(NOTE_OFF + pitch, True)

    def _settle(self) -> None:
        """Time moved on: notes struck at the last step may now end or be struck again."""
        for slot, pitch in self.fresh:
            if slot == self.slot:
                self._forbid(NOTE_ON + pitch, False)
                if (slot, pitch) in self.sounding:
                    self._forbid(NOTE_OFF + pitch, False)
        self.fresh.clear()

    def restrict_next(self, ids: list[int]) -> None:
        """The next draw, and only it, is one of ``ids`` (e.g. the label ids of one kind:
        conditions.label_plan)."""
        self.only = np.asarray(ids, dtype=np.int64)

    def _allowed_slots(self, names: tuple[str, ...]) -> frozenset[int]:
        """The instruments that may play: those the model heard in training (``played``), and of
        them those ``settings.instruments`` names (cached: settings change rarely)."""
        if self._names != names:
            if names and self.instruments is None:
                raise ConfigError("--instruments: this model merges every instrument into one performance; "
                                  "train with instruments = \"keep\" in the recipe")
            asked = {s for n in names for s in self.instruments.slots(parse_instrument(n))} if names else None
            slots = frozenset(s for s in self.played if asked is None or s in asked)
            if not slots:
                known = ", ".join(sorted({self.instruments.name(s) for s in self.played}))
                raise ConfigError(f"--instruments {','.join(names)}: this model never heard them; it plays {known}")
            self._names, self._slots = names, slots
            self._barred = np.asarray([INSTRUMENT + s for s in range(self.slots) if s not in slots], np.int64)
        return self._slots

    # ------------------------------------------------------------------ mask
    def mask(self, settings: SampleConfig) -> np.ndarray:
        """(V,) bool, True = forbidden at the next draw. Never forbids everything."""
        mask = self._rules(settings)
        if not self._locking(settings):
            return mask
        locked = mask | self._lock()[0]
        return mask if locked.all() else locked  # the lock gives way to a due note's release

    def snap(self, logits: np.ndarray, settings: SampleConfig) -> bool:
        """With the tempo lock on, give the probability of each TIME_SHIFT it forbids (in
        ``logits``, one stream's (V,) row, changed in place) to the nearest shift it allows, the
        longer of two as near. Returns whether it did. A shift with none allowed within the
        largest (a grid over a second) keeps its own, and the mask forbids it."""
        if not self._locking(settings):
            return False
        z = logits[TIME_SHIFT:VELOCITY]
        top = z.max()
        if not np.isfinite(top):
            return False
        mass = np.bincount(self._lock()[1], weights=np.exp(z - top), minlength=MAX_SHIFT)
        with np.errstate(divide="ignore"):
            logits[TIME_SHIFT:VELOCITY] = (np.log(mass) + top).astype(logits.dtype)
        return True

    def _locking(self, settings: SampleConfig) -> bool:
        return settings.tempo_lock and bool(self.kept) and self.only is None

    def _lock(self) -> tuple[np.ndarray, np.ndarray]:
        """For the piece's grids and where it stands on them: ((V,) bool, what the tempo lock
        forbids (the module docstring); (MAX_SHIFT,) int, the shift each shift's probability
        goes to (``snap``)). Cached: a piece goes through a handful of such states."""
        at = self.step - self.origin
        key = (self.kept, tuple(at % g for g in self.kept))
        if key in self._locks:
            return self._locks[key]
        ks = np.arange(1, MAX_SHIFT)  # every shift but the largest, which goes on (a run of shifts)
        lands = np.zeros(MAX_SHIFT - 1, dtype=bool)
        for g in self.kept:
            lands |= (at + ks) % g == 0
        if any(at % g == 0 for g in self.kept):
            lock = np.zeros(self.vocab_size, dtype=bool)
        else:  # between the grids' steps (a run of shifts goes on): only time may move
            lock = np.ones(self.vocab_size, dtype=bool)
            lock[END] = False
        lock[TIME_SHIFT:VELOCITY - 1] = ~lands
        lock[VELOCITY - 1] = False
        target = np.arange(MAX_SHIFT)
        allowed = np.flatnonzero(lands)
        if len(allowed):
            for k in np.flatnonzero(~lands):
                distance = np.abs(allowed - k)
                target[k] = allowed[distance == distance.min()].max()
        self._locks[key] = (lock, target)
        return lock, target

    def _rules(self, settings: SampleConfig) -> np.ndarray:
        """The mask before the tempo lock."""
        if self.only is not None:
            mask = np.ones(self.vocab_size, dtype=bool)
            mask[self.only] = False
            return mask
        base = self._end_allowed if self.allow_end else self._end_forbidden
        limit_poly = bool(self.sounding) and self._crowded(settings)
        limit_steps = round(settings.max_note_seconds / STEP_SECONDS) if settings.max_note_seconds > 0 else 0
        held = bool(settings.instruments) or len(self.played) < self.slots
        capped = bool(self.sounding) and bool(limit_poly or limit_steps)
        if not (held or capped):
            return base
        mask = base.copy()  # once: the holds and the caps write into it
        if held:
            self._hold_to(mask, self._allowed_slots(settings.instruments))
        if not capped:
            return mask
        if limit_poly:
            mask[NOTE_ON:NOTE_OFF] = True
        if limit_steps:
            oldest = min(self.sounding.values())
            left = oldest + limit_steps - self.step  # steps before the oldest note is due
            if left <= 0:  # only the notes that are due may speak: their offs, or a switch to them
                mask[:] = True
                for (slot, pitch), onset in self.sounding.items():
                    if self.step - onset >= limit_steps:
                        mask[NOTE_OFF + pitch if slot == self.slot else INSTRUMENT + slot] = False
            elif left < MAX_SHIFT:
                mask[TIME_SHIFT + left:TIME_SHIFT + MAX_SHIFT] = True
        return mask

    def bias(self, settings: SampleConfig) -> np.ndarray | None:
        """(V,) float32 added to the logits after the mask, or None (most steps): with
        ``settings.voice_hold`` > 0, at a step where a note was struck, while fewer pitched notes
        sound than the piece's ``voices=N`` label says but some do, every TIME_SHIFT loses
        ``voice_hold`` nats, so a silent voice is more likely taken up with the others than left
        out. Only where a note was struck: the step is an onset of the piece, so the voice
        comes in on its beat (taxed at every step, the on-grid share fell 0.983 → 0.979). A
        rest of every voice costs nothing."""
        if settings.voice_hold <= 0 or not self.voices or self.only is not None or not self.fresh:
            return None
        if not 0 < self._pitched() < self.voices:
            return None
        return self._shift_penalty * np.float32(settings.voice_hold)

    def _hold_to(self, mask: np.ndarray, allowed: frozenset[int]) -> None:
        """Forbid in ``mask`` a switch to an instrument not allowed and, while one not allowed
        is in force (the piece has not switched yet), its new notes too."""
        mask[self._barred] = True
        if self.slot not in allowed:
            mask[NOTE_ON:NOTE_OFF] = True

    def _crowded(self, settings: SampleConfig) -> bool:
        """Whether another note would break a cap: ``max_polyphony`` notes of the instrument in
        force, else the piece's ``voices=N`` label over every pitched instrument together."""
        if not settings.max_polyphony and not self.voices:
            return False
        if settings.max_polyphony:  # the setting wins over the label
            return sum(slot == self.slot for slot, _ in self.sounding) >= settings.max_polyphony
        return self.slot != self.drums and self._pitched() >= self.voices

    def _pitched(self) -> int:
        """Pitched notes sounding, of every instrument (the drums are no voice)."""
        return sum(slot != self.drums for slot, _ in self.sounding)


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

    def bias(self, settings: SampleConfig) -> None:
        return None
