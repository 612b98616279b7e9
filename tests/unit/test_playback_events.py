"""NoteSequence and .mid files as timed message streams."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from genrnn.errors import MidiConversionError
from genrnn.music.notes import Note, NoteSequence
from genrnn.playback.events import DRUM_CHANNEL, file_events, sequence_events


def test_programs_get_their_own_channels_and_drums_channel_9() -> None:
    seq = NoteSequence([
        Note(60, 90, 0.0, 1.0, program=0),
        Note(48, 70, 0.5, 1.5, program=33),
        Note(36, 100, 0.0, 0.1, is_drum=True, program=0),
        Note(64, 90, 1.0, 2.0, program=0),
    ])
    events = sequence_events(seq)
    programs = [(e.time, e.msg.channel, e.msg.program) for e in events if e.msg.type == "program_change"]
    assert programs == [(0.0, 0, 0), (0.5, 1, 33)]  # each just before its instrument's first note
    drum = [e for e in events if e.msg.type == "note_on" and e.msg.note == 36]
    assert drum[0].msg.channel == DRUM_CHANNEL
    bass = [e.msg.channel for e in events if getattr(e.msg, "note", None) == 48]
    assert bass == [1, 1]
    assert [e.time for e in events] == sorted(e.time for e in events)


def test_at_the_same_instant_note_off_comes_before_note_on() -> None:
    seq = NoteSequence([Note(60, 90, 0.0, 1.0), Note(60, 90, 1.0, 2.0)])
    kinds = [(e.time, e.msg.type) for e in sequence_events(seq)]
    assert kinds == [(0.0, "program_change"), (0.0, "note_on"), (1.0, "note_off"), (1.0, "note_on"), (2.0, "note_off")]


def test_many_programs_wrap_around_the_melodic_channels() -> None:
    seq = NoteSequence([Note(60, 90, i * 0.1, i * 0.1 + 0.1, program=i) for i in range(17)])
    events = sequence_events(seq)
    channels = {e.msg.channel for e in events}
    assert DRUM_CHANNEL not in channels and channels == set(range(16)) - {DRUM_CHANNEL}
    changes = [e.msg.program for e in events if e.msg.type == "program_change"]
    assert changes == list(range(17))  # the 16th and 17th programs each announce themselves


def test_file_events_keep_every_channel_message_with_times_in_seconds(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))  # 120 bpm: 480 ticks = 0.5 s
    track.append(mido.Message("program_change", channel=2, program=40, time=0))
    track.append(mido.Message("control_change", channel=2, control=64, value=127, time=0))
    track.append(mido.Message("note_on", channel=2, note=67, velocity=80, time=480))
    track.append(mido.Message("note_off", channel=2, note=67, time=960))
    midi.tracks.append(track)
    path = tmp_path / "one.mid"
    midi.save(path)
    events = file_events(path)
    assert [(e.time, e.msg.type) for e in events] == [
        (0.0, "program_change"), (0.0, "control_change"), (0.5, "note_on"), (1.5, "note_off")]


def test_unreadable_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(MidiConversionError, match="bad.mid: not a readable MIDI file"):
        file_events(bad)
    with pytest.raises(MidiConversionError, match="missing.mid: no such MIDI file"):
        file_events(tmp_path / "missing.mid")


def test_a_lazy_note_event_stream_plays_as_it_comes() -> None:
    from genrnn.playback.events import note_event_messages

    made: list[float] = []

    def model() -> object:  # a generator that records how far the consumer has pulled it
        for event in [(0.25, 60, 80, 40, False), (0.5, 60, 0, 40, False), (0.5, 36, 90, 0, True),
                      (0.5, 64, 90, 40, False), (1.0, 64, 0, 40, False), (1.0, 48, 70)]:
            made.append(event[0])
            yield event

    messages = note_event_messages(model())
    first = next(messages)
    assert (first.time, first.msg.type, first.msg.channel, first.msg.program) == (0.25, "program_change", 0, 40)
    assert made == [0.25]  # made one event at a time, as the player asks
    rest = [(m.time, m.msg.type, m.msg.channel, getattr(m.msg, "note", m.msg.dict().get("program"))) for m in messages]
    assert rest == [(0.25, "note_on", 0, 60), (0.5, "note_off", 0, 60), (0.5, "note_on", DRUM_CHANNEL, 36),
                    (0.5, "note_on", 0, 64), (1.0, "note_off", 0, 64),
                    (1.0, "program_change", 1, 0), (1.0, "note_on", 1, 48)]  # a 3-tuple: program 0


def test_past_fifteen_programs_a_silent_channel_is_reused_after_a_program_change() -> None:
    from genrnn.playback.events import note_event_messages

    events = [(i * 0.1, 60, 80, i, False) for i in range(15)] + [(i * 0.1 + 0.05, 60, 0, i, False) for i in range(15)]
    events.sort()
    events += [(2.0, 62, 80, 100, False), (2.5, 62, 0, 100, False)]
    messages = list(note_event_messages(events))
    changes = [(m.msg.channel, m.msg.program) for m in messages if m.msg.type == "program_change"]
    assert len(changes) == 16 and changes[-1] == (0, 100)  # the longest silent channel, 0, plays program 100
    assert DRUM_CHANNEL not in {c for c, _ in changes}
    ons = [m for m in messages if m.msg.type == "note_on"]
    offs = [m for m in messages if m.msg.type == "note_off"]
    assert [(m.msg.channel, m.msg.note) for m in ons] == [(m.msg.channel, m.msg.note) for m in offs]
