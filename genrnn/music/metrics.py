"""Musical statistics of note sequences, and generated-vs-real comparison. Pure numpy.

First-order statistics (pitch-class entropy, scale consistency, polyphony, note density,
pitch range, empty-time ratio) are matched even by real pieces whose pitches are shuffled in
time; the second-order ones tell music from noise: the top voice's melodic-interval histogram
(compared by overlap = sum of bin-wise minima) and vertical consonance (the share of
simultaneously sounding note pairs a consonant interval apart). Drums are ignored by all of these.

Band music (drums, or two instrument groups or more) adds, per instrument group (a GM family
or the drums), note density, pitch range and the share of the piece the group sounds, and for
the drums the share of hits on the 16th grid and how often the kick/snare pattern repeats
from bar to bar ("Instruments and drums" below; ``compare`` adds them only for band music, so
the chorale figures are what they were).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from genrnn.music.instruments import FAMILIES, KICKS, SNARES, group_name
from genrnn.music.notes import Note, NoteSequence

MAX_INTERVAL = 12  # top-voice intervals are clipped to ±an octave: 25 bins
# unison/octave, thirds, fourth, fifth, sixths (the fourth counts: between upper voices it is
# consonant, and this set reproduces the reference figures 0.86 real / 0.68 shuffled)
CONSONANT_CLASSES = frozenset({0, 3, 4, 5, 7, 8, 9})
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
FIRST_ORDER = (
    "pitch_class_entropy",
    "scale_consistency",
    "polyphony",
    "note_density",
    "pitch_range",
    "empty_time_ratio",
    "onset_grid_share",
)


def _pitched(seq: NoteSequence) -> list[Note]:
    return [n for n in seq.notes if not n.is_drum]


# ---------------------------------------------------------------- first order


def pitch_class_entropy(seq: NoteSequence) -> float:
    """Entropy (bits) of the note-count pitch-class histogram; 0..log2(12)."""
    counts = np.bincount([n.pitch % 12 for n in _pitched(seq)], minlength=12).astype(float)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def scale_consistency(seq: NoteSequence) -> float:
    """Largest share of notes that fall in one major (= relative natural minor) scale."""
    pcs = np.array([n.pitch % 12 for n in _pitched(seq)])
    if pcs.size == 0:
        return 0.0
    counts = np.bincount(pcs, minlength=12)
    return float(max(counts[[(t + s) % 12 for s in MAJOR_SCALE]].sum() for t in range(12)) / pcs.size)


def _coverage(seq: NoteSequence) -> tuple[float, float, float]:
    """(sum of note durations, time with ≥1 note sounding, span first onset → last offset)."""
    return _coverage_of(_pitched(seq))


def _coverage_of(notes: list[Note]) -> tuple[float, float, float]:
    if not notes:
        return 0.0, 0.0, 0.0
    starts = np.array([n.start for n in notes])
    ends = np.array([n.end for n in notes])
    times = np.concatenate([starts, ends])
    deltas = np.concatenate([np.ones_like(starts), -np.ones_like(ends)])
    order = np.lexsort((deltas, times))  # at equal times, offs (-1) before ons
    times, active = times[order], np.cumsum(deltas[order])
    covered = float(np.sum(np.diff(times) * (active[:-1] > 0)))
    return float((ends - starts).sum()), covered, float(ends.max() - starts.min())


def polyphony(seq: NoteSequence) -> float:
    """Mean number of notes sounding while any note sounds."""
    total, covered, _ = _coverage(seq)
    return total / covered if covered > 0 else 0.0


def time_at_polyphony(seq: NoteSequence) -> list[float]:
    """Seconds during which exactly k notes sound, for k = 0 … the most at once (index k);
    the time before the first onset is not counted."""
    edges = sorted([(n.start, 1) for n in _pitched(seq)] + [(n.end, -1) for n in _pitched(seq)],
                   key=lambda e: (e[0], e[1]))  # at a shared instant, ends before starts
    out: list[float] = [0.0]
    sounding, last = 0, edges[0][0] if edges else 0.0
    for t, d in edges:
        if t > last:
            out[sounding] += t - last
            last = t
        sounding += d
        if sounding >= len(out):
            out.extend([0.0] * (sounding + 1 - len(out)))
    return out


def note_density(seq: NoteSequence) -> float:
    """Notes per second over the piece's span."""
    _, _, span = _coverage(seq)
    return len(_pitched(seq)) / span if span > 0 else 0.0


