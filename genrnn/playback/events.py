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
from genrnn.music.instruments import DRUM_CHANNEL, ChannelAllocator
from genrnn.music.notes import NoteSequence

__all__ = ["DRUM_CHANNEL", "TimedMessage", "file_events", "note_event_messages", "sequence_events"]

@dataclass(frozen=True, slots=True)
class TimedMessage:
    """A MIDI channel message and when it sounds, in seconds from the start of the piece."""

    time: float
    msg: mido.Message


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, int(value)))


def sequence_events(seq: NoteSequence) -> list[TimedMessage]:
    """A NoteSequence as a sorted stream: each instrument on its channel (drums on GM channel
    10) with its program change before its first note (``music.instruments.ChannelAllocator``)."""
    return list(note_event_messages(seq.note_events()))


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


def note_event_messages(events: Iterable[tuple], channels: ChannelAllocator | None = None) -> Iterator[TimedMessage]:
    """A lazy stream of note events, ``(seconds, pitch, velocity)`` (velocity 0 = off) or with
    ``program, is_drum`` after them, as a model makes them, as timed messages: each instrument
    on its channel with a program change just before its first note (``ChannelAllocator``'s
    rule, past 15 programs too). A consumer that stops early leaves notes open: the scheduler's
    Output releases them. Pass ``channels`` to keep one allocation across several calls (a jam's
    accompaniment, a few events at a time)."""
    channels = channels if channels is not None else ChannelAllocator()
    for event in events:
        at, pitch, velocity = event[:3]
        program, drum = (int(event[3]), bool(event[4])) if len(event) > 3 else (0, False)
        pitch = _clamp(pitch, 0, 127)
        if velocity > 0:
            channel, change = channels.note_on(program, drum, pitch)
            if change:
                yield TimedMessage(at, mido.Message("program_change", channel=channel, program=program))
            yield TimedMessage(at, mido.Message("note_on", channel=channel, note=pitch,
                                                velocity=_clamp(velocity, 1, 127)))
        else:
            channel = channels.note_off(program, drum, pitch)
            if channel is not None:
                yield TimedMessage(at, mido.Message("note_off", channel=channel, note=pitch, velocity=0))
