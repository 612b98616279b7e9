"""Hand-made features of one excerpt: what a second, independent critic reads.

The neural critic (training/classifier.py) reads performance events and may key on one
artefact; these are the statistics a musician would name, one number each, so that a critic
that separates real from generated on them says *what* differs. Every feature is invariant to
transposition and independent of the excerpt's length (rates, shares, means), except pitch
range, which is the range of the excerpt. Pure NumPy on a ``NoteSequence``; drums are left out.

Groups: pitch (range, spread, pitch-class entropy, scale), texture (polyphony, time at four and
at five or more voices, empty time, density of notes and of onsets, notes per onset, onsets and
releases shared), durations (log mean and spread, share held a second or more: fermatas),
onsets (log inter-onset mean and spread, share on the excerpt's own grid, distinct
inter-onset values), the top and bottom lines (steps, leaps, repeats, direction
changes) and the harmony (consonant pairs), velocity (mean, spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from genrnn.music import metrics
from genrnn.music.notes import Note, NoteSequence

FEATURES = (
    "pitch_range", "pitch_std", "pitch_class_entropy", "scale_consistency",
    "polyphony", "time_at_4", "time_at_5_plus", "empty_time", "note_density", "onset_density",
    "notes_per_onset", "chord_onset_share", "shared_release_share",
    "duration_log_mean", "duration_log_std", "held_1s_share",
    "ioi_log_mean", "ioi_log_std", "ioi_grid_share", "ioi_distinct_share",
    "top_step_share", "top_leap_share", "top_repeat_share", "top_mean_abs_interval", "top_turn_share",
    "bass_step_share", "bass_leap_share", "bass_mean_abs_interval",
    "consonance", "velocity_mean", "velocity_std",
)
TICK = metrics.TICK
MIN_DURATION = 1e-6  # shorter notes (a float's rounding at a cut) are not notes


def excerpt_features(seq: NoteSequence) -> np.ndarray:
    """``FEATURES`` of one excerpt, as float64 (all zeros for an excerpt without notes)."""
    notes = [n for n in seq.notes if not n.is_drum and n.duration >= MIN_DURATION]
    if not notes:
        return np.zeros(len(FEATURES))
    seq = NoteSequence(notes)
    pitches = np.array([n.pitch for n in notes], float)
    durations = np.array([max(n.duration, TICK) for n in notes])
    onsets = metrics.distinct_onsets(np.array([n.start for n in notes]))
    releases = np.round(np.array([n.end for n in notes]) / TICK).astype(int)
    ioi = np.diff(onsets)
    span = max(seq.end_time - onsets[0], TICK)
    at = np.asarray(metrics.time_at_polyphony(seq))
    sounding = max(float(at[1:].sum()), TICK)
    good, pairs = metrics.consonance_counts(seq)
    starts = np.round(np.array([n.start for n in notes]) / TICK).astype(int)
    per_onset = np.unique(starts, return_counts=True)[1]
    velocity = np.array([n.velocity for n in notes], float)
    values = {
        "pitch_range": metrics.pitch_range(seq),
        "pitch_std": float(pitches.std()),
        "pitch_class_entropy": metrics.pitch_class_entropy(seq),
        "scale_consistency": metrics.scale_consistency(seq),
        "polyphony": metrics.polyphony(seq),
        "time_at_4": float(at[4] / sounding) if len(at) > 4 else 0.0,
        "time_at_5_plus": float(at[5:].sum() / sounding),
        "empty_time": metrics.empty_time_ratio(seq),
        "note_density": metrics.note_density(seq),
        "onset_density": len(onsets) / span,
        "notes_per_onset": float(per_onset.mean()),
        "chord_onset_share": float((per_onset >= 3).mean()),
        "shared_release_share": float((np.unique(releases, return_counts=True)[1] >= 2).mean()),
        "duration_log_mean": float(np.log(durations).mean()),
        "duration_log_std": float(np.log(durations).std()),
        "held_1s_share": float((durations >= 1.0).mean()),
        "ioi_log_mean": float(np.log(ioi).mean()) if ioi.size else 0.0,
        "ioi_log_std": float(np.log(ioi).std()) if ioi.size else 0.0,
        "ioi_grid_share": metrics.ioi_grid_share(ioi),
        "ioi_distinct_share": float(len(np.unique(np.round(ioi / TICK))) / ioi.size) if ioi.size else 0.0,
        **_line_features("top", metrics.top_voice(seq)),
        **_line_features("bass", bottom_voice(notes)),
        "consonance": good / pairs if pairs else 1.0,
        "velocity_mean": float(velocity.mean()),
        "velocity_std": float(velocity.std()),
    }
    return np.array([values[name] for name in FEATURES], float)


def feature_matrix(seqs: Sequence[NoteSequence]) -> np.ndarray:
    """(pieces, len(FEATURES)) for many excerpts."""
    return np.stack([excerpt_features(s) for s in seqs]) if seqs else np.zeros((0, len(FEATURES)))


def windows(seq: NoteSequence, seconds: float) -> list[NoteSequence]:
    """``seq`` as excerpts of ``seconds`` back to back, the last one ending where the piece
    does (so it may overlap the one before); each holds the notes that start in it, cut at its
    end and moved to start at 0. A piece no longer than ``seconds`` is one excerpt."""
    end = seq.end_time
    if end <= seconds:
        return [seq]
    starts = [*np.arange(0.0, end - seconds, seconds), end - seconds]
    return [NoteSequence([replace(n, start=n.start - a, end=min(n.end, a + seconds) - a)
                          for n in seq.notes if a <= n.start < a + seconds]) for a in starts]


def bottom_voice(notes: Sequence[Note]) -> list[int]:
    """The bass line, roughly: the lowest pitch struck at each onset."""
    by_onset: dict[int, int] = {}
    for n in notes:
        t = round(n.start / TICK)
        by_onset[t] = min(by_onset.get(t, 128), n.pitch)
    return [by_onset[t] for t in sorted(by_onset)]


def _line_features(prefix: str, line: Sequence[int]) -> dict[str, float]:
    steps = np.diff(np.asarray(line, float))
    size = np.abs(steps)
    out = {f"{prefix}_step_share": float(((size >= 1) & (size <= 2)).mean()) if steps.size else 0.0,
           f"{prefix}_leap_share": float((size >= 5).mean()) if steps.size else 0.0,
           f"{prefix}_mean_abs_interval": float(size.mean()) if steps.size else 0.0}
    if prefix == "top":
        moving = np.sign(steps[steps != 0])
        out["top_repeat_share"] = float((size == 0).mean()) if steps.size else 0.0
        out["top_turn_share"] = float((moving[1:] != moving[:-1]).mean()) if moving.size > 1 else 0.0
    return out


