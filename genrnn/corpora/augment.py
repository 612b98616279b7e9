"""Data augmentation, in one place: the tempo stretches and transpositions every genrnn model
learns from. A recipe's ``stretch`` and ``transpose`` fields name them; the language models'
records, the critic's real pieces, the classifier's crops and the harmonizer's chorales all take
them from here. Held-out pieces are never augmented."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrnn.music import voices as V
from genrnn.music.notes import NoteSequence
from genrnn.tokenizers.midi_events import STEP_SECONDS, MidiEventTokenizer


def record_variants(stretch: Sequence[float], transpose: tuple[int, int]) -> list[tuple[float, int]]:
    """Every (tempo factor, semitones) a training piece is written out as, one record each."""
    return [(float(s), t) for s in stretch for t in range(transpose[0], transpose[1] + 1)]


GRID_SHARE = 0.97  # onsets on multiples of a unit for it to be the piece's grid
MIN_GRID_TICKS = 5  # a finer grid than 50 ms is no score's: a performance keeps its factor


def grid_ticks(seq: NoteSequence, tick: float = STEP_SECONDS) -> float | None:
    """The piece's 16th in ticks: from its written tempo, else the coarsest unit (≥
    ``MIN_GRID_TICKS``) that ``GRID_SHARE`` of its onsets are whole multiples of (a score
    decoded from events has lost its tempo but not its grid); None for a performance."""
    if seq.tempo_bpm:
        return 15.0 / seq.tempo_bpm / tick
    steps = np.unique(np.round(np.array([n.start for n in seq.notes]) / tick).astype(int))
    if len(steps) < 8:
        return None
    steps = steps - steps[0]
    for unit in range(min(int(steps[-1]), 96), MIN_GRID_TICKS - 1, -1):
        if (steps % unit == 0).mean() >= GRID_SHARE:
            return float(unit)
    return None


def on_ticks(seq: NoteSequence, factor: float, tick: float = STEP_SECONDS) -> float:
    """The stretch nearest ``factor`` that keeps a piece's grid a whole number of ticks.

    A chorale (a 16th of 0.15 s) stretched by 0.95 has a 16th of 0.1425 s, which the event
    tokenizer's 10 ms steps write as 0.14 or 0.15 s by turns: the stretched records were
    unsteady, and a model trained on them drifted between tempos (issue 18). 0.95 becomes 14/15
    here (a 16th of 0.14 s), 1.05 becomes 16/15. A MIDI file's first tempo counts as written (a
    quantised song gains, a played one loses nothing: its factor moves by less than a tick a
    16th); a piece with neither a tempo nor a grid in its onsets keeps the factor. A factor
    that would round to no stretch moves one tick the asked way."""
    unit = grid_ticks(seq, tick) if factor != 1.0 else None
    if unit is None:
        return factor
    ticks = round(unit * factor)
    if ticks == round(unit):
        ticks += 1 if factor > 1 else -1
    return max(ticks, 1) / unit


def stretched(seq: NoteSequence, factor: float) -> NoteSequence:
    """``seq`` played ``factor`` times slower, the factor kept on the tick grid (``on_ticks``)."""
    return seq.stretched(on_ticks(seq, factor)) if factor != 1.0 else seq


def random_variant(seq: NoteSequence, stretch: Sequence[float], transpose: tuple[int, int],
                   rng: np.random.Generator) -> NoteSequence:
    """One of those variants of ``seq``, drawn at random (no transposition when a pitch would
    leave 0..127): a real piece played the way a model trained on the recipe heard it."""
    factor = float(rng.choice(list(stretch)))
    semis = int(rng.integers(transpose[0], transpose[1] + 1))
    pitches = [n.pitch for n in seq.notes]
    if not pitches or min(pitches) + semis < 0 or max(pitches) + semis > 127:
        semis = 0
    seq = stretched(seq, factor)
    return seq.transposed(semis) if semis else seq


def transposed_ids(tokenizer: MidiEventTokenizer, ids: np.ndarray, max_semis: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Event ids moved by a random -max_semis..max_semis semitones, and the shift (0 when a
    pitch would leave 0..127: the ids as they were)."""
    if not max_semis:
        return ids, 0
    shift = int(rng.integers(-max_semis, max_semis + 1))
    moved = tokenizer.transpose_ids(ids, shift)
    return (ids, 0) if moved is None else (moved, shift)


def random_key(tokens: np.ndarray, transpose: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A chorale on the harmonizer's grid (genrnn/music/voices.py) moved to a random key in the
    ``transpose`` range that keeps every voice on the grid."""
    shift = int(rng.choice(V.transpositions(tokens, *transpose)))
    return V.transpose_tokens(tokens, shift)
