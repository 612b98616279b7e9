"""Model-free parts of music sampling: primers, the live note-event adapter, ABC tunes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from genrnn.errors import ConfigError, MidiConversionError
from genrnn.generation import music
from genrnn.music.notes import Note, NoteSequence
from genrnn.tokenizers.midi_events import END, START, TIME_SHIFT, MidiEventTokenizer


@dataclass
class _Step:
    token: int


class FakeStream:
    """Yields fixed tokens like a Generator's steps (then END forever)."""

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = list(tokens)

    def __iter__(self) -> FakeStream:
        return self

    def __next__(self) -> _Step:
        return _Step(self.tokens.pop(0) if self.tokens else END)


def _seq() -> NoteSequence:
    notes = [Note(60, 80, 0.0, 1.0), Note(64, 80, 0.5, 2.5), Note(67, 90, 3.0, 6.0), Note(72, 70, 5.0, 7.0)]
    return NoteSequence(notes=notes, tempo_bpm=90.0, time_signature=(3, 4))


def test_start_tokens_are_the_default_primer():
    assert MidiEventTokenizer().start_tokens() == [START]


def test_primer_is_clipped_and_padded_to_its_length():
    tok = MidiEventTokenizer()
    primer = music.primer_from_sequence(tok, _seq(), 4.0)
    assert primer.ids[0] == START
    assert primer.end_time == pytest.approx(4.0)
    assert [n.pitch for n in primer.sequence.notes] == [60, 64, 67]
    assert max(n.end for n in primer.sequence.notes) <= 4.0
    short = music.primer_from_sequence(tok, _seq(), 60.0)  # longer than the piece
    assert short.end_time == pytest.approx(7.0)


def test_primer_without_notes_is_one_clear_error():
    late = NoteSequence(notes=[Note(60, 80, 5.0, 6.0)])
    with pytest.raises(MidiConversionError, match="no notes in its first 4 s"):
        music.primer_from_sequence(MidiEventTokenizer(), late, 4.0, name="x.mid")
    with pytest.raises(ConfigError, match="--primer-seconds"):
        music.primer_from_sequence(MidiEventTokenizer(), late, 0.0)


def test_generate_events_stops_at_the_time_bound_and_sample_is_marked():
    tok = MidiEventTokenizer()
    primer = music.primer_from_sequence(tok, _seq(), 4.0)
    body = [int(t) for t in tok.encode(_seq())] * 5  # ~35 s of music
    tokens, ended = music.generate_events(FakeStream(body), primer.end_time, 3.0)
    assert not ended
    sample = music.build_sample(tok, primer, tokens, 3.0, ended)
    assert sample.sequence.end_time <= 7.0 + 1e-6
    assert sample.sequence.markers == [(pytest.approx(4.0), music.PRIMER_MARKER)]
    assert sample.sequence.tempo_bpm == 90.0 and sample.sequence.time_signature == (3, 4)
    tokens, ended = music.generate_events(FakeStream([TIME_SHIFT + 9, END]), 0.0, 30.0)
    assert ended and tokens[-1] == END


def test_note_events_match_the_whole_piece_decode():
    tok = MidiEventTokenizer()
    ids = [int(t) for t in tok.encode(_seq())]
    record: list[int] = []
    events = list(music.note_events(FakeStream(ids + [END]), record=record))
    assert record == ids + [END]
    ons = sorted((e.time, e.pitch) for e in events if e.is_on)
    assert ons == sorted((round(n.start, 2), n.pitch) for n in _seq().notes)
    offs = {e.pitch: e.time for e in events if not e.is_on}
    assert offs == {n.pitch: pytest.approx(n.end) for n in _seq().notes}


def test_note_events_bounded_by_seconds_close_hanging_notes():
    tok = MidiEventTokenizer()
    ids = [int(t) for t in tok.encode(_seq())]
    events = list(music.note_events(FakeStream(ids), seconds=3.5, start_time=1.0))
    assert max(e.time for e in events) <= 4.5 + 1e-9
    ons = [e for e in events if e.is_on]
    offs = [e for e in events if not e.is_on]
    assert len(ons) == len(offs) and min(e.time for e in ons) == pytest.approx(1.0)


def test_generate_tune_stops_at_the_blank_line():
    chars = sorted(set("M:3/4\nK:G\nabc|\n"))
    ids = [chars.index(c) for c in "M:4/4\nK:G\nabc|\n\nM:3/4"]
    text, ended = music.generate_tune(FakeStream(ids), chars, "", 100)
    assert ended and text == "M:4/4\nK:G\nabc|\n"
    text, ended = music.generate_tune(FakeStream(ids), chars, "", 5)
    assert not ended and text == "M:4/4"


def test_check_tune_reports_why():
    ok, seq = music.check_tune("M:4/4\nL:1/8\nK:G\nGABc d2e2|\n", "t1")
    assert ok is None and seq is not None and len(seq.notes) == 6
    err, seq = music.check_tune("M:4/4\nL:1/8\nabc\n", "t2")
    assert seq is None and "K:" in err


def test_abc_primer_is_put_in_record_form():
    text = "X:3\nT:A tune\nR:reel\nM:4/4\nL:1/8\nK:D\nDFA d2|\n"
    assert music.abc_primer_text(text, ("M", "L", "K")) == "M:4/4\nL:1/8\nK:D\nDFA d2|"