def pitch_range(seq: NoteSequence) -> float:
    pitches = [n.pitch for n in _pitched(seq)]
    return float(max(pitches) - min(pitches)) if pitches else 0.0


def empty_time_ratio(seq: NoteSequence) -> float:
    """Share of the span during which nothing sounds."""
    _, covered, span = _coverage(seq)
    return 1.0 - covered / span if span > 0 else 0.0


TICK = 0.01  # the event tokenizer's time step: onsets closer than this are one onset
IOI_GRID_TOLERANCE = 0.03  # an inter-onset interval within 3 % (and a tick) of a grid multiple is on it
IOI_COMMON_SHARE = 0.1  # an interval this common or more may set the grid


def distinct_onsets(times: np.ndarray) -> np.ndarray:
    """Sorted onset times with those within a tick of the previous merged."""
    ticks = np.unique(np.round(np.sort(times) / TICK).astype(int))
    return ticks * TICK


def ioi_grid_share(ioi: np.ndarray, tolerance: float = IOI_GRID_TOLERANCE, least: float = TICK * 1.01) -> float:
    """Share of inter-onset intervals that fall on the excerpt's own grid: whole multiples of
    half its shortest common interval (one that makes up ``IOI_COMMON_SHARE`` of them or more: a
    chorale's eighth or quarter), within ``IOI_GRID_TOLERANCE`` of the interval and a tick. A
    piece that drifts between tempos (one phrase 5 % slower) has many intervals off that grid;
    a steady one has almost none."""
    if ioi.size == 0:
        return 1.0
    ticks = np.round(ioi / TICK).astype(int)
    values, counts = np.unique(ticks, return_counts=True)
    common = values[counts >= IOI_COMMON_SHARE * ioi.size]
    unit = (common.min() if common.size else values[counts.argmax()]) * TICK / 2
    multiple = np.maximum(np.round(ioi / unit), 1.0)
    return float((np.abs(ioi - multiple * unit) <= np.maximum(tolerance * ioi, least)).mean())


def onset_grid_share(seq: NoteSequence) -> float:
    """Tempo steadiness: the share of the pitched notes' inter-onset intervals that are whole
    multiples of the piece's own grid to within half a tick (5 ms: exact in the event
    tokenizer's steps). A quantised score scores 1.0 (the held-out chorales: 1.0); a piece
    that mixes an eighth of 0.29 s with one of 0.30 s, or drifts from one tempo to another,
    scores lower (the chorale model trained on 0.95/1.05 stretches: 0.545). ``ioi_grid_share``
    with its default tolerance (3 %, a feature of the critic) cannot see a 5 % drift."""
    notes = _pitched(seq)
    ioi = np.diff(distinct_onsets(np.array([n.start for n in notes], float)))
    return ioi_grid_share(ioi, tolerance=0.0, least=TICK / 2 + 1e-9)


FIRST_ORDER_FUNCS: dict[str, Callable[[NoteSequence], float]] = {
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "polyphony": polyphony,
    "note_density": note_density,
    "pitch_range": pitch_range,
    "empty_time_ratio": empty_time_ratio,
    "onset_grid_share": onset_grid_share,
}


# ---------------------------------------------------------------- second order


def _sounding_at(notes: list[Note], starts: np.ndarray, t: float) -> list[Note]:
    """Notes sounding at ``t`` (start ≤ t < end); ``starts`` sorted with ``notes``."""
    hi = int(np.searchsorted(starts, t, side="right"))
    return [n for n in notes[:hi] if n.end > t + 1e-9]


