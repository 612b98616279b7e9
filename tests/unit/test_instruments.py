"""Instruments from the file to the tokens and back: band MIDI written with mido, read, encoded,
decoded and written again, and the event grammar holding every rule per instrument."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError, MidiConversionError, TokenizerError
from genrnn.generation.grammar import EventGrammar
from genrnn.music.instruments import ChannelAllocator, InstrumentSet, parse_instrument
from genrnn.music.midi_io import read_midi, write_midi
from genrnn.music.notes import Note, NoteSequence
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.midi_events import (
    END,
    INSTRUMENT,
    LABEL,
    NOTE_OFF,
    NOTE_ON,
    START,
    TIME_SHIFT,
    MidiEventTokenizer,
)
from tests.band import song


def _key(n: Note) -> tuple[int, bool, int]:
    return n.program, n.is_drum, n.pitch


def _round_trip(seq: NoteSequence, grain: str) -> NoteSequence:
    tok = MidiEventTokenizer(instruments=grain)
    return tok.decode(tok.encode(seq))


def _matched(a: NoteSequence, b: NoteSequence) -> float:
    """The worst onset/offset error between two sequences of the same notes (same instruments and
    pitches, one to one, in time order); fails if they differ."""
    left = sorted(a.notes, key=lambda n: (*_key(n), n.start))
    right = sorted(b.notes, key=lambda n: (*_key(n), n.start))
    assert [_key(n) for n in left] == [_key(n) for n in right]
    return max(max(abs(x.start - y.start), abs(x.end - y.end)) for x, y in zip(left, right, strict=True))


def test_a_ten_instrument_band_file_round_trips_through_the_tokens(tmp_path: Path):
    path = tmp_path / "band.mid"
    song(16.0, parts=12, seed=3).save(path)
    seq = read_midi(path)
    assert len({(n.program, n.is_drum) for n in seq.notes}) == 12 and any(n.is_drum for n in seq.notes)
    assert _matched(seq, _round_trip(seq, "programs")) <= 0.010 + 1e-9
    again = read_midi(write_midi(_round_trip(seq, "programs"), tmp_path / "again.mid"))
    assert _matched(seq, again) <= 0.010 + 2e-3  # + the written file's tick grid
    names = [i.name for i in pretty_midi.PrettyMIDI(str(tmp_path / "again.mid")).instruments]
    assert "Drums" in names and "Electric Bass (finger)" in names and len(names) == 12


def test_program_changes_mid_track_and_tracks_sharing_a_channel_keep_their_instruments(tmp_path: Path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    one = mido.MidiTrack([mido.Message("program_change", channel=0, program=0)])
    one += [mido.Message("note_on", channel=0, note=60, velocity=80), mido.Message("note_off", channel=0, note=60, time=480),
            mido.Message("program_change", channel=0, program=40),  # mid-track: a violin from here
            mido.Message("note_on", channel=0, note=67, velocity=80), mido.Message("note_off", channel=0, note=67, time=480)]
    two = mido.MidiTrack([mido.Message("program_change", channel=1, program=33, time=0),
                          mido.Message("note_on", channel=1, note=40, velocity=90), mido.Message("note_off", channel=1, note=40, time=960)])
    three = mido.MidiTrack([mido.Message("program_change", channel=1, program=33),  # another track, same channel
                            mido.Message("note_on", channel=1, note=43, velocity=90, time=960),
                            mido.Message("note_off", channel=1, note=43, time=480)])
    mid.tracks += [one, two, three]
    mid.save(tmp_path / "odd.mid")
    seq = read_midi(tmp_path / "odd.mid")
    assert sorted((n.pitch, n.program) for n in seq.notes) == [(40, 33), (43, 33), (60, 0), (67, 40)]
    assert seq.read_as == ("program change mid-track", "tracks sharing a channel")
    for grain in ("programs", "families"):
        back = _round_trip(seq, grain)
        want = {(n.pitch, InstrumentSet(grain).program(InstrumentSet(grain).slot(n.program, False))[0]) for n in seq.notes}
        assert {(n.pitch, n.program) for n in back.notes} == want


def test_a_drum_part_named_by_its_track_a_bank_select_and_empty_tracks(tmp_path: Path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    drums = mido.MidiTrack([mido.MetaMessage("track_name", name="Drum Kit"),  # on channel 3, not 10
                            mido.Message("note_on", channel=3, note=36, velocity=100),
                            mido.Message("note_off", channel=3, note=36, time=120)])
    keys = mido.MidiTrack([mido.MetaMessage("track_name", name="Tuned Percussion"),  # pitched: stays pitched
                           mido.Message("control_change", channel=0, control=0, value=8),  # bank select: ignored
                           mido.Message("program_change", channel=0, program=11),
                           mido.Message("note_on", channel=0, note=72, velocity=70),
                           mido.Message("note_off", channel=0, note=72, time=240)])
    mid.tracks += [mido.MidiTrack([mido.MetaMessage("track_name", name="nothing")]), drums, keys]
    mid.save(tmp_path / "kit.mid")
    seq = read_midi(tmp_path / "kit.mid")
    assert sorted((n.pitch, n.program, n.is_drum) for n in seq.notes) == [(36, 0, True), (72, 11, False)]
    # what the prep report names (the first track is a type-1 file's conductor, so it is not counted)
    assert seq.read_as == ("drums named by their track", "bank select ignored")
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Strings (unused)")]))
    mid.save(tmp_path / "kit.mid")
    assert read_midi(tmp_path / "kit.mid").read_as[-1] == "tracks without notes"
    mid.tracks[2:] = [mid.tracks[-1]]  # the kit alone, and the empty track
    mid.save(tmp_path / "kit.mid")
    assert read_midi(tmp_path / "kit.mid").read_as == ("drums named by their track", "tracks without notes",
                                                       "drums only")


def test_type_2_files_are_refused_by_name(tmp_path: Path):
    mid = mido.MidiFile(type=2, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=80),
                                      mido.Message("note_off", note=60, time=480)]))
    mid.save(tmp_path / "patterns.mid")
    with pytest.raises(MidiConversionError, match="patterns.mid: type-2 file"):
        read_midi(tmp_path / "patterns.mid")


def test_more_programs_than_channels_are_written_and_read_back_each_kept(tmp_path: Path):
    notes = [Note(50 + i, 80, i * 0.25, i * 0.25 + 0.2, program=i * 5) for i in range(20)]
    notes.append(Note(38, 100, 0.0, 0.1, is_drum=True))
    back = read_midi(write_midi(NoteSequence(notes, tempo_bpm=120.0), tmp_path / "many.mid"))
    assert sorted((n.program, n.is_drum, n.pitch) for n in back.notes) == sorted(map(_key, notes))
    assert back.read_as == ("tracks sharing a channel", "more than 15 instruments")  # one track each
    channels = {m.channel for t in mido.MidiFile(tmp_path / "many.mid").tracks for m in t if m.type == "note_on"}
    assert 9 in channels and len(channels) == 16


def test_the_channel_rule_reuses_the_longest_silent_channel():
    alloc = ChannelAllocator()
    got = [alloc.note_on(p, False, 60) for p in range(15)]
    assert [c for c, _ in got] == [c for c in range(16) if c != 9] and all(change for _, change in got)
    for p in range(15):
        alloc.note_off(p, False, 60)
    assert alloc.note_on(99, False, 60) == (0, True)  # channel 0 has been silent longest
    assert alloc.note_on(99, False, 62) == (0, False)
    assert alloc.note_on(0, True, 36) == (9, False)


def test_drums_are_never_transposed_and_old_tokenizers_still_read():
    tok = MidiEventTokenizer(["mode=major"], "programs")
    seq = NoteSequence([Note(60, 80, 0, 1), Note(36, 100, 0, 0.1, is_drum=True), Note(40, 80, 0.5, 1, program=33)])
    moved = tok.decode(tok.transpose_ids(tok.encode(seq), 3))
    assert sorted((n.pitch, n.is_drum) for n in moved.notes) == [(36, True), (43, False), (63, False)]
    assert tok.label_id("mode=major") == INSTRUMENT + 129 and tok.vocab_size == INSTRUMENT + 130
    old = tokenizer_from_dict({"kind": "midi_events", "labels": ["mode=major"]})  # files made before instruments
    assert old.instruments is None and old.label_id("mode=major") == LABEL and old.vocab_size == LABEL + 1
    assert tokenizer_from_dict(tok.to_dict()).to_dict() == tok.to_dict()
    with pytest.raises(TokenizerError, match="instruments 'orchestra'"):
        MidiEventTokenizer(instruments="orchestra")


def test_the_grammar_holds_every_rule_per_instrument():
    tok = MidiEventTokenizer(instruments="families")
    g = EventGrammar.for_tokenizer(tok)
    off = SampleConfig(max_note_seconds=0.0)
    piano, bass, drums = (tok.instrument_id(p, d) for p, d in ((0, False), (33, False), (0, True)))
    g.feed([START, piano, NOTE_ON + 60, TIME_SHIFT + 9])

    def allowed() -> set[int]:
        return set(np.flatnonzero(~g.mask(off)).tolist())

    assert NOTE_OFF + 60 in allowed() and piano not in allowed() and bass in allowed()
    g.feed([bass])  # the bass has no note sounding: no note-off, though the piano's C4 sounds
    assert not any(NOTE_OFF <= t < TIME_SHIFT for t in allowed()) and bass not in allowed() and piano in allowed()
    g.feed([NOTE_ON + 60])  # the bass's own C4: a separate note
    assert set(g.sounding) == {(0, 60), (4, 60)}
    held = SampleConfig(max_note_seconds=0.0, instruments=("piano", "bass"))
    assert g.mask(held)[drums] and not g.mask(held)[piano]
    fresh = EventGrammar.for_tokenizer(tok)
    fresh.feed([START])
    assert fresh.mask(SampleConfig(instruments=("drums",)))[NOTE_ON + 36]  # switch to an asked instrument first
    with pytest.raises(ConfigError, match="merges every instrument"):
        EventGrammar.for_tokenizer(MidiEventTokenizer()).mask(SampleConfig(instruments=("piano",)))


def test_names_people_use_for_instruments():
    assert parse_instrument("drums").is_drum and parse_instrument("Bass").family == 4
    assert parse_instrument("violin").program == 40 and parse_instrument("33").program == 33
    assert InstrumentSet("programs").slots(parse_instrument("bass")) == list(range(32, 40))
    assert InstrumentSet("families").slots(parse_instrument("cello")) == [5]
    with pytest.raises(ConfigError, match="instrument 'kazoo-x'"):
        parse_instrument("kazoo-x")


def test_an_ensemble_becomes_the_instrument_labels_of_a_model_that_has_them():
    from types import SimpleNamespace

    from genrnn.generation.conditions import instrument_conditions
    from genrnn.music.notation import INSTRUMENT_KINDS, label_vocabulary

    labelled = SimpleNamespace(tokenizer=MidiEventTokenizer(label_vocabulary(["mode", "instruments"]), "programs"))
    given = instrument_conditions(labelled, ["piano", "bass", "drums", "violin"])
    assert len(given) == len(INSTRUMENT_KINDS)
    assert {g for g in given if g.endswith("=yes")} == {"piano=yes", "bass=yes", "drums=yes", "strings=yes"}
    assert instrument_conditions(labelled, []) == []  # nothing asked: the model draws its own
    assert instrument_conditions(SimpleNamespace(tokenizer=MidiEventTokenizer(instruments="programs")), ["piano"]) == []


def test_a_model_plays_only_the_instruments_its_training_data_holds():
    quartet = MidiEventTokenizer(instruments="programs").played_in(np.asarray([START, INSTRUMENT + 40, NOTE_ON + 60,
                                                                               INSTRUMENT + 42, NOTE_ON + 40]))
    assert quartet.played == (40, 42) and tokenizer_from_dict(quartet.to_dict()).played == (40, 42)
    g = EventGrammar.for_tokenizer(quartet)
    g.feed([START])
    mask = g.mask(SampleConfig(max_note_seconds=0.0))
    allowed = {t - INSTRUMENT for t in np.flatnonzero(~mask) if INSTRUMENT <= t < quartet.label_base}
    assert allowed == {40, 42} and mask[NOTE_ON + 60]  # slot 0 (piano) is in force until a switch: no notes
    with pytest.raises(ConfigError, match="never heard them; it plays Cello, Violin"):
        g.mask(SampleConfig(instruments=("piano",)))
    assert MidiEventTokenizer().played_in(np.asarray([START])).played is None  # merged: nothing to hold


def test_a_band_record_splits_into_its_labels_and_its_events_instrument_tokens_included():
    tok = MidiEventTokenizer(["mode=minor", "key=Am", "bass=yes"], "programs")
    events = tok.encode(NoteSequence([Note(40, 90, 0, 0.5, program=33), Note(36, 100, 0, 0.1, is_drum=True)]))
    assert any(INSTRUMENT <= t < tok.label_base for t in events)  # switches to the bass and the kit
    labels, rest = tok.split_labels(tok.record(events, ["mode=minor", "bass=yes"]))
    assert labels == ["mode=minor", "bass=yes"]
    assert list(rest) == [START, *events, END]
