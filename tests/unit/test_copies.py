"""The copy check (genrnn/analysis/copies.py) on cases whose answer is known: the suffix array and
matching statistics against brute force, a transposed and stretched copy of a chorale-like
passage written to MIDI and read back, and a line of a real text file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrnn import session
from genrnn.analysis.copies import (
    MusicCopies,
    SuffixIndex,
    TextCopies,
    copy_section,
    held_out_windows,
    links_of,
    suffix_array,
)
from genrnn.music.midi_io import read_midi, write_midi
from genrnn.music.notes import Note, NoteSequence

SIXTEENTH = 0.15  # seconds: quarter notes at 100 bpm, the chorales' tempo


def test_suffix_array_sorts_every_suffix():
    rng = np.random.default_rng(0)
    for _ in range(150):
        codes = rng.integers(0, rng.integers(1, 5), rng.integers(1, 60))
        expected = sorted(range(len(codes)), key=lambda i: codes[i:].tolist())
        assert suffix_array(codes).tolist() == expected


def _longest_prefix_in(text: list[int], probe: list[int]) -> int:
    best = 0
    for n in range(1, len(probe) + 1):
        if any(text[j: j + n] == probe[:n] for j in range(len(text) - n + 1)):
            best = n
    return best


@pytest.mark.parametrize("top", [3, 300, 70_000])  # one, two and four bytes a code
def test_matching_statistics_agree_with_brute_force(top: int):
    rng = np.random.default_rng(top)
    for _ in range(40):
        text = rng.integers(0, 3, rng.integers(1, 50)) * (top // 3)
        query = rng.integers(0, 3, 12) * (top // 3)
        lengths, sources = SuffixIndex(text).matching_statistics(query)
        for i in range(len(query)):
            assert lengths[i] == _longest_prefix_in(text.tolist(), query[i:].tolist())
            if lengths[i]:
                assert text[sources[i]: sources[i] + lengths[i]].tolist() == query[i: i + lengths[i]].tolist()


def test_text_copy_of_a_real_file_is_found_exactly(tmp_path: Path):
    from tests.conftest import make_text

    path = tmp_path / "plays.txt"
    path.write_text(make_text(300, seed=4), encoding="utf-8")
    corpus = session.prepare_corpus(text=path)
    tok = corpus.tokenizer
    train = tok.decode(np.asarray(corpus.train).tolist())
    line = train[2000:2037]
    # a character on each side with which the line is nowhere in the training split: no copy runs on
    left = next(c for c in tok.chars if c + line not in train)
    right = next(c for c in tok.chars if line + c not in train)
    sample = left + line + right
    copy = TextCopies(np.asarray(corpus.train), tok).check(sample)
    assert copy.chars == 37 and copy.text in train and copy.text in sample
    assert train[copy.source_start: copy.source_start + copy.chars] == copy.text
    assert TextCopies(np.asarray(corpus.train), tok).check(tok.encode(sample)) == copy  # ids or text alike
    # held-out windows: the real reference, as long as the samples
    real = held_out_windows(np.asarray(corpus.val), 3, 200)
    assert len(real) == 3 and all(len(w) == 200 for w in real)


def _chords(pitches: np.ndarray, first_beat: int) -> list[Note]:
    """One chord a beat (a row of ``pitches``), each a quarter note long."""
    return [Note(int(p), 80, (first_beat + b) * 4 * SIXTEENTH, (first_beat + b + 1) * 4 * SIXTEENTH)
            for b, row in enumerate(pitches) for p in row]


def _line(pitches: list[int], start: float) -> list[Note]:
    """Single notes, dotted eighth and 16th by turns: no training piece here has either."""
    onsets = start + SIXTEENTH * np.cumsum([0] + [3 if i % 2 == 0 else 1 for i in range(len(pitches))])
    return [Note(p, 80, float(onsets[i]), float(onsets[i + 1])) for i, p in enumerate(pitches)]


def _midi_round_trip(seq: NoteSequence, path: Path) -> NoteSequence:
    write_midi(seq, path)
    return read_midi(path)


@pytest.fixture()
def training(tmp_path: Path) -> list[tuple[str, NoteSequence]]:
    rng = np.random.default_rng(7)
    pieces = []
    for n in range(3):
        chords = np.sort(rng.choice(np.arange(48, 76), size=(32, 3), replace=True), axis=1)
        chords[:, 1] += chords[:, 0] == chords[:, 1]  # three distinct pitches a chord
        chords[:, 2] += 2 * (chords[:, 1] >= chords[:, 2])
        seq = NoteSequence(_chords(chords, 0))
        pieces.append((f"chorale{n}", _midi_round_trip(seq, tmp_path / f"train{n}.mid")))
    return pieces


def test_a_transposed_stretched_copy_is_found_with_its_length(training, tmp_path: Path):
    """Beats 8-15 of a training piece (8 chords of 3 notes), up a fourth and 5% slower, between
    lines no training piece has (written to MIDI and read back): exactly 24 notes and 8 beats."""
    source = training[1][1]
    copied = [n for n in source.notes if 8 * 4 * SIXTEENTH - 1e-6 <= n.start < 16 * 4 * SIXTEENTH - 1e-6]
    assert len(copied) == 24
    offset = 6 * 4 * SIXTEENTH - copied[0].start  # after 12 notes of the line: 6 beats
    moved = [Note(n.pitch + 5, n.velocity, n.start + offset, n.end + offset) for n in copied]
    before = _line([60, 62, 64, 65, 67, 65, 64, 62, 60, 59, 57, 55], 0.0)
    after = _line([72, 71, 69, 67, 65, 64, 62, 60], moved[-1].end)
    piece = NoteSequence(before + moved + after).stretched(1.05)
    piece = _midi_round_trip(piece, tmp_path / "generated.mid")
    assert piece.tempo_bpm and abs(links_of(piece).sixteenth - SIXTEENTH * 1.05) < 1e-3  # the file's tempo is not used
    copy = MusicCopies(training).check(piece)
    assert copy.events == 24 and copy.beats == 8.0
    assert copy.source == "chorale1" and copy.source_beat == 8.0
    assert copy.seconds == pytest.approx(6 * 4 * SIXTEENTH * 1.05, abs=0.01)
    assert copy.until == pytest.approx(copy.seconds + 8 * 4 * SIXTEENTH * 1.05, abs=0.02)


def test_chords_read_the_same_whatever_order_the_notes_come_in(training):
    """A chord is read bottom up: a piece whose chords' notes start a few ms apart, top first,
    is the same piece; a piece of only new music copies nothing longer than a chord or two."""
    source = training[0][1]
    jitter = NoteSequence([Note(n.pitch, n.velocity, n.start + (0.004 if n.pitch == min(
        m.pitch for m in source.notes if abs(m.start - n.start) < 1e-6) else 0.0), n.end) for n in source.notes])
    checker = MusicCopies(training)
    whole = checker.check(jitter)
    assert whole.events == len(source.notes) and whole.beats == 32.0
    lines = NoteSequence(_line(list(range(50, 80)), 0.0))
    assert checker.check(lines).events == 0
    assert checker.check(NoteSequence()).beats == 0.0


def test_copy_section_counts_past_the_limit(training):
    checker = MusicCopies(training)
    section = copy_section(checker, [training[0][1], NoteSequence(_line(list(range(50, 70)), 0.0))],
                           [training[2][1].clipped(10.0)], 8.0, "three chorales", "one piece")
    gen = section["summary"]["generated"]
    assert [r["beats"] for r in section["generated"]] == [32.0, 0.0]
    assert gen["over_limit"] == 1 and gen["beats"]["max"] == 32.0 and gen["events"]["max"] == 96
    # itself, cut at 10 s: 16 whole beats; the 17th chord, cut to 2.7 16ths, is not the one it copies
    assert section["real"][0]["beats"] == 16.0 and section["real"][0]["events"] == 48


def test_training_pieces_are_named_right_though_the_records_are_shuffled(tmp_path: Path):
    """A folder recipe of 8 MIDI files of 3..10 notes: each training piece comes back with its
    own file's name (the prepared training records are in a shuffled order)."""
    from genrnn.analysis.copies import training_pieces

    folder = tmp_path / "midi"
    folder.mkdir()
    for n in range(3, 11):
        write_midi(NoteSequence(_line([60 + i % 5 for i in range(n)], 0.0)), folder / f"piece{n:02d}.mid")
    recipe = tmp_path / "mine.toml"
    recipe.write_text(f'source = "folder"\nfolder = "{folder}"\ntokenizer = "midi_events"\nval_percent = 20\n'
                      'transpose = [-2, 2]\nstretch = [0.9, 1.0]\n')
    pieces = training_pieces(recipe)
    assert 2 <= len(pieces) < 8
    assert all(len(seq.notes) == int(name.removesuffix(".mid")[-2:]) for name, seq in pieces), \
        [(name, len(seq.notes)) for name, seq in pieces]


def test_a_tune_harmonised_anew_is_a_copy_of_its_top_line(training, tmp_path: Path):
    """The top line of a training piece under new lower voices: hardly a copy of all the voices,
    a whole copy of the tune (32 beats, one note a beat) through ``top_line``."""
    from genrnn.analysis.copies import top_line
    from genrnn.music.metrics import top_voice

    source = training[2][1]
    tune = top_line(source)
    assert [n.pitch for n in tune.notes] == top_voice(source) and len(tune.notes) == 32
    rng = np.random.default_rng(3)
    lower = [Note(int(p), 80, n.start, n.end) for n in tune.notes for p in n.pitch - rng.choice(np.arange(3, 20), 2, False)]
    anew = _midi_round_trip(NoteSequence([*tune.notes, *lower]).transposed(-2), tmp_path / "anew.mid")
    assert MusicCopies(training).check(anew).beats < 4
    melody = MusicCopies([(name, top_line(seq)) for name, seq in training]).check(top_line(anew))
    assert melody.beats == 32.0 and melody.events == 32 and melody.source == "chorale2"
