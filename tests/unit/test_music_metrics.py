"""Musical metrics: exact values on tiny pieces; real chorales vs shuffled separate."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from genrnn.music import metrics as M
from genrnn.music import notation
from genrnn.music.notes import Note, NoteSequence


@lru_cache(maxsize=1)
def chorales() -> tuple[NoteSequence, ...]:
    return tuple(notation.load_score(p) for _, p in notation.chorale_paths(limit=24))


def seq(*notes: tuple[int, float, float]) -> NoteSequence:
    return NoteSequence([Note(p, 80, s, e) for p, s, e in notes])


def test_first_order_values_on_a_tiny_piece():
    # C major triad for 1 s, a rest of 1 s, then D for 1 s.
    s = seq((60, 0, 1), (64, 0, 1), (67, 0, 1), (62, 2, 3))
    assert M.pitch_class_entropy(s) == pytest.approx(2.0)
    assert M.scale_consistency(s) == 1.0
    assert M.polyphony(s) == pytest.approx(4 / 2)
    assert M.note_density(s) == pytest.approx(4 / 3)
    assert M.pitch_range(s) == 7
    assert M.empty_time_ratio(s) == pytest.approx(1 / 3)
    chromatic = seq(*[(60 + i, i, i + 1) for i in range(12)])
    assert M.pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))
    assert M.scale_consistency(chromatic) == pytest.approx(7 / 12)


def test_top_voice_skips_held_notes_and_lower_voices():
    # soprano 72 held over two bass notes, then 74; bass 48 → 50
    s = seq((72, 0, 2), (48, 0, 1), (50, 1, 2), (74, 2, 3), (52, 2, 3))
    assert M.top_voice(s) == [72, 74]
    hist = M.interval_histogram([s])
    assert hist[M.MAX_INTERVAL + 2] == 1.0


def test_consonance_counts_pairs_at_onsets():
    # C-E-G (all consonant pairs: 4, 7, 3) then C-C#: one dissonant pair
    s = seq((60, 0, 1), (64, 0, 1), (67, 0, 1), (60, 1, 2), (61, 1, 2))
    assert M.consonance_counts(s) == (3, 4)
    assert M.vertical_consonance([s]) == pytest.approx(0.75)


def test_overlap_of_histograms():
    p = np.array([0.5, 0.5, 0.0])
    assert M.histogram_overlap(p, p) == 1.0
    assert M.histogram_overlap(p, np.array([0.0, 0.0, 1.0])) == 0.0


def test_empty_inputs_do_not_crash():
    empty = NoteSequence()
    assert M.summary([empty])["polyphony"] == 0.0
    assert M.interval_histogram([empty]).sum() == 0


def test_real_halves_agree_and_shuffled_separates():
    pieces = chorales()
    a, b = pieces[0::2], pieces[1::2]
    real = M.compare(a, b)
    rng = np.random.default_rng(0)
    shuffled = M.compare([M.shuffled_pitches(s, rng) for s in a], b)
    for name in ("pitch_class_entropy", "scale_consistency", "polyphony"):
        assert abs(real[name]["rel_diff"]) < 0.05
        assert shuffled[name]["generated"] == pytest.approx(real[name]["generated"])  # first order kept
    assert real["top_voice_interval_overlap"]["overlap"] > 0.9
    assert shuffled["top_voice_interval_overlap"]["overlap"] < real["top_voice_interval_overlap"]["overlap"] - 0.2
    assert 0.82 < real["vertical_consonance"]["real"] < 0.93
    assert shuffled["vertical_consonance"]["generated"] < real["vertical_consonance"]["real"] - 0.1
    for side in ("generated", "real", "abs_diff", "rel_diff"):
        assert side in real["note_density"]


def test_random_diatonic_stays_in_c_major_and_voice_ranges():
    s = chorales()[0]
    r = M.random_diatonic(s, np.random.default_rng(1))
    assert M.scale_consistency(r) == 1.0
    assert len(r) == len(s)
    assert min(n.pitch for n in r.notes) >= min(n.pitch for n in s.notes)


def test_time_at_polyphony_and_piece_voices():
    seq = NoteSequence([Note(60, 80, 0.0, 2.0), Note(64, 80, 0.5, 1.0), Note(67, 80, 0.5, 1.5),
                        Note(72, 80, 3.0, 4.0)])
    # 0-0.5: one; 0.5-1.0: three; 1.0-1.5: two; 1.5-2.0: one; 2.0-3.0: none; 3.0-4.0: one
    np.testing.assert_allclose(M.time_at_polyphony(seq), [1.0, 2.0, 0.5, 0.5])
    assert M.time_at_polyphony(NoteSequence([])) == [0.0]
    assert notation.piece_voices(seq) == "3"
    blip = NoteSequence(seq.notes + [Note(76, 80, 0.6, 0.65)])  # four at once for 50 ms only
    assert notation.piece_voices(blip) == "3"
    assert "voices=4" in notation.label_vocabulary(["voices"])
