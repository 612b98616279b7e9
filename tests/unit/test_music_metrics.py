"""Musical metrics: exact values on tiny pieces; real chorales vs shuffled separate."""

from __future__ import annotations

import math
from dataclasses import replace
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


def test_onset_grid_share_tells_a_steady_piece_from_one_that_drifts():
    """Eighths and quarters at one tempo lie on the piece's grid; the same rhythm 5 % slower
    from the middle on does not (the drift the chorale model's stretches caused)."""
    rng = np.random.default_rng(0)
    lengths = rng.choice([0.3, 0.6], size=40, p=[0.7, 0.3])
    steady_onsets = np.concatenate([[0.0], np.cumsum(lengths)])
    drift = np.concatenate([lengths[:20], lengths[20:] * 1.05])
    drifting_onsets = np.concatenate([[0.0], np.cumsum(drift)])
    steady = seq(*[(60 + i % 5, t, t + 0.3) for i, t in enumerate(steady_onsets)])
    drifting = seq(*[(60 + i % 5, t, t + 0.3) for i, t in enumerate(drifting_onsets)])
    assert M.onset_grid_share(steady) == 1.0
    assert 0.4 < M.onset_grid_share(drifting) < 0.6  # the slower half is off the grid
    chord = seq((60, 0, 1), (64, 0.004, 1), (67, 0.6, 1))  # onsets within a tick are one
    assert M.onset_grid_share(chord) == 1.0
    # Chorales whose 16th is a whole number of 10 ms steps (100 bpm: 0.15 s) are steady; one
    # written at 90 bpm (a 16th of 0.1667 s, in steps 0.16 or 0.17 by turns) is not.
    shares = {round(15 / c.tempo_bpm, 4): M.onset_grid_share(c) for c in chorales()[:8]}
    assert shares[0.15] == 1.0 and shares[0.1667] < 0.7


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


# ---------------------------------------------------------------- instruments and drums

KICK, SNARE, HAT = 36, 38, 42


def drum(pitch: int, start: float, length: float = 0.05) -> Note:
    return Note(pitch, 100, start, start + length, 0, True)


def beat(bars: int, sixteenth: float, offset: float = 0.0, pattern: dict[int, tuple[int, ...]] | None = None,
         hats: bool = True) -> list[Note]:
    """Drum hits: per bar, ``pattern[bar]`` (else the first one) of kick steps, snares at 4 and
    12, hats on every other 16th."""
    pattern = pattern or {}
    notes = []
    for bar in range(bars):
        kicks = pattern.get(bar, pattern.get(0, (0, 8)))
        for step in range(16):
            t = offset + (bar * 16 + step) * sixteenth
            if step in kicks:
                notes.append(drum(KICK, t))
            if step in (4, 12):
                notes.append(drum(SNARE, t))
            if hats and step % 2 == 0:
                notes.append(drum(HAT, t, 0.02))
    return notes


def test_instrument_stats_per_family_and_drums():
    # 4 s: a bass (program 33) plays two notes an octave apart, a piano holds one, drums hit
    # every second for 0.1 s.
    s = NoteSequence([Note(40, 80, 0, 1, 33), Note(52, 80, 2, 3, 33), Note(60, 80, 0, 4, 0)]
                     + [drum(KICK, t, 0.1) for t in range(4)])
    stats = M.instrument_stats(s)
    assert list(stats) == ["drums", "piano", "bass"]  # drums first, then GM family order
    assert stats["bass"] == pytest.approx({"notes": 2, "note_density": 0.5, "time_share": 0.5, "pitch_range": 12})
    assert stats["piano"] == pytest.approx({"notes": 1, "note_density": 0.25, "time_share": 1.0, "pitch_range": 0})
    assert stats["drums"] == pytest.approx({"notes": 4, "note_density": 1.0, "time_share": 0.1})
    assert M.instrument_stats(NoteSequence()) == {}


def test_drum_grid_share_on_the_tempos_grid():
    notes = [drum(KICK, k * 0.125) for k in range(16)]  # 16ths at 120 bpm
    notes[1] = drum(KICK, 0.125 + 0.01)  # 10 ms late: still on the grid (tolerance 15.6 ms)
    for k in (3, 5, 7, 9):
        notes[k] = drum(KICK, k * 0.125 + 0.05)  # 50 ms late: off
    s = NoteSequence(notes, tempo_bpm=120.0)
    grid = M.sixteenth_grid(s)
    assert grid == M.Grid(0.125, 0.0, 16)
    assert M.drum_grid_share(s) == pytest.approx(12 / 16)
    assert M.drum_grid_share(NoteSequence([Note(60, 80, 0, 1)], tempo_bpm=120.0)) is None  # no drums


def test_grid_is_estimated_from_the_drums_without_a_tempo():
    sixteenth = 60 / 110 / 4  # 110 bpm, starting 0.37 s in, times on the tokenizer's 10 ms steps
    notes = [replace(n, start=round(n.start, 2), end=round(n.end, 2))
             for n in beat(8, sixteenth, offset=0.37, pattern={0: (0, 8, 10)})]
    s = NoteSequence(notes)
    grid = M.sixteenth_grid(s)
    assert grid is not None and grid.estimated
    assert grid.step == pytest.approx(sixteenth, abs=2e-4)
    assert grid.origin == pytest.approx(0.37, abs=0.006)  # the first bar starts at the first hit
    assert M.drum_grid_share(s) == 1.0
    assert M.kick_snare_repetition(s) == (1.0, 1.0)
    # a slow piece (80 bpm) is measured on its 32nds, which hold every 16th
    slow = NoteSequence(beat(4, 60 / 80 / 4))
    assert M.sixteenth_grid(slow).step == pytest.approx(60 / 80 / 8, abs=1e-4)
    assert M.drum_grid_share(slow) == 1.0
    assert M.sixteenth_grid(NoteSequence([drum(KICK, t) for t in (0, 0.5, 1.0)])) is None  # too few hits


