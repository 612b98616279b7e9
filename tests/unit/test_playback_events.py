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
    programs = [(e.msg.channel, e.msg.program) for e in events if e.msg.type == "program_change"]
    assert programs == [(0, 0), (1, 33)]
    assert all(e.time == 0.0 for e in events[:2])
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
    channels = {e.msg.channel for e in sequence_events(seq)}
    assert DRUM_CHANNEL not in channels and channels == set(range(16)) - {DRUM_CHANNEL}


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
        for event in [(0.0, 60, 80), (0.5, 60, 0), (0.5, 64, 90), (1.0, 64, 0)]:
            made.append(event[0])
            yield event

    messages = note_event_messages(model(), channel=2, program=40, start=0.25)
    first = next(messages)
    assert first.time == 0.25 and first.msg.type == "program_change" and first.msg.program == 40 and made == []
    rest = list(messages)
    assert [(m.time, m.msg.type, m.msg.note) for m in rest] == [
        (0.0, "note_on", 60), (0.5, "note_off", 60), (0.5, "note_on", 64), (1.0, "note_off", 64)]
    assert {m.msg.channel for m in rest} == {2} and rest[2].msg.velocity == 90
    assert [m.msg.type for m in note_event_messages([(0.0, 60, 80)], program=None)] == ["note_on"]
