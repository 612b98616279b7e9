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
    """Yields fixed tokens like a stream's steps (then END forever)."""

    seed = 0
    allow_end = True

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


def test_a_performance_stops_at_the_time_bound_and_its_sample_is_marked():
    tok = MidiEventTokenizer()
    primer = music.primer_from_sequence(tok, _seq(), 4.0)
    body = [int(t) for t in tok.encode(_seq())] * 5  # ~35 s of music
    performance = music.Performance(FakeStream(body), tok, primer, 3.0).run()
    assert performance.done and not performance.ended and performance.time == pytest.approx(7.0)
    sample = performance.sample()
    assert sample.sequence.end_time <= 7.0 + 1e-6
    assert sample.sequence.markers == [(pytest.approx(4.0), music.PRIMER_MARKER)]
    assert sample.sequence.tempo_bpm == 90.0 and sample.sequence.time_signature == (3, 4)
    ended = music.Performance(FakeStream([TIME_SHIFT + 9, END]), tok, music.empty_primer(tok), 30.0,
                              until_end=True).run()
    assert ended.ended and ended.tokens[-1] == END
    with pytest.raises(ConfigError, match="--seconds"):
        music.Performance(FakeStream([]), tok, primer, 0.0)


def test_a_performances_note_events_and_notes_match_the_whole_piece_decode():
    tok = MidiEventTokenizer()
    ids = [int(t) for t in tok.encode(_seq())]
    performance = music.Performance(FakeStream(ids + [END]), tok, music.empty_primer(tok), 60.0, until_end=True)
    events = [e for token_events in performance for e in token_events]
    assert performance.tokens == ids + [END] and performance.ended
    ons = sorted((e.time, e.pitch) for e in events if e.is_on)
    assert ons == sorted((round(n.start, 2), n.pitch) for n in _seq().notes)
    offs = {e.pitch: e.time for e in events if not e.is_on}
    assert offs == {n.pitch: pytest.approx(n.end) for n in _seq().notes}
    assert sorted((n.pitch, n.start, n.end) for n in performance.notes) == \
        sorted((n.pitch, pytest.approx(n.start), pytest.approx(n.end)) for n in _seq().notes)
    assert not performance.sounding


def test_a_bounded_performance_closes_hanging_notes_and_so_does_a_stop():
    tok = MidiEventTokenizer()
    ids = [int(t) for t in tok.encode(_seq())]
    primer = music.MusicPrimer([START], NoteSequence(), 1.0)
    performance = music.Performance(FakeStream(ids), tok, primer, 3.5)
    events = [e for token_events in performance for e in token_events]
    assert max(e.time for e in events) <= 4.5 + 1e-9
    ons = [e for e in events if e.is_on]
    offs = [e for e in events if not e.is_on]
    assert len(ons) == len(offs) and min(e.time for e in ons) == pytest.approx(1.0)
    stopped = music.Performance(FakeStream(ids), tok, music.empty_primer(tok), 30.0)
    while not stopped.sounding:
        next(stopped)
    sounding = {pitch for _, _, pitch in stopped.sounding}
    assert {e.pitch for e in stopped.close() if not e.is_on} == sounding
    assert stopped.done and not stopped.sounding and stopped.close() == []
    with pytest.raises(StopIteration):
        next(stopped)


def test_generate_tune_stops_at_the_blank_line():
    chars = sorted(set("M:3/4\nK:G\nabc|\n"))
    ids = [chars.index(c) for c in "M:4/4\nK:G\nabc|\n\nM:3/4"]
    text, ended = music.generate_tune(FakeStream(ids), chars, "", 100)
    assert ended and text == "M:4/4\nK:G\nabc|\n"
    text, ended = music.generate_tune(FakeStream(ids), chars, "", 5)
    assert not ended and text == "M:4/4"


def test_check_tune_reports_why():
    good = music.check_tune(music.TuneSample("M:4/4\nL:1/8\nK:G\nGABc d2e2|\n", True), "t1")
    assert good.parses and good.sequence is not None and len(good.sequence.notes) == 6
    bad = music.check_tune(music.TuneSample("M:4/4\nL:1/8\nabc\n", True), "t2")
    assert not bad.parses and bad.sequence is None and "K:" in bad.error


def test_abc_primer_is_put_in_record_form():
    text = "X:3\nT:A tune\nR:reel\nM:4/4\nL:1/8\nK:D\nDFA d2|\n"
    assert music.abc_primer_text(text, ("M", "L", "K")) == "M:4/4\nL:1/8\nK:D\nDFA d2|"