def _onset_slices(seq: NoteSequence) -> list[list[Note]]:
    """For each distinct onset time, the notes sounding then. Notes longer than a few
    seconds cannot hide in the window: we scan back only as far as the longest note."""
    notes = sorted(_pitched(seq), key=lambda n: (n.start, n.pitch))
    if not notes:
        return []
    starts = np.array([n.start for n in notes])
    longest = max(n.duration for n in notes)
    out = []
    for t in np.unique(starts):
        lo = int(np.searchsorted(starts, t - longest - 1e-9, side="left"))
        out.append([n for n in _sounding_at(notes[lo:], starts[lo:], t)])
    return out


def top_voice(seq: NoteSequence) -> list[int]:
    """The skyline melody: at each onset the highest sounding pitch, held notes not repeated."""
    melody: list[int] = []
    last: Note | None = None
    for sounding in _onset_slices(seq):
        top = max(sounding, key=lambda n: (n.pitch, -n.start))
        if top is not last:
            melody.append(top.pitch)
        last = top
    return melody


def interval_histogram(seqs: Sequence[NoteSequence]) -> np.ndarray:
    """Normalised histogram of top-voice intervals clipped to ±MAX_INTERVAL (25 bins)."""
    counts = np.zeros(2 * MAX_INTERVAL + 1)
    for seq in seqs:
        mel = np.asarray(top_voice(seq))
        if mel.size > 1:
            steps = np.clip(np.diff(mel), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
            counts += np.bincount(steps, minlength=counts.size)
    return counts / counts.sum() if counts.sum() else counts


def histogram_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Sum of bin-wise minima of two normalised histograms: 1 identical, 0 disjoint."""
    return float(np.minimum(p, q).sum())


def consonance_counts(seq: NoteSequence) -> tuple[int, int]:
    """(consonant pairs, all pairs) of notes sounding together, sampled at every onset."""
    good = total = 0
    for sounding in _onset_slices(seq):
        pitches = np.array([n.pitch for n in sounding])
        if pitches.size < 2:
            continue
        i, j = np.triu_indices(pitches.size, k=1)
        classes = np.abs(pitches[i] - pitches[j]) % 12
        good += int(np.isin(classes, list(CONSONANT_CLASSES)).sum())
        total += int(classes.size)
    return good, total


def vertical_consonance(seqs: Sequence[NoteSequence]) -> float:
    """Pooled share of simultaneous note pairs that are consonant."""
    good = total = 0
    for seq in seqs:
        g, t = consonance_counts(seq)
        good, total = good + g, total + t
    return good / total if total else 0.0


# ---------------------------------------------------------------- instruments and drums
# Band music: per instrument group (a GM family, or the drums) and the drums' time feel.

DRUMS = "drums"
# A hit is on the grid within an eighth of a 16th of a grid line (a 128th note: 15.6 ms at
# 120 bpm), and never closer than the tokenizer's 10 ms step. A hit placed at random is on the
# grid a quarter of the time.
GRID_TOLERANCE = 1 / 8
MIN_GRID_TOLERANCE = 0.01
# An estimated 16th lies in one octave of tempo, quarter notes at 90–180 bpm: the regular pulse
# the drums keep (``estimate_sixteenth``), halved until it falls there. A slower piece gets its
# 32nds (a finer grid that holds every 16th), a faster one its 8ths.
SIXTEENTH_RANGE = (60 / 180 / 4, 60 / 90 / 4)
LONGEST_PULSE = 8 * SIXTEENTH_RANGE[1]  # a half note at 90 bpm
MIN_GRID_ONSETS = 4  # distinct drum onsets needed to estimate a grid
PEAK_SHARE = 0.9  # of the best fit: the coarsest grid that fits this well is the 16th


def instrument_group(note: Note) -> str:
    """The group a note is measured in: ``"drums"`` or its General MIDI family (``"bass"``)."""
    return group_name(note.program, note.is_drum)


def _group_order(group: str) -> int:
    return -1 if group == DRUMS else FAMILIES.index(group)


def instrument_stats(seq: NoteSequence) -> dict[str, dict[str, float]]:
    """Per instrument group that plays, drums first then the families in GM order: ``notes``;
    ``note_density``, its notes per second of the whole piece's span (so the groups' densities
    add up to the piece's); ``time_share``, the share of that span during which the group
    sounds (drums count their notes as written); ``pitch_range`` in semitones (pitched groups
    only: a drum's pitch names a sound, not a height)."""
    if not seq.notes:
        return {}
    span = max(n.end for n in seq.notes) - min(n.start for n in seq.notes)
    groups: dict[str, list[Note]] = {}
    for note in seq.notes:
        groups.setdefault(instrument_group(note), []).append(note)
    out: dict[str, dict[str, float]] = {}
    for group in sorted(groups, key=_group_order):
        notes = groups[group]
        _, covered, _ = _coverage_of(notes)
        row = {"notes": float(len(notes)), "note_density": len(notes) / span if span > 0 else 0.0,
               "time_share": covered / span if span > 0 else 0.0}
        if group != DRUMS:
            row["pitch_range"] = float(max(n.pitch for n in notes) - min(n.pitch for n in notes))
        out[group] = row
    return out


@dataclass(frozen=True)
class Grid:
    """A piece's 16th grid: lines at ``origin + k * step`` seconds, bars of ``steps_per_bar``
    16ths from ``origin``."""

    step: float
    origin: float
    steps_per_bar: int = 16
    estimated: bool = False  # from the drums' onsets (the piece had no tempo)

    def steps(self, times: np.ndarray) -> np.ndarray:
        """The nearest grid line of each time, counted from ``origin``."""
        return np.floor((np.asarray(times) - self.origin) / self.step + 0.5).astype(np.int64)

    def on_grid(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        off = np.abs(times - (self.origin + self.steps(times) * self.step))
        return off <= max(GRID_TOLERANCE * self.step, MIN_GRID_TOLERANCE) + 1e-9


def _steps_per_bar(time_signature: tuple[int, int] | None) -> int:
    if not time_signature or time_signature[1] <= 0:
        return 16  # 4/4 unless told
    num, den = time_signature
    return max(1, round(num * 16 / den))


def _drum_onsets(seq: NoteSequence) -> np.ndarray:
    return np.array(sorted(n.start for n in seq.notes if n.is_drum), dtype=float)


def sixteenth_grid(seq: NoteSequence) -> Grid | None:
    """The piece's 16th grid. With a tempo (``seq.tempo_bpm``: a file's first tempo, or a
    generated piece's primer's) it is exact, from time 0, as a MIDI file's bars are. Without
    one (a decoded record, an unprimed sample) it is estimated from the drums' onsets
    (``estimate_sixteenth``), the first bar starting at the first hit's grid line; None with
    fewer than ``MIN_GRID_ONSETS`` distinct drum onsets."""
    bar = _steps_per_bar(seq.time_signature)
    if seq.tempo_bpm and seq.tempo_bpm > 0:
        return Grid(15.0 / seq.tempo_bpm, 0.0, bar)
    onsets = _drum_onsets(seq)
    if len(np.unique(np.round(onsets, 3))) < MIN_GRID_ONSETS:
        return None
    step, phase = estimate_sixteenth(onsets)
    first = phase + step * np.floor((onsets[0] - phase) / step + 0.5)
    return Grid(step, float(first), bar, estimated=True)


def _fit(times: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """For each frequency (per second), the complex mean of the onsets as phases of that
    pulse: its length is 1 when every onset lies on one grid of that period, near 0 when they
    scatter; its angle is where the grid lies."""
    out = np.empty(len(freqs), dtype=complex)
    chunk = max(1, 1_000_000 // max(1, len(times)))
    for i in range(0, len(freqs), chunk):
        out[i : i + chunk] = np.exp(2j * np.pi * freqs[i : i + chunk, None] * times[None, :]).mean(axis=1)
    return out


def estimate_sixteenth(onsets: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(16th in seconds, a grid line) that fit ``onsets``. First the pulse they keep: the
    longest period, up to ``LONGEST_PULSE``, whose grid holds them within ``PEAK_SHARE`` of the
    best fit (the length of the mean of the onsets as phases). A grid holds the onsets of
    every coarser one, so the longest that fits is the pulse itself: the 8th for a beat of
    8th-note hats, not its 16ths nor the 8th-note triplets that also hold every 8th. Then it
    is halved until it is a 16th in ``SIXTEENTH_RANGE``. One tempo for the whole piece: a
    piece that drifts fits worse, and is measured as less on the grid."""
    times = np.unique(np.round(np.asarray(onsets, dtype=float), 3))
    span = max(float(times[-1] - times[0]), LONGEST_PULSE)
    df = 1 / (4 * span)  # a fit's peak is ~1/span wide in frequency
    freqs = np.arange(1 / LONGEST_PULSE, 1 / SIXTEENTH_RANGE[0] + df, df)
    fit = np.abs(_fit(times, freqs))
    pulse = freqs[int(np.flatnonzero(fit >= PEAK_SHARE * fit.max())[0])]
    fine = np.linspace(pulse - df, pulse + df, 41)
    fit_fine = _fit(times, fine)
    k = int(np.argmax(np.abs(fit_fine)))
    step = 1 / float(fine[k])
    phase = float(np.angle(fit_fine[k]) / (2 * np.pi) * step) % step
    while step >= SIXTEENTH_RANGE[1]:
        step /= 2
    return step, phase


def drum_grid_share(seq: NoteSequence, grid: Grid | None = None) -> float | None:
    """Share of drum hits within ``GRID_TOLERANCE`` of a line of the piece's 16th grid
    (``sixteenth_grid``); None for a piece without drums or without a grid."""
    onsets = _drum_onsets(seq)
    grid = grid or sixteenth_grid(seq)
    if onsets.size == 0 or grid is None:
        return None
    return float(grid.on_grid(onsets).mean())


def kick_snare_bars(seq: NoteSequence, grid: Grid | None = None) -> list[frozenset[tuple[str, int]]]:
    """Each bar's kick/snare pattern, from the first bar with either to the last: the set of
    (``"kick"`` or ``"snare"``, 16th step in the bar) its hits fall nearest to."""
    grid = grid or sixteenth_grid(seq)
    hits = [(("kick" if n.pitch in KICKS else "snare"), n.start) for n in seq.notes
            if n.is_drum and (n.pitch in KICKS or n.pitch in SNARES)]
    if grid is None or not hits:
        return []
    steps = grid.steps(np.array([t for _, t in hits]))
    bars: dict[int, set[tuple[str, int]]] = {}
    for (kind, _), step in zip(hits, steps, strict=True):
        bars.setdefault(int(step // grid.steps_per_bar), set()).add((kind, int(step % grid.steps_per_bar)))
    first, last = min(bars), max(bars)
    return [frozenset(bars.get(b, ())) for b in range(first, last + 1)]


def kick_snare_repetition(seq: NoteSequence, grid: Grid | None = None) -> tuple[float, float] | None:
    """How the kick/snare pattern repeats from bar to bar (``kick_snare_bars``): (share of
    bars whose pattern equals the bar before's, mean Jaccard similarity of each bar's pattern
    with the bar before's), over pairs of consecutive bars of which at least one has a kick or
    a snare; None when there is no such pair."""
    bars = kick_snare_bars(seq, grid)
    pairs = [(a, b) for a, b in zip(bars[:-1], bars[1:], strict=True) if a or b]
    if not pairs:
        return None
    same = float(np.mean([a == b for a, b in pairs]))
    jaccard = float(np.mean([len(a & b) / len(a | b) for a, b in pairs]))
    return same, jaccard


def is_band(seqs: Sequence[NoteSequence]) -> bool:
    """Whether the pieces hold drums or two instrument groups or more (then ``compare`` adds
    the instrument and drum figures)."""
    groups = {instrument_group(n) for s in seqs for n in s.notes}
    return DRUMS in groups or len(groups) > 1


def band_summary(seqs: Sequence[NoteSequence]) -> dict[str, float]:
    """Instrument and drum figures over pieces, flat: ``note_density/GROUP`` and
    ``pitch_range/GROUP`` are means over the pieces where the group plays, ``time_share/GROUP``
    over every piece (0 where it is silent: it tells how often a group plays as well as how
    much); ``drum_grid_share``, ``kick_snare_repeat`` (bars equal to the bar before) and
    ``kick_snare_similarity`` (Jaccard) are means over the pieces where they are defined,
    whose numbers are ``drum_pieces`` and ``kick_snare_pieces``."""
    stats = [instrument_stats(s) for s in seqs]
    groups = sorted({g for st in stats for g in st}, key=_group_order)
    out: dict[str, float] = {}
    for group in groups:
        rows = [st[group] for st in stats if group in st]
        out[f"note_density/{group}"] = float(np.mean([r["note_density"] for r in rows]))
        if group != DRUMS:
            out[f"pitch_range/{group}"] = float(np.mean([r["pitch_range"] for r in rows]))
        out[f"time_share/{group}"] = float(np.sum([r["time_share"] for r in rows]) / len(seqs))
    grids = [sixteenth_grid(s) for s in seqs]
    shares = [x for x in (drum_grid_share(s, g) for s, g in zip(seqs, grids, strict=True)) if x is not None]
    repeats = [x for x in (kick_snare_repetition(s, g) for s, g in zip(seqs, grids, strict=True)) if x is not None]
    out["drum_grid_share"] = float(np.mean(shares)) if shares else 0.0
    out["kick_snare_repeat"] = float(np.mean([r[0] for r in repeats])) if repeats else 0.0
    out["kick_snare_similarity"] = float(np.mean([r[1] for r in repeats])) if repeats else 0.0
    out["drum_pieces"] = float(len(shares))
    out["kick_snare_pieces"] = float(len(repeats))
    return out


DRUM_FIGURES = ("drum_grid_share", "kick_snare_repeat", "kick_snare_similarity")
COUNTS = ("pieces", "drum_pieces", "kick_snare_pieces")  # compare's {"generated": n, "real": m} rows


def by_abs_diff(name: str) -> bool:
    """Whether a ``compare`` figure is a share, read by its absolute difference (a relative one
    means little near zero)."""
    return name in ("empty_time_ratio", "onset_grid_share", "vertical_consonance", *DRUM_FIGURES) or name.startswith("time_share/")


def _band_rows(generated: Sequence[NoteSequence], real: Sequence[NoteSequence]) -> dict[str, dict[str, float]]:
    gen, ref = band_summary(generated), band_summary(real)
    groups = sorted({k.split("/", 1)[1] for k in (*gen, *ref) if "/" in k}, key=_group_order)
    names = [f"{m}/{g}" for g in groups for m in ("note_density", "pitch_range", "time_share")
             if not (g == DRUMS and m == "pitch_range")]
    if DRUMS in groups:
        names += list(DRUM_FIGURES)
    out = {name: _row(gen.get(name, 0.0), ref.get(name, 0.0)) for name in names}
    if DRUMS in groups:
        for count in COUNTS[1:]:
            out[count] = {"generated": gen[count], "real": ref[count]}
    return out


def _row(g: float, r: float) -> dict[str, float]:
    rel = (g - r) / abs(r) if r else float(g != r)
    return {"generated": g, "real": r, "abs_diff": g - r, "rel_diff": rel}


# ---------------------------------------------------------------- comparison


def summary(seqs: Sequence[NoteSequence]) -> dict[str, float]:
    """Mean of each first-order statistic over the pieces, plus pooled vertical consonance."""
    out = {
        name: float(np.mean([f(s) for s in seqs])) if seqs else 0.0
        for name, f in FIRST_ORDER_FUNCS.items()
    }
    out["vertical_consonance"] = vertical_consonance(seqs)
    return out


def compare(generated: Sequence[NoteSequence], real: Sequence[NoteSequence]) -> dict[str, dict[str, float]]:
    """Both sides of every statistic and their difference.

    ``{"pitch_class_entropy": {"generated": g, "real": r, "abs_diff": g-r, "rel_diff": (g-r)/|r|},
    ..., "vertical_consonance": {...}, "top_voice_interval_overlap": {"overlap": o},
    "pieces": {"generated": n, "real": m}}``. Compare ``empty_time_ratio`` by ``abs_diff``: it
    is near zero for dense music, where a relative difference means nothing (``by_abs_diff``
    names every such share).

    Band music (``is_band``: drums, or two instrument groups or more on either side) adds rows
    of the same shape per instrument group, drums first then the GM families:
    ``note_density/bass``, ``pitch_range/bass``, ``time_share/bass``, ...; with drums,
    ``drum_grid_share``, ``kick_snare_repeat`` and ``kick_snare_similarity``, and the counts of
    pieces they were measured on, ``drum_pieces`` and ``kick_snare_pieces``, shaped like
    ``pieces`` (``band_summary`` says how each side is averaged). A group one side lacks is 0
    there. Chorales and other one-instrument music get exactly the rows they always had.
    """
    gen, ref = summary(generated), summary(real)
    out: dict[str, dict[str, float]] = {}
    for name in (*FIRST_ORDER, "vertical_consonance"):
        out[name] = _row(gen[name], ref[name])
    hg, hr = interval_histogram(generated), interval_histogram(real)
    out["top_voice_interval_overlap"] = {"overlap": histogram_overlap(hg, hr)}
    if is_band([*generated, *real]):
        out.update(_band_rows(generated, real))
    out["pieces"] = {"generated": float(len(generated)), "real": float(len(real))}
    return out


# ---------------------------------------------------------------- baselines


def voices(seq: NoteSequence) -> list[list[Note]]:
    """Greedy split into non-overlapping lines, highest note first at each onset (SATB-ish)."""
    lines: list[list[Note]] = []
    for note in sorted(_pitched(seq), key=lambda n: (n.start, -n.pitch)):
        for line in lines:
            if line[-1].end <= note.start + 1e-6:
                line.append(note)
                break
        else:
            lines.append([note])
    return lines


def shuffled_pitches(seq: NoteSequence, rng: np.random.Generator) -> NoteSequence:
    """The same rhythm with each voice's pitches permuted in time: first-order statistics
    and voice ranges stay, melodic and harmonic sense goes."""
    out: list[Note] = []
    for line in voices(seq):
        perm = rng.permutation(len(line))
        out.extend(replace(n, pitch=line[int(k)].pitch) for n, k in zip(line, perm, strict=True))
    return replace(seq, notes=out, markers=list(seq.markers))


def random_diatonic(seq: NoteSequence, rng: np.random.Generator) -> NoteSequence:
    """The same rhythm with random C-major pitches drawn within each voice's range."""
    out: list[Note] = []
    for line in voices(seq):
        lo, hi = min(n.pitch for n in line), max(n.pitch for n in line)
        pool = [p for p in range(lo, hi + 1) if p % 12 in MAJOR_SCALE] or [lo]
        out.extend(replace(n, pitch=int(rng.choice(pool))) for n in line)
    return replace(seq, notes=out, markers=list(seq.markers))
