"""Timed MIDI messages: the one stream the scheduler plays and the synth renders.

A ``TimedMessage`` is a channel message with its time in seconds from the start of the piece.
Streams are sorted by time; they may be lists (a file) or lazy, endless iterators (a model).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mido

from genrnn.errors import MidiConversionError
from genrnn.music.notes import Note, NoteSequence

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)

# At one instant: program changes first, then note-offs (so a repeated note retriggers),
# then note-ons.
_ORDER = {"program_change": 0, "control_change": 0, "note_off": 1, "note_on": 2}


@dataclass(frozen=True, slots=True)
class TimedMessage:
    """A MIDI channel message and when it sounds, in seconds from the start of the piece."""

    time: float
    msg: mido.Message


def _sort_key(ev: TimedMessage) -> tuple[float, int]:
    kind = ev.msg.type
    if kind == "note_on" and ev.msg.velocity == 0:
        kind = "note_off"
    return (ev.time, _ORDER.get(kind, 0))


def channel_map(notes: Iterable[Note]) -> dict[int, int]:
    """One channel per General MIDI program, in order of first use; drums are not mapped.

    More than 15 programs share channels round-robin (the later program wins on that channel).
    """
    mapping: dict[int, int] = {}
    for note in notes:
        if not note.is_drum and note.program not in mapping:
            mapping[note.program] = MELODIC_CHANNELS[len(mapping) % len(MELODIC_CHANNELS)]
    return mapping


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, int(value)))


def note_messages(note: Note, channel: int) -> tuple[TimedMessage, TimedMessage]:
    """The note_on and note_off of one note on ``channel``."""
    pitch = _clamp(note.pitch, 0, 127)
    on = mido.Message("note_on", channel=channel, note=pitch, velocity=_clamp(note.velocity, 1, 127))
    off = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
    return TimedMessage(max(0.0, note.start), on), TimedMessage(max(note.start, note.end), off)


def sequence_events(seq: NoteSequence) -> list[TimedMessage]:
    """A NoteSequence as a sorted stream: program changes at 0, then note on/off pairs.

    Each program gets its own channel; drums go to channel 9 (GM channel 10).
    """
    programs = channel_map(seq.notes)
    events = [
        TimedMessage(0.0, mido.Message("program_change", channel=ch, program=prog))
        for prog, ch in programs.items()
    ]
    for note in seq.notes:
        channel = DRUM_CHANNEL if note.is_drum else programs[note.program]
        events.extend(note_messages(note, channel))
    events.sort(key=_sort_key)
    return events


def read_midi_file(path: str | Path) -> mido.MidiFile:
    """Open a .mid with mido, or raise MidiConversionError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MidiConversionError(f"{path}: no such MIDI file")
    try:
        return mido.MidiFile(path)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError ...
        raise MidiConversionError(f"{path}: not a readable MIDI file ({exc})") from exc


def file_events(path: str | Path) -> list[TimedMessage]:
    """Every channel message of a .mid (notes, programs, pedals, bends) at its time in seconds.

    Read with mido directly rather than through a NoteSequence, so that controllers such as
    the sustain pedal are played as written.
    """
    midi = read_midi_file(path)
    events: list[TimedMessage] = []
    now = 0.0
    try:
        for msg in midi:  # merged tracks, delta times in seconds, tempo map applied
            now += msg.time
            if not msg.is_meta and msg.type != "sysex":
                events.append(TimedMessage(now, msg.copy(time=0)))
    except Exception as exc:  # type-2 files, broken tracks
        raise MidiConversionError(f"{path}: cannot read the MIDI events ({exc})") from exc
    return events


def end_time(events: Iterable[TimedMessage]) -> float:
    """The time of the last event (0 for none)."""
    return max((ev.time for ev in events), default=0.0)


def shifted(events: Iterable[TimedMessage], offset: float) -> Iterator[TimedMessage]:
    """The same stream, ``offset`` seconds later."""
    for ev in events:
        yield TimedMessage(ev.time + offset, ev.msg)


def note_event_messages(events: Iterable[tuple[float, int, int]], *, channel: int = 0, program: int | None = 0,
                        start: float = 0.0) -> Iterator[TimedMessage]:
    """A lazy stream of (seconds, pitch, velocity; 0 = off) note events, as a model makes them,
    as timed messages: a program change first (unless ``program`` is None) at ``start``. A
    consumer that stops early leaves notes open: the scheduler's Output releases them."""
    if program is not None:
        yield TimedMessage(start, mido.Message("program_change", channel=channel, program=program))
    for at, pitch, velocity in events:
        kind = "note_on" if velocity > 0 else "note_off"
        yield TimedMessage(at, mido.Message(kind, channel=channel, note=pitch, velocity=velocity))
