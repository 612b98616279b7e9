"""Performance events (after Magenta's Performance RNN) ↔ note sequences.

Vocabulary, in id order::

    PAD, START, END                       control tokens (0, 1, 2)
    NOTE_ON  0..127                        3 .. 130
    NOTE_OFF 0..127                      131 .. 258
    TIME_SHIFT 1..100 steps of 10 ms     259 .. 358   (10 ms … 1 s)
    VELOCITY bin 0..31                   359 .. 390
    LABEL  one per conditioning label    391 ..       (e.g. "mode=minor", "key=A")

Programs are merged into one performance (drums are the caller's choice to drop). Time is
quantised to 10 ms; a note-on of a pitch already sounding re-strikes it (ends the old note).
Decoding ignores orphan note-offs and closes notes left hanging at the end.
``EventStreamDecoder`` does the same one token at a time for live playback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrnn.errors import TokenizerError
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
LABEL = VELOCITY + NUM_VELOCITY_BINS
CONTROL_NAMES = ("PAD", "START", "END")


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
    """A timed note message implied by the token stream (velocity 0 = note off)."""

    time: float  # seconds from the start of the stream
    pitch: int
    velocity: int

    @property
    def is_on(self) -> bool:
        return self.velocity > 0


class EventStreamDecoder:
    """Token-at-a-time decoder: ``feed(id)`` → the note on/off events that token implies.

    O(1) per token; ``time`` is the musical time reached so far (seconds). ``close()`` returns
    note-offs for every hanging note (call it at END, on stop, or when the stream is cut).
    """

    def __init__(self) -> None:
        self.step = 0
        self.velocity = DEFAULT_VELOCITY
        self.sounding: dict[int, int] = {}  # pitch → onset step
        self.ended = False

    @property
    def time(self) -> float:
        return self.step * STEP_SECONDS

    def feed(self, token: int) -> list[NoteEvent]:
        token = int(token)
        if NOTE_ON <= token < NOTE_OFF:
            return self._note_on(token - NOTE_ON)
        if NOTE_OFF <= token < TIME_SHIFT:
            return self._note_off(token - NOTE_OFF)
        if TIME_SHIFT <= token < VELOCITY:
            self.step += token - TIME_SHIFT + 1
        elif VELOCITY <= token < LABEL:
            self.velocity = BIN_VELOCITY[token - VELOCITY]
        elif token == END:
            self.ended = True
            return self.close()
        return []  # PAD, START, labels

    def close(self) -> list[NoteEvent]:
        """Note-offs for all hanging notes, one step after their onset at the earliest."""
        events = []
        for pitch, onset in sorted(self.sounding.items()):
            end = max(self.step, onset + 1)
            events.append(NoteEvent(end * STEP_SECONDS, pitch, 0))
        self.sounding.clear()
        return events

    def _note_on(self, pitch: int) -> list[NoteEvent]:
        events = self._note_off(pitch) if pitch in self.sounding else []
        self.sounding[pitch] = self.step
        events.append(NoteEvent(self.time, pitch, self.velocity))
        return events

    def _note_off(self, pitch: int) -> list[NoteEvent]:
        if self.sounding.pop(pitch, None) is None:
            return []  # orphan note-off
        return [NoteEvent(self.time, pitch, 0)]


class MidiEventTokenizer:
    """Note sequences ↔ performance-event ids (see the module docstring for the layout)."""

    kind = "midi_events"
    # The ids top-p truncates (generation/sampler.py): END and the note-ons, by their share
    # among themselves. Time shifts, note-offs and velocities keep the model's probabilities,
    # so a fermata or a phrase's rest (rare, but right) is never cut. Chorales at top-p 0.8
    # (benchmarks/README.md): over every token, empty time 0.0020 and 17 % too many notes;
    # over the note-ons, 0.0057 and +4.8 % (untruncated: 0.0036, and more clashes). END stays
    # in the truncated set: left whole, it ended 19 of 60 pieces before 15 s (13 in it).
    nucleus = (END, NOTE_OFF)

    def __init__(self, labels: Sequence[str] = ()) -> None:
        self.labels: list[str] = list(dict.fromkeys(str(label) for label in labels))
        self._label_ids = {label: LABEL + i for i, label in enumerate(self.labels)}

    # ----------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        return LABEL + len(self.labels)

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
        if t < LABEL:
            return f"VELOCITY_{t - VELOCITY}"
        if t < self.vocab_size:
            return f"LABEL_{self.labels[t - LABEL]}"
        raise TokenizerError(f"token id {t} out of range 0..{self.vocab_size - 1}")

    # ----------------------------------------------------------------- encoding
    def encode(self, data: NoteSequence) -> np.ndarray:
        """Events of all notes (drums included if present), no START/END."""
        if not isinstance(data, NoteSequence):
            raise TokenizerError(f"midi_events tokenizer encodes a NoteSequence, got {type(data).__name__}")
        return np.asarray(_events_to_tokens(_quantised(data.notes)), dtype=np.uint16)

    def encode_piece(self, data: NoteSequence, labels: Iterable[str] = ()) -> np.ndarray:
        """START, label tokens, events, END: one training record."""
        head = [START, *(self.label_id(label) for label in labels)]
        body = self.encode(data)
        return np.concatenate([np.asarray(head, np.uint16), body, np.asarray([END], np.uint16)])

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray | None:
        """Shift NOTE_ON/NOTE_OFF ids by ``semitones``; None if a pitch would leave 0..127."""
        ids = np.asarray(ids)
        on = (ids >= NOTE_ON) & (ids < NOTE_OFF)
        off = (ids >= NOTE_OFF) & (ids < TIME_SHIFT)
        pitches = np.where(on, ids - NOTE_ON, np.where(off, ids - NOTE_OFF, 0))
        notes = on | off
        if notes.any():
            shifted = pitches[notes].astype(np.int64) + semitones
            if shifted.min() < 0 or shifted.max() >= NUM_PITCHES:
                return None
        out = ids.astype(np.int64)
        out[notes] += semitones
        return out.astype(ids.dtype)

    # ----------------------------------------------------------------- decoding
    def decode(self, ids: Iterable[int]) -> NoteSequence:
        """Notes implied by ``ids`` up to the first END (after any notes); hanging notes closed."""
        decoder = EventStreamDecoder()
        opened: dict[int, NoteEvent] = {}
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
        return {
            "kind": self.kind,
            "step_seconds": STEP_SECONDS,
            "max_shift_steps": MAX_SHIFT,
            "velocity_bins": NUM_VELOCITY_BINS,
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MidiEventTokenizer:
        expected = {"step_seconds": STEP_SECONDS, "max_shift_steps": MAX_SHIFT, "velocity_bins": NUM_VELOCITY_BINS}
        for key, value in expected.items():
            if key in data and data[key] != value:
                raise TokenizerError(f"tokenizer field {key!r}: expected {value}, got {data[key]!r}")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(s, str) for s in labels):
            raise TokenizerError("tokenizer field 'labels': expected a list of strings")
        return cls(labels)


def _collect(ev: NoteEvent, opened: dict[int, NoteEvent], notes: list[Note]) -> None:
    if ev.is_on:
        opened[ev.pitch] = ev
        return
    on = opened.pop(ev.pitch, None)
    if on is not None:
        notes.append(Note(ev.pitch, on.velocity, on.time, max(ev.time, on.time + STEP_SECONDS)))


def _quantised(notes: Iterable[Note]) -> list[tuple[int, int, int, int]]:
    """(on_step, off_step, pitch, velocity) with same-pitch overlaps resolved on the grid."""
    raw = sorted(
        (round(n.start / STEP_SECONDS), round(n.end / STEP_SECONDS), n.pitch, n.velocity)
        for n in notes
        if 0 <= n.pitch < NUM_PITCHES
    )
    raw = [(on, max(off, on + 1), p, v) for on, off, p, v in raw]
    raw.sort(key=lambda q: (q[2], q[0], -q[1], -q[3]))
    out: list[tuple[int, int, int, int]] = []
    for q in raw:
        if out and out[-1][2] == q[2] and q[0] < out[-1][1]:
            if q[0] == out[-1][0]:
                continue  # same onset, same pitch: keep the longer, then the louder note
            out[-1] = (out[-1][0], q[0], q[2], out[-1][3])
        out.append(q)
    return out


def _events_to_tokens(notes: list[tuple[int, int, int, int]]) -> list[int]:
    # (step, order, pitch, velocity): offs (0) before ons (1) at the same step.
    events = [(off, 0, p, 0) for _, off, p, _ in notes] + [(on, 1, p, v) for on, _, p, v in notes]
    events.sort()
    tokens: list[int] = []
    step, vbin = 0, -1
    for t, order, pitch, velocity in events:
        tokens.extend(shift_ids(t - step))
        step = t
        if order == 0:
            tokens.append(NOTE_OFF + pitch)
            continue
        b = velocity_bin(velocity)
        if b != vbin:
            tokens.append(VELOCITY + b)
            vbin = b
        tokens.append(NOTE_ON + pitch)
    return tokens


def shift_ids(steps: int) -> list[int]:
    """TIME_SHIFT ids that move time on by ``steps`` 10 ms steps (1 s each at most)."""
    out = []
    while steps > 0:
        n = min(steps, MAX_SHIFT)
        out.append(TIME_SHIFT + n - 1)
        steps -= n
    return out