def test_scattered_hits_are_rarely_on_a_grid():
    rng = np.random.default_rng(0)
    s = NoteSequence([drum(KICK, round(t, 2)) for t in np.sort(rng.uniform(0, 20, 150))])
    assert M.drum_grid_share(s) < 0.45  # a quarter by chance, a little more once a grid is fitted to them


def test_kick_snare_repetition_bar_to_bar():
    # four bars at 120 bpm: bar 2 adds a kick on step 10
    s = NoteSequence(beat(4, 0.125, pattern={0: (0, 8), 2: (0, 8, 10)}), tempo_bpm=120.0)
    bars = M.kick_snare_bars(s)
    assert bars[0] == {("kick", 0), ("kick", 8), ("snare", 4), ("snare", 12)}
    assert bars[2] == bars[0] | {("kick", 10)}
    same, jaccard = M.kick_snare_repetition(s)
    assert same == pytest.approx(1 / 3)  # bar 1 repeats bar 0; bars 2 and 3 differ from the one before
    assert jaccard == pytest.approx((1 + 4 / 5 + 4 / 5) / 3)
    # a bar of hats alone between two equal bars: both of its pairs differ wholly
    gap = NoteSequence(beat(1, 0.125) + [drum(HAT, 2 + k * 0.25) for k in range(8)]
                       + [replace(n, start=n.start + 4, end=n.end + 4) for n in beat(1, 0.125)], tempo_bpm=120.0)
    assert M.kick_snare_repetition(gap) == (0.0, 0.0)
    assert M.kick_snare_repetition(NoteSequence(beat(1, 0.125), tempo_bpm=120.0)) is None  # one bar


def test_bars_follow_the_metre():
    waltz = NoteSequence([drum(KICK, bar * 1.5) for bar in range(4)] + [drum(SNARE, bar * 1.5 + 0.5) for bar in range(4)],
                         tempo_bpm=120.0, time_signature=(3, 4))
    assert M.sixteenth_grid(waltz).steps_per_bar == 12
    assert M.kick_snare_bars(waltz) == [frozenset({("kick", 0), ("snare", 4)})] * 4
    assert M.kick_snare_repetition(waltz) == (1.0, 1.0)


def test_compare_adds_band_rows_only_for_band_music():
    chorale = seq((60, 0, 1), (64, 0, 1), (67, 1, 2))
    plain = M.compare([chorale], [chorale])
    assert set(plain) == {*M.FIRST_ORDER, "vertical_consonance", "top_voice_interval_overlap", "pieces"}
    song = NoteSequence(beat(2, 0.125) + [Note(40, 80, 0, 4, 33)], tempo_bpm=120.0)  # drums and a bass
    trio = NoteSequence(song.notes + [Note(72, 80, 0, 2, 40)], tempo_bpm=120.0)  # and a violin for 2 s
    out = M.compare([trio], [song, song])
    assert out["time_share/strings"] == {"generated": 0.5, "real": 0.0, "abs_diff": 0.5, "rel_diff": 1.0}
    assert out["note_density/bass"]["generated"] == out["note_density/bass"]["real"] == pytest.approx(1 / 4)
    assert out["drum_grid_share"]["generated"] == out["drum_grid_share"]["real"] == 1.0
    assert out["drum_pieces"] == {"generated": 1.0, "real": 2.0}
    assert "pitch_range/drums" not in out
    names = [k for k in out if "/" in k]
    assert names[0] == "note_density/drums" and names[-1] == "time_share/strings"
    assert M.by_abs_diff("time_share/bass") and M.by_abs_diff("drum_grid_share")
    assert not M.by_abs_diff("note_density/bass")
    for row in (v for k, v in out.items() if k not in M.COUNTS and k != "top_voice_interval_overlap"):
        assert set(row) == {"generated", "real", "abs_diff", "rel_diff"}


def test_eval_table_lists_band_rows_after_the_chorale_ones():
    from rich.console import Console

    from genrnn.cli.evaluate import _metrics_table

    song = NoteSequence(beat(2, 0.125) + [Note(40, 80, 0, 4, 33)], tempo_bpm=120.0)
    console = Console(width=120, record=True)
    console.print(_metrics_table({"metrics": M.compare([song], [song]), "seconds_per_sample": 4.0}, 1))
    text = console.export_text()
    assert text.index("vertical consonance") < text.index("drums: note density") < text.index("bass: pitch range")
    assert "bass: time share" in text and "kick snare repeat" in text and "pieces with drums (1 generated, 1 real)" in text
    chorale = seq((60, 0, 1), (64, 0, 1), (67, 1, 2))
    console = Console(width=120, record=True)
    console.print(_metrics_table({"metrics": M.compare([chorale], [chorale]), "seconds_per_sample": 2.0}, 1))
    assert ":" not in console.export_text().split("metric", 1)[1]  # no per-instrument rows
