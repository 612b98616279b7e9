"""Performance events (after Magenta's Performance RNN) ↔ note sequences, with instruments.

Vocabulary, in id order::

    PAD, START, END                       control tokens (0, 1, 2)
    NOTE_ON  0..127                        3 .. 130
    NOTE_OFF 0..127                      131 .. 258
    TIME_SHIFT 1..100 steps of 10 ms     259 .. 358   (10 ms … 1 s)
    VELOCITY bin 0..31                   359 .. 390
    INSTRUMENT, one per instrument       391 ..       (tokenizers with instruments only)
    LABEL, one per conditioning label    then         (e.g. "mode=minor", "key=A")

Without instruments (``instruments="merge"``, the chorales and folk tunes) every note is one
performance and labels start at 391, as they always have. With them (``"programs"``: 128 GM
programs and the drum kit; ``"families"``: 16 GM families and the kit; music/instruments.py),
an INSTRUMENT token switches the instrument the NOTE_ON / NOTE_OFF / VELOCITY tokens after it
belong to (MIDILike with program tokens): time is shared, a switch costs one token, and events
at one step are grouped by instrument so that it switches at most once per instrument per step.
Drum notes are transposed never. Time is quantised to 10 ms; a note-on of a pitch already
sounding on that instrument re-strikes it. Decoding ignores orphan note-offs and closes notes
left hanging; ``EventStreamDecoder`` does the same one token at a time for live playback.

A tokenizer made for training (``played_in``) also knows what its training data holds, and the
sampling grammar (generation/grammar.py) keeps a piece to it: the instruments played, the
velocity bins used (a chorale model that only ever heard one velocity never changes it), and,
for a quantised corpus, the tick grids its pieces keep (``grids_in``: the Bach chorales at their
three stretches keep 16ths of 14, 15 or 16 steps, so a piece that starts on one keeps it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrnn.errors import TokenizerError
from genrnn.music.instruments import GRAINS, InstrumentSet
from genrnn.music.notes import Note, NoteSequence

STEP_SECONDS = 0.01
NUM_PITCHES = 128
MAX_SHIFT = 100
NUM_VELOCITY_BINS = 32
DEFAULT_VELOCITY = 80

PAD, START, END = 0, 1, 2
NOTE_ON = 3
NOTE_OFF = NOTE_ON + NUM_PITCHES
TIME_SHIFT = NOTE_OFF + NUM_PITCHES  # id of a 1-step shift
VELOCITY = TIME_SHIFT + MAX_SHIFT
INSTRUMENT = VELOCITY + NUM_VELOCITY_BINS  # the first instrument token (tokenizers with instruments)
LABEL = INSTRUMENT  # the first label of a tokenizer without instruments (``label_base`` in general)
CONTROL_NAMES = ("PAD", "START", "END")
INSTRUMENT_MODES = ("merge", *GRAINS)
# The order of one step's notes (offs, then ons, per instrument): "up" from the lowest pitch (the
# bass first, as every model before had it), "down" from the highest (the melody first).
PITCH_ORDERS = ("up", "down")
# A corpus is quantised when at least GRID_SHARE of its training records put every note event
# on a grid of GRID_MIN_STEPS steps or more: at most MAX_GRIDS grids, each the exact grid of at
# least GRID_SUPPORT of the records (``grids_in``).
GRID_MIN_STEPS = 6
GRID_SHARE = 0.95
GRID_SUPPORT = 0.02
MAX_GRIDS = 8


def velocity_bin(velocity: int) -> int:
    """1..127 → 0..31."""
    return min(NUM_VELOCITY_BINS - 1, (min(127, max(1, int(velocity))) - 1) * NUM_VELOCITY_BINS // 127)


def _bin_centres() -> list[int]:
    members: dict[int, list[int]] = {}
    for v in range(1, 128):
        members.setdefault(velocity_bin(v), []).append(v)
    return [members[b][len(members[b]) // 2] for b in range(NUM_VELOCITY_BINS)]


BIN_VELOCITY = _bin_centres()  # the velocity a bin decodes to


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """A timed note message implied by the token stream (velocity 0 = note off), with the
    instrument it belongs to (program 0 and no drums for a tokenizer without instruments)."""

    time: float  # seconds from the start of the stream
    pitch: int
    velocity: int
    program: int = 0
    is_drum: bool = False

    @property
    def is_on(self) -> bool:
        return self.velocity > 0


class EventStreamDecoder:
    """Token-at-a-time decoder: ``feed(id)`` → the note on/off events that token implies.

    O(1) per token; ``time`` is the musical time reached so far (seconds). ``close()`` returns
    note-offs for every hanging note (call it at END, on stop, or when the stream is cut).
    ``instruments`` is the tokenizer's ``InstrumentSet`` (None: one merged performance).
    """

    def __init__(self, instruments: InstrumentSet | None = None) -> None:
        self.instruments = instruments
        self.step = 0
        self.velocity = DEFAULT_VELOCITY
        self.slot = 0  # the instrument the next note tokens belong to (the first until a switch)
        self.sounding: dict[tuple[int, int], int] = {}  # (instrument slot, pitch) → onset step
        self.ended = False

    @property
    def time(self) -> float:
        return self.step * STEP_SECONDS

    def feed(self, token: int) -> list[NoteEvent]:
        token = int(token)
        if NOTE_ON <= token < NOTE_OFF:
            return self._note_on(token - NOTE_ON)
        if NOTE_OFF <= token < TIME_SHIFT:
            return self._note_off(self.slot, token - NOTE_OFF)
        if TIME_SHIFT <= token < VELOCITY:
            self.step += token - TIME_SHIFT + 1
        elif VELOCITY <= token < INSTRUMENT:
            self.velocity = BIN_VELOCITY[token - VELOCITY]
        elif self.instruments is not None and INSTRUMENT <= token < INSTRUMENT + self.instruments.size:
            self.slot = token - INSTRUMENT
        elif token == END:
            self.ended = True
            return self.close()
        return []  # PAD, START, labels

    def close(self) -> list[NoteEvent]:
        """Note-offs for all hanging notes, one step after their onset at the earliest."""
        events = [self._event(max(self.step, onset + 1), slot, pitch, 0)
                  for (slot, pitch), onset in sorted(self.sounding.items())]
        self.sounding.clear()
        return events

    def _event(self, step: int, slot: int, pitch: int, velocity: int) -> NoteEvent:
        program, drum = self.instruments.program(slot) if self.instruments is not None else (0, False)
        return NoteEvent(step * STEP_SECONDS, pitch, velocity, program, drum)

    def _note_on(self, pitch: int) -> list[NoteEvent]:
        events = self._note_off(self.slot, pitch) if (self.slot, pitch) in self.sounding else []
        self.sounding[(self.slot, pitch)] = self.step
        events.append(self._event(self.step, self.slot, pitch, self.velocity))
        return events

    def _note_off(self, slot: int, pitch: int) -> list[NoteEvent]:
        if self.sounding.pop((slot, pitch), None) is None:
            return []  # orphan note-off
        return [self._event(self.step, slot, pitch, 0)]


class MidiEventTokenizer:
    """Note sequences ↔ performance-event ids (see the module docstring for the layout)."""

    kind = "midi_events"
    # The ids top-p truncates (generation/sampler.py): END and the note-ons, by their share
    # among themselves; time shifts, note-offs, velocities and instruments keep the model's
    # probabilities (benchmarks/README.md, "Sampling defaults").
    nucleus = (END, NOTE_OFF)

    def __init__(self, labels: Sequence[str] = (), instruments: str = "merge", played: Sequence[int] | None = None,
                 grids: Sequence[int] | None = None, velocities: Sequence[int] | None = None,
                 pitch_order: str = "up") -> None:
        if instruments not in INSTRUMENT_MODES:
            raise TokenizerError(f"instruments {instruments!r}: expected one of {', '.join(INSTRUMENT_MODES)}")
        if pitch_order not in PITCH_ORDERS:
            raise TokenizerError(f"pitch_order {pitch_order!r}: expected one of {', '.join(PITCH_ORDERS)}")
        self.pitch_order = pitch_order
        self.instrument_mode = instruments
        self.instruments = None if instruments == "merge" else InstrumentSet(instruments)
        # The instrument slots the training data holds (None: any): the grammar plays no other.
        self.played = None if played is None or self.instruments is None else tuple(sorted(int(s) for s in played))
        # The tick grids the training pieces keep (None: not a quantised corpus, time is free),
        # and the velocity bins they use (None: any).
        self.grids = _distinct(grids)
        self.velocities = _distinct(velocities)
        self.label_base = INSTRUMENT + (self.instruments.size if self.instruments else 0)
        self.labels: list[str] = list(dict.fromkeys(str(label) for label in labels))
        self._label_ids = {label: self.label_base + i for i, label in enumerate(self.labels)}

    # ----------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        return self.label_base + len(self.labels)

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint16

    def start_tokens(self, labels: Iterable[str] = ()) -> list[int]:
        """What a piece starts with (START, then any label tokens): the default primer."""
        return [START, *(self.label_id(label) for label in labels)]

    def label_id(self, label: str) -> int:
        if label not in self._label_ids:
            raise TokenizerError(f"label {label!r} is not in this tokenizer's labels {self.labels}")
        return self._label_ids[label]

    def instrument_id(self, program: int, is_drum: bool = False) -> int:
        """The token that switches to an instrument (TokenizerError without instruments)."""
        if self.instruments is None:
            raise TokenizerError("this tokenizer merges every instrument into one performance")
        return INSTRUMENT + self.instruments.slot(program, is_drum)

    def played_in(self, ids: np.ndarray) -> MidiEventTokenizer:
        """This tokenizer, knowing what ``ids`` (the training data) hold: the instruments they
        play, the velocity bins they use (None when every bin is used) and the tick grids their
        pieces keep (``grids_in``)."""
        ids = np.asarray(ids)
        slots = None
        if self.instruments is not None:
            slots = (np.unique(ids[(ids >= INSTRUMENT) & (ids < self.label_base)]).astype(np.int64) - INSTRUMENT).tolist()
        bins = (np.unique(ids[(ids >= VELOCITY) & (ids < INSTRUMENT)]).astype(np.int64) - VELOCITY).tolist()
        velocities = bins if 0 < len(bins) < NUM_VELOCITY_BINS else None
        return MidiEventTokenizer(self.labels, self.instrument_mode, slots, grids_in(ids), velocities, self.pitch_order)

    def stream_decoder(self) -> EventStreamDecoder:
        return EventStreamDecoder(self.instruments)

    def token_name(self, token_id: int) -> str:
        t = int(token_id)
        if 0 <= t < NOTE_ON:
            return CONTROL_NAMES[t]
        if t < NOTE_OFF:
            return f"NOTE_ON_{t - NOTE_ON}"
        if t < TIME_SHIFT:
            return f"NOTE_OFF_{t - NOTE_OFF}"
        if t < VELOCITY:
            return f"TIME_SHIFT_{(t - TIME_SHIFT + 1) * 10}ms"
        if t < INSTRUMENT:
            return f"VELOCITY_{t - VELOCITY}"
        if t < self.label_base:
            assert self.instruments is not None
            return f"INSTRUMENT_{self.instruments.name(t - INSTRUMENT)}"
        if t < self.vocab_size:
            return f"LABEL_{self.labels[t - self.label_base]}"
        raise TokenizerError(f"token id {t} out of range 0..{self.vocab_size - 1}")

    # ----------------------------------------------------------------- encoding
    def encode(self, data: NoteSequence) -> np.ndarray:
        """Events of all notes, no START/END. Without instruments every note (drums too, if
        the caller kept them) is one performance."""
        if not isinstance(data, NoteSequence):
            raise TokenizerError(f"midi_events tokenizer encodes a NoteSequence, got {type(data).__name__}")
        inst = self.instruments
        slot = (lambda n: inst.slot(n.program, n.is_drum)) if inst is not None else (lambda n: 0)
        return np.asarray(_events_to_tokens(_quantised(data.notes, slot), inst is not None, self.pitch_order == "down"),
                          dtype=np.uint16)

    def record(self, ids: np.ndarray, labels: Iterable[str] = ()) -> np.ndarray:
        """START, label tokens, ``ids``, END: one training record."""
        head = [START, *(self.label_id(label) for label in labels)]
        return np.concatenate([np.asarray(head, np.uint16), np.asarray(ids, np.uint16), np.asarray([END], np.uint16)])

    def split_labels(self, ids: np.ndarray) -> tuple[list[str], np.ndarray]:
        """A record's (or a record body's) label strings and its other tokens: what ``record``
        put together. Instrument tokens are events here, not labels."""
        ids = np.asarray(ids)
        is_label = ids >= self.label_base
        return [self.labels[int(t) - self.label_base] for t in ids[is_label]], ids[~is_label]

    def encode_piece(self, data: NoteSequence, labels: Iterable[str] = ()) -> np.ndarray:
        """START, label tokens, events, END: one training record."""
        return self.record(self.encode(data), labels)

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray | None:
        """Shift the NOTE_ON/NOTE_OFF ids of pitched instruments by ``semitones`` (drums stay);
        None if a pitch would leave 0..127."""
        ids = np.asarray(ids)
        on = (ids >= NOTE_ON) & (ids < NOTE_OFF)
        off = (ids >= NOTE_OFF) & (ids < TIME_SHIFT)
        notes = (on | off) & ~self._drum_positions(ids)
        pitches = np.where(on, ids - NOTE_ON, np.where(off, ids - NOTE_OFF, 0))
        if notes.any():
            shifted = pitches[notes].astype(np.int64) + semitones
            if shifted.min() < 0 or shifted.max() >= NUM_PITCHES:
                return None
        out = ids.astype(np.int64)
        out[notes] += semitones
        return out.astype(ids.dtype)

    def _drum_positions(self, ids: np.ndarray) -> np.ndarray:
        """Where the instrument in force is the drum kit."""
        if self.instruments is None:
            return np.zeros(len(ids), dtype=bool)
        switch = (ids >= INSTRUMENT) & (ids < self.label_base)
        last = np.maximum.accumulate(np.where(switch, np.arange(len(ids)), -1))  # latest switch so far
        current = np.where(last >= 0, ids[np.maximum(last, 0)].astype(np.int64) - INSTRUMENT, 0)
        return current == self.instruments.drums

    # ----------------------------------------------------------------- decoding
    def decode(self, ids: Iterable[int]) -> NoteSequence:
        """Notes implied by ``ids`` up to the first END (after any notes); hanging notes closed."""
        decoder = self.stream_decoder()
        opened: dict[tuple[int, bool, int], NoteEvent] = {}
        notes: list[Note] = []
        for token in ids:
            for ev in decoder.feed(int(token)):
                _collect(ev, opened, notes)
            if decoder.ended and notes:
                break
            decoder.ended = False
        for ev in decoder.close():
            _collect(ev, opened, notes)
        return NoteSequence(notes=notes)

    # ----------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "step_seconds": STEP_SECONDS, "max_shift_steps": MAX_SHIFT,
               "velocity_bins": NUM_VELOCITY_BINS, "labels": list(self.labels)}
        if self.instruments is not None:  # a tokenizer without the field merges (older files)
            out["instruments"] = self.instrument_mode
        if self.played is not None:
            out["played"] = list(self.played)
        if self.grids is not None:
            out["grids"] = list(self.grids)
        if self.velocities is not None:
            out["velocities"] = list(self.velocities)
        if self.pitch_order != "up":  # a tokenizer without the field orders up (older files)
            out["pitch_order"] = self.pitch_order
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MidiEventTokenizer:
        expected = {"step_seconds": STEP_SECONDS, "max_shift_steps": MAX_SHIFT, "velocity_bins": NUM_VELOCITY_BINS}
        for key, value in expected.items():
            if key in data and data[key] != value:
                raise TokenizerError(f"tokenizer field {key!r}: expected {value}, got {data[key]!r}")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(s, str) for s in labels):
            raise TokenizerError("tokenizer field 'labels': expected a list of strings")
        lists = {"played": ("instrument numbers", 0, 10_000), "grids": ("steps of 10 ms", 1, 10_000),
                 "velocities": ("velocity bins", 0, NUM_VELOCITY_BINS - 1)}
        for key, (what, lo, hi) in lists.items():
            value = data.get(key)
            if value is not None and not (isinstance(value, list) and value
                                          and all(isinstance(v, int) and lo <= v <= hi for v in value)):
                raise TokenizerError(f"tokenizer field {key!r}: expected a non-empty list of {what} ({lo}..{hi}), "
                                     f"got {value!r}")
        order = data.get("pitch_order", "up")
        if order not in PITCH_ORDERS:
            raise TokenizerError(f"tokenizer field 'pitch_order': expected one of {', '.join(PITCH_ORDERS)}, got {order!r}")
        return cls(labels, data.get("instruments", "merge"), data.get("played"), data.get("grids"), data.get("velocities"),
                   order)


def _distinct(values: Iterable[int] | None) -> tuple[int, ...] | None:
    """``values`` sorted without repeats; None for None or nothing."""
    return tuple(sorted({int(v) for v in values})) or None if values is not None else None


def _collect(ev: NoteEvent, opened: dict[tuple[int, bool, int], NoteEvent], notes: list[Note]) -> None:
    key = (ev.program, ev.is_drum, ev.pitch)
    if ev.is_on:
        opened[key] = ev
        return
    on = opened.pop(key, None)
    if on is not None:
        notes.append(Note(ev.pitch, on.velocity, on.time, max(ev.time, on.time + STEP_SECONDS), ev.program,
                          ev.is_drum))


def _quantised(notes: Iterable[Note], slot: Any) -> list[tuple[int, int, int, int, int]]:
    """(on_step, off_step, slot, pitch, velocity) with one instrument's same-pitch overlaps
    resolved on the grid."""
    raw = sorted(
        (round(n.start / STEP_SECONDS), round(n.end / STEP_SECONDS), slot(n), n.pitch, n.velocity)
        for n in notes
        if 0 <= n.pitch < NUM_PITCHES
    )
    raw = [(on, max(off, on + 1), s, p, v) for on, off, s, p, v in raw]
    raw.sort(key=lambda q: (q[2], q[3], q[0], -q[1], -q[4]))
    out: list[tuple[int, int, int, int, int]] = []
    for q in raw:
        prev = out[-1] if out else None
        if prev is not None and prev[2:4] == q[2:4] and q[0] < prev[1]:
            if q[0] == prev[0]:
                continue  # same onset, same pitch: keep the longer, then the louder note
            out[-1] = (prev[0], q[0], *prev[2:])
        out.append(q)
    return out


def _events_to_tokens(notes: list[tuple[int, int, int, int, int]], switches: bool, down: bool = False) -> list[int]:
    # (step, instrument, order, pitch, velocity): one instrument's events together at a step,
    # offs (0) before ons (1), so a repeated note re-strikes; by pitch up, or down with ``down``.
    events = [(off, s, 0, p, 0) for _, off, s, p, _ in notes] + [(on, s, 1, p, v) for on, _, s, p, v in notes]
    events.sort(key=(lambda e: (e[0], e[1], e[2], -e[3], e[4])) if down else None)
    tokens: list[int] = []
    step, vbin, slot = 0, -1, -1
    for t, s, order, pitch, velocity in events:
        tokens.extend(shift_ids(t - step))
        step = t
        if switches and s != slot:
            tokens.append(INSTRUMENT + s)
            slot = s
        if order == 0:
            tokens.append(NOTE_OFF + pitch)
            continue
        b = velocity_bin(velocity)
        if b != vbin:
            tokens.append(VELOCITY + b)
            vbin = b
        tokens.append(NOTE_ON + pitch)
    return tokens


def grids_in(ids: np.ndarray) -> tuple[int, ...] | None:
    """The tick grids the records in ``ids`` (each opened by START) keep, or None when the
    corpus is not quantised.

    A record's grid is the greatest common divisor of the steps (from its START) at which its
    notes start and end. Grids are chosen greedily among the exact grids of at least
    ``GRID_SUPPORT`` of the records, each time the one that covers (divides the grid of) the
    most records not yet covered, until ``GRID_SHARE`` of them are; a record whose grid is under
    ``GRID_MIN_STEPS`` (a performance, or a tempo whose 16th is no whole number of steps) is
    covered by none. The Bach chorales at stretches 14/15, 1 and 16/15: (14, 15, 16), covering
    96 % of the records (the rest: 32nds, and chorales written at 80 or 90 bpm)."""
    ids = np.asarray(ids).astype(np.int64, copy=False)
    starts = np.flatnonzero(ids == START)
    if not len(starts):
        return None
    moved = np.where((ids >= TIME_SHIFT) & (ids < VELOCITY), ids - (TIME_SHIFT - 1), 0).cumsum()
    record = np.cumsum(ids == START) - 1
    events = np.flatnonzero((ids >= NOTE_ON) & (ids < TIME_SHIFT) & (record >= 0))
    if not len(events):
        return None
    rec = record[events]
    steps = moved[events] - moved[starts][rec]
    first = np.flatnonzero(np.r_[True, rec[1:] != rec[:-1]])
    unit = np.gcd.reduceat(steps, first)
    unit = unit[unit > 0]  # a record whose every note starts and ends at 0 has no grid
    if not len(unit):
        return None
    values, counts = np.unique(unit, return_counts=True)
    eligible = [int(v) for v, n in zip(values, counts, strict=True)
                if v >= GRID_MIN_STEPS and n >= GRID_SUPPORT * len(unit)]
    chosen: list[int] = []
    covered = np.zeros(len(unit), bool)
    while covered.mean() < GRID_SHARE and eligible and len(chosen) < MAX_GRIDS:
        gains = [int(((unit % g == 0) & ~covered).sum()) for g in eligible]
        best = max(range(len(eligible)), key=lambda i: (gains[i], eligible[i]))
        if not gains[best]:
            break
        covered |= unit % eligible[best] == 0
        chosen.append(eligible.pop(best))
    return tuple(sorted(chosen)) if covered.mean() >= GRID_SHARE else None


def shift_ids(steps: int) -> list[int]:
    """TIME_SHIFT ids that move time on by ``steps`` 10 ms steps (1 s each at most)."""
    out = []
    while steps > 0:
        n = min(steps, MAX_SHIFT)
        out.append(TIME_SHIFT + n - 1)
        steps -= n
    return out
