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


def test_token_stream_plays_the_notes_it_encodes() -> None:
    from genrnn.playback.events import token_messages
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    seq = NoteSequence([Note(60, 80, 0.0, 0.5), Note(64, 80, 0.5, 1.0), Note(67, 80, 0.5, 1.5)])
    tokens = [int(t) for t in MidiEventTokenizer().encode(seq)]
    messages = list(token_messages(iter(tokens), channel=2, program=40))
    assert messages[0].msg.type == "program_change" and messages[0].msg.program == 40
    ons = [(round(m.time, 3), m.msg.note) for m in messages if m.msg.type == "note_on"]
    offs = [(round(m.time, 3), m.msg.note) for m in messages if m.msg.type == "note_off"]
    assert ons == [(0.0, 60), (0.5, 64), (0.5, 67)]
    assert sorted(offs) == [(0.5, 60), (1.0, 64), (1.5, 67)]
    assert {m.msg.channel for m in messages} == {2}


def test_token_stream_cut_short_closes_open_notes() -> None:
    from genrnn.playback.events import token_messages
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    seq = NoteSequence([Note(60, 80, 0.0, 2.0)])
    tokens = [int(t) for t in MidiEventTokenizer().encode(seq)]
    cut = tokens[:4]  # the note_on, no note_off
    kinds = [m.msg.type for m in token_messages(cut, program=None)]
    assert kinds.count("note_on") == 1 and kinds.count("note_off") == 1
