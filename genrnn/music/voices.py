"""Voices on a time grid: the data side of harmonization (melody in, lower voices out).

Everything here lives on one grid of 16th-note *frames* (``FRAMES_PER_QUARTER = 4``). A voice
is one token per frame::

    REST = 0          nothing sounds
    HOLD = 1          the note sounding in the previous frame goes on
    2 + (p - PITCH_LO) a note of MIDI pitch p starts in this frame

so a melody and the voices under it are arrays of the same length, frame t of one sounding with
frame t of the others. ``meter`` gives each frame its position in the bar (0 = downbeat).

- ``prepare_chorales`` reads the Bach chorales of the music21 corpus onto the grid (soprano,
  alto, tenor, bass), skips and counts the ones without exactly four vocal parts, and caches
  the result as ``.npy`` + ``.json`` (no pickle) so a second run does not parse anything.
- ``transpose_tokens`` / ``transpositions`` move a piece on the grid (the harmonizer's key
  augmentation, corpora/augment.py; its held-out split is corpora/base.py's, by name).
- ``melody_from_midi`` puts an arbitrary MIDI melody on the grid at its own tempo: onsets and
  ends go to the nearest 16th; a polyphonic file gives its top voice (and says so).
- ``harmonized_sequence`` turns generated voices back into notes, under the original melody
  notes (kept exactly as played), at the melody's tempo.

No torch here: the model lives in genrnn.models.harmonizer, the loop in genrnn.training.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.errors import MidiConversionError
from genrnn.music.notes import Note, NoteSequence

FRAMES_PER_QUARTER = 4  # 16th-note frames
REST, HOLD = 0, 1
PITCH_LO, PITCH_HI = 28, 96  # E1 .. C7: chorale voices ± the augmentation, with room
VOCAB_SIZE = 2 + PITCH_HI - PITCH_LO + 1
VOICE_NAMES = ("soprano", "alto", "tenor", "bass")
METER_SIZE = 32  # positions in the bar (8 quarters of 16ths); longer bars are clipped
DEFAULT_BAR_FRAMES = 16  # 4/4 when nothing is known
MIDI_DEFAULT_BPM = 120.0  # a MIDI file without a tempo event plays at 120 bpm
SOPRANO_CENTER = 70  # median sounding pitch of the chorale sopranos: where a melody is moved by octaves
MAX_FRAMES = 40_000
CACHE_VERSION = 1
OFF_GRID = 0.25  # an onset further than this (in frames) from the grid counts as off-grid


def pitch_token(pitch: int) -> int:
    if not PITCH_LO <= pitch <= PITCH_HI:
        raise MidiConversionError(f"pitch {pitch} is outside the grid range {PITCH_LO}..{PITCH_HI}")
    return 2 + pitch - PITCH_LO


def token_pitch(token: int) -> int | None:
    return PITCH_LO + int(token) - 2 if token >= 2 else None


def token_names() -> list[str]:
    """Readable names of the vocabulary, stored in checkpoints ("rest", "hold", "C4", ...)."""
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return ["rest", "hold"] + [f"{names[p % 12]}{p // 12 - 1}" for p in range(PITCH_LO, PITCH_HI + 1)]


def sounding_pitches(tokens: np.ndarray) -> np.ndarray:
    """Per frame, the MIDI pitch sounding (holds resolved), or -1 where nothing sounds."""
    out = np.full(len(tokens), -1, dtype=np.int16)
    current = -1
    for t, tok in enumerate(np.asarray(tokens).tolist()):
        if tok == REST:
            current = -1
        elif tok != HOLD:
            current = PITCH_LO + tok - 2
        out[t] = current
    return out


def transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Shift every pitch token (REST and HOLD stay); the caller checks the range."""
    out = np.asarray(tokens).astype(np.int16, copy=True)
    out[out >= 2] += semitones
    return out


def transpositions(tokens: np.ndarray, lo: int = -6, hi: int = 5) -> list[int]:
    """The shifts in lo..hi that keep every pitch token of ``tokens`` inside the grid range."""
    pitched = np.asarray(tokens)[np.asarray(tokens) >= 2]
    if pitched.size == 0:
        return [0]
    low, high = int(pitched.min()), int(pitched.max())
    return [s for s in range(lo, hi + 1) if low + s >= 2 and high + s <= VOCAB_SIZE - 1]


def window(tokens: np.ndarray, start: int, length: int) -> np.ndarray:
    """Frames ``start:start+length`` of a (T,) or (T, V) token array; a note already sounding
    at ``start`` is re-struck there, so a window never begins with a HOLD."""
    arr = np.asarray(tokens)
    cols = arr.reshape(len(arr), -1)
    out = cols[start : start + length].astype(np.int16, copy=True)
    for v in range(cols.shape[1]):
        if len(out) and out[0, v] == HOLD:
            pitch = int(sounding_pitches(cols[: start + 1, v])[-1])
            out[0, v] = pitch_token(pitch) if pitch >= 0 else REST
    return out.reshape((len(out),) + arr.shape[1:])


def meter_positions(frames: int, bar_frames: int, pickup_frames: int = 0) -> np.ndarray:
    """Position of each frame in its bar (0 = downbeat), clipped to METER_SIZE - 1."""
    bar = max(1, int(bar_frames))
    pos = (np.arange(frames) + int(pickup_frames)) % bar
    return np.minimum(pos, METER_SIZE - 1).astype(np.int8)


# ---------------------------------------------------------------- chorales → grid


@dataclass
class ChoraleGrid:
    """One chorale on the grid: ``tokens`` (T, 4) for soprano, alto, tenor, bass."""

    name: str
    tokens: np.ndarray  # (T, 4) int16
    bar_frames: int
    pickup_frames: int

    @property
    def frames(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def meter(self) -> np.ndarray:
        return meter_positions(self.frames, self.bar_frames, self.pickup_frames)

    def voice(self, name: str) -> np.ndarray:
        return self.tokens[:, VOICE_NAMES.index(name)]


def _part_tokens(part: Any, frames: int, choose: Callable[[list[int]], int]) -> np.ndarray:
    line = np.full(frames, REST, dtype=np.int16)
    for el in part.stripTies().flatten().notes:
        start = float(el.offset)
        on = round(start * FRAMES_PER_QUARTER)
        off = min(frames, round((start + float(el.duration.quarterLength)) * FRAMES_PER_QUARTER))
        pitches = [int(p.midi) for p in el.pitches if PITCH_LO <= p.midi <= PITCH_HI]
        if off <= on or not pitches:
            continue  # grace notes and ornaments shorter than half a 16th
        line[on] = pitch_token(choose(pitches))
        line[on + 1 : off] = HOLD
    return line


def chorale_to_grid(score: Any, name: str) -> ChoraleGrid:
    """A four-part music21 score → ChoraleGrid; MidiConversionError(reason) otherwise."""
    parts = list(score.parts) if hasattr(score, "parts") else []
    if len(parts) != 4:
        raise MidiConversionError(f"{name}: not 4 parts")
    frames = round(float(score.highestTime) * FRAMES_PER_QUARTER)
    if frames < 1:
        raise MidiConversionError(f"{name}: no notes")
    choosers = (max, min, min, min)  # a chord in a part: soprano keeps its top, the others the bottom
    lines = [_part_tokens(p, frames, c) for p, c in zip(parts, choosers, strict=True)]
    tokens = np.stack(lines, axis=1)
    means = [float(sounding_pitches(line)[sounding_pitches(line) >= 0].mean()) if (line >= 2).any() else -1.0
             for line in lines]
    if min(means) < 0:
        raise MidiConversionError(f"{name}: a part has no notes")
    if any(a < b for a, b in zip(means[:-1], means[1:], strict=True)):
        raise MidiConversionError(f"{name}: voices out of order")
    return ChoraleGrid(name, tokens, *_bar_and_pickup(parts[0]))


def _bar_and_pickup(part: Any) -> tuple[int, int]:
    measures = part.getElementsByClass("Measure")
    if not len(measures):
        return DEFAULT_BAR_FRAMES, 0
    first = measures[0]
    ts = first.timeSignature or first.getContextByClass("TimeSignature")
    bar = round(float(ts.barDuration.quarterLength) * FRAMES_PER_QUARTER) if ts is not None else DEFAULT_BAR_FRAMES
    pickup = round(float(first.paddingLeft) * FRAMES_PER_QUARTER)
    return max(1, bar), pickup % max(1, bar)


@dataclass
class ChoraleSet:
    """The prepared chorales, with what was skipped and why."""

    grids: list[ChoraleGrid]
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason → piece names
    folder: Path | None = None
    seconds: float = 0.0  # preparation time (0 when read from the cache)
    cached: bool = False

    @property
    def skipped_count(self) -> int:
        return sum(len(v) for v in self.skipped.values())


def _cache_folder(cache_dir: Path, names: Sequence[str]) -> Path:
    import music21

    blob = json.dumps({"v": CACHE_VERSION, "fpq": FRAMES_PER_QUARTER, "lo": PITCH_LO, "hi": PITCH_HI,
                       "music21": music21.__version__, "names": list(names)})
    return cache_dir / f"harmonize-chorales-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def prepare_chorales(cache_dir: str | os.PathLike[str], limit: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ChoraleSet:
    """The music21 Bach chorales on the grid, from the cache when it holds them."""
    import time

    from genrnn.music.notation import chorale_paths, parse_score

    paths = _unique(chorale_paths(limit))
    if not paths:
        raise MidiConversionError("the music21 corpus holds no Bach chorales")
    folder = _cache_folder(Path(cache_dir).expanduser(), [n for n, _ in paths])
    if (folder / "meta.json").is_file():
        return load_chorale_cache(folder)
    start = time.perf_counter()
    grids: list[ChoraleGrid] = []
    skipped: dict[str, list[str]] = {}
    for i, (name, path) in enumerate(paths):
        try:
            grids.append(chorale_to_grid(parse_score(path), name))
        except MidiConversionError as exc:
            skipped.setdefault(str(exc).rsplit(": ", 1)[-1], []).append(name)
        if progress is not None:
            progress(i + 1, len(paths))
    if not grids:
        raise MidiConversionError(f"none of the {len(paths)} chorales has four vocal parts")
    seconds = time.perf_counter() - start
    _write_chorale_cache(folder, grids, skipped, seconds)
    return ChoraleSet(grids, skipped, folder, seconds, cached=False)


def _unique(paths: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """music21's chorale listing names some pieces twice (21 of 371 entries), and two names share
    one file (bwv69.6, bwv69.6-a): keep each file once, so no piece is both trained on and held out."""
    seen: set[str] = set()
    out = []
    for name, path in paths:
        if str(path) not in seen:
            seen.add(str(path))
            out.append((name, path))
    return out


def _write_chorale_cache(folder: Path, grids: list[ChoraleGrid], skipped: dict[str, list[str]],
                         seconds: float) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "tokens.npy", np.concatenate([g.tokens for g in grids]).astype(np.int16))
        pieces, start = [], 0
        for g in grids:
            pieces.append({"name": g.name, "start": start, "frames": g.frames,
                           "bar_frames": g.bar_frames, "pickup_frames": g.pickup_frames})
            start += g.frames
        meta = {"version": CACHE_VERSION, "frames_per_quarter": FRAMES_PER_QUARTER, "voices": list(VOICE_NAMES),
                "pitch_range": [PITCH_LO, PITCH_HI], "pieces": pieces, "skipped": skipped,
                "prepare_seconds": round(seconds, 2)}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_chorale_cache(folder: str | os.PathLike[str]) -> ChoraleSet:
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        tokens = np.load(folder / "tokens.npy", allow_pickle=False)
        grids = [ChoraleGrid(p["name"], tokens[p["start"] : p["start"] + p["frames"]], int(p["bar_frames"]),
                             int(p["pickup_frames"])) for p in meta["pieces"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MidiConversionError(f"{folder}: damaged chorale cache ({exc}); delete the folder to rebuild it") from None
    return ChoraleSet(grids, {k: list(v) for k, v in meta.get("skipped", {}).items()}, folder,
                      float(meta.get("prepare_seconds", 0.0)), cached=True)


# ---------------------------------------------------------------- a melody from MIDI → grid


@dataclass
class Melody:
    """A melody on the grid, with the notes it came from (as played) and what was done to it."""

    name: str
    tokens: np.ndarray  # (T,) int16 grid tokens (after the octave shift)
    meter: np.ndarray  # (T,) int8
    frame_seconds: float
    notes: list[Note]  # the melody as played: written unchanged beside the new voices
    tempo_bpm: float
    time_signature: tuple[int, int] | None = None
    octave_shift: int = 0  # semitones added to the melody to put it in the soprano range
    polyphonic: bool = False
    dropped_notes: int = 0  # notes of a polyphonic file that are not in its top voice
    off_grid_share: float = 0.0  # share of onsets further than OFF_GRID frames from the grid
    mean_offset_frames: float = 0.0
    notes_info: list[str] = field(default_factory=list)  # sentences for the user

    @property
    def frames(self) -> int:
        return int(self.tokens.shape[0])


def melody_from_midi(path: str | os.PathLike[str]) -> Melody:
    """Read a .mid (genrnn.music.midi_io) and put its melody on the 16th grid at its tempo."""
    from genrnn.music.midi_io import read_midi

    path = Path(path)
    if not path.is_file():
        raise MidiConversionError(f"{path}: no such file")
    seq = read_midi(path)
    melody = melody_from_sequence(seq, name=str(path))
    changes = _tempo_changes(path)
    if changes > 1:
        melody.notes_info.append(f"the file changes tempo {changes - 1} time(s): the grid follows the first "
                                 f"tempo ({melody.tempo_bpm:g} bpm), so the new voices drift after a change")
    return melody


def _tempo_changes(path: Path) -> int:
    import mido

    try:
        mid = mido.MidiFile(str(path), clip=True)
    except Exception:  # noqa: BLE001 - read_midi already accepted the file; this is advice only
        return 0
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    return len(set(tempos))


def melody_from_sequence(seq: NoteSequence, name: str = "melody", bar_frames: int | None = None) -> Melody:
    """The top voice of ``seq`` on the grid. Onsets and ends go to the nearest 16th at the
    sequence's tempo (120 bpm when it has none); a note never shrinks below one frame."""
    notes = [n for n in seq.notes if not n.is_drum]
    if not notes:
        raise MidiConversionError(f"{name}: no pitched notes (only drums)")
    bpm = float(seq.tempo_bpm) if seq.tempo_bpm else MIDI_DEFAULT_BPM
    fs = 60.0 / bpm / FRAMES_PER_QUARTER
    frames = round(max(n.end for n in notes) / fs)
    if frames > MAX_FRAMES:
        raise MidiConversionError(f"{name}: {frames} 16th-note frames at {bpm:g} bpm; at most {MAX_FRAMES} are harmonized")
    polyphonic = _is_polyphonic(notes)
    chosen, spans = _top_voice(notes, fs, max(frames, 1), polyphonic)
    kept = {id(n) for n in chosen if n is not None}
    # a monophonic file is written back whole (a grace note the grid cannot hold included)
    melody_notes = [n for n in notes if id(n) in kept] if polyphonic else notes
    shift = _octave_shift([n.pitch for n in melody_notes])
    tokens = _line_tokens(chosen, spans, shift)
    if bar_frames is None:
        bar_frames = _bar_frames(seq.time_signature)
    offsets = np.array([abs(n.start / fs - round(n.start / fs)) for n in melody_notes])
    melody = Melody(name=name, tokens=tokens, meter=meter_positions(len(tokens), bar_frames,
                                                                    estimate_pickup(tokens, bar_frames)),
                    frame_seconds=fs, notes=melody_notes, tempo_bpm=bpm, time_signature=seq.time_signature,
                    octave_shift=shift, polyphonic=polyphonic, dropped_notes=len(notes) - len(melody_notes),
                    off_grid_share=float((offsets > OFF_GRID).mean()), mean_offset_frames=float(offsets.mean()))
    _advise(melody)
    return melody


def _is_polyphonic(notes: list[Note]) -> bool:
    """Two notes sound together for more than half the shorter one (legato overlaps don't count)."""
    ordered = sorted(notes, key=lambda n: n.start)
    active: list[Note] = []
    for n in ordered:
        active = [a for a in active if a.end > n.start]
        for a in active:
            overlap = min(a.end, n.end) - n.start
            if overlap > 0.5 * min(a.duration, n.duration):
                return True
        active.append(n)
    return False


def _top_voice(notes: list[Note], fs: float, frames: int, polyphonic: bool) -> tuple[list[Note | None], dict[int, int]]:
    """Per frame the note that carries the melody: the highest sounding (polyphonic files) or
    the latest begun (a monophonic line whose notes overlap a little). Also each note's onset frame."""
    chosen: list[Note | None] = [None] * frames
    keys: list[tuple[float, ...] | None] = [None] * frames
    onsets: dict[int, int] = {}
    for n in notes:
        on = min(round(n.start / fs), frames - 1)
        off = min(max(round(n.end / fs), on + 1), frames)
        onsets[id(n)] = on
        key = (n.pitch, on) if polyphonic else (on, n.pitch)
        for t in range(on, off):
            if keys[t] is None or key > keys[t]:  # type: ignore[operator]
                chosen[t], keys[t] = n, key
    return chosen, onsets


def _line_tokens(chosen: list[Note | None], onsets: dict[int, int], shift: int) -> np.ndarray:
    tokens = np.full(len(chosen), REST, dtype=np.int16)
    prev: Note | None = None
    for t, n in enumerate(chosen):
        if n is None:
            prev = None
            continue
        if n is prev and onsets[id(n)] != t:
            tokens[t] = HOLD
        else:
            tokens[t] = pitch_token(_fold(n.pitch + shift))
        prev = n
    return tokens


def _fold(pitch: int) -> int:
    while pitch < PITCH_LO:
        pitch += 12
    while pitch > PITCH_HI:
        pitch -= 12
    return pitch


def _octave_shift(pitches: list[int]) -> int:
    return 12 * round((SOPRANO_CENTER - float(np.median(pitches))) / 12) if pitches else 0


def _bar_frames(time_signature: tuple[int, int] | None) -> int:
    if not time_signature:
        return DEFAULT_BAR_FRAMES
    num, den = time_signature
    return max(1, round(num * 4 / den * FRAMES_PER_QUARTER))


def estimate_pickup(tokens: np.ndarray, bar_frames: int) -> int:
    """Where the bar lines fall, for a melody that does not say (a MIDI file starts at time 0
    even when the tune starts with an upbeat): the phase, in whole beats, that puts the most
    squared note-length on strong beats (downbeat 3, half-bar 2, other beats 1). Right for 73%
    of the chorale sopranos (always guessing the most common upbeat: 63%). Returns the pickup
    in frames, like ``ChoraleGrid.pickup_frames``."""
    beat = FRAMES_PER_QUARTER
    if bar_frames % beat or bar_frames <= beat:
        return 0
    on = np.flatnonzero(np.asarray(tokens) >= 2)
    if on.size == 0:
        return 0
    weight = (np.append(on[1:], len(tokens)) - on).astype(float) ** 2
    best, best_score = 0, -1.0
    for pickup in range(0, bar_frames, beat):
        pos = (on + pickup) % bar_frames
        strength = np.select([pos == 0, 2 * pos == bar_frames, pos % beat == 0], [3.0, 2.0, 1.0], 0.0)
        score = float((strength * weight).sum())
        if score > best_score + 1e-9:
            best, best_score = pickup, score
    return best


def _advise(m: Melody) -> None:
    if m.polyphonic:
        m.notes_info.append(f"the file is polyphonic: harmonizing its top voice ({len(m.notes)} notes; "
                            f"{m.dropped_notes} lower notes left out)")
    if m.off_grid_share > 0.2:
        m.notes_info.append(f"the rhythm does not sit on 16th notes at {m.tempo_bpm:g} bpm "
                            f"({m.off_grid_share:.0%} of onsets off the grid): onsets were rounded to the "
                            f"nearest 16th for the model; the melody is written as played")
    if m.octave_shift:
        m.notes_info.append(f"the melody was read {m.octave_shift:+d} semitones away (the model knows the soprano "
                            f"range); the new voices are moved back under it")


def melody_from_grid(grid: ChoraleGrid, bpm: float = 100.0) -> Melody:
    """A chorale's soprano as a Melody (for evaluation on held-out pieces)."""
    fs = 60.0 / bpm / FRAMES_PER_QUARTER
    soprano = grid.voice("soprano").copy()
    return Melody(name=grid.name, tokens=soprano, meter=grid.meter, frame_seconds=fs,
                  notes=line_notes(soprano, fs, program=0), tempo_bpm=bpm,
                  time_signature=_ts_of(grid.bar_frames))


def _ts_of(bar_frames: int) -> tuple[int, int]:
    quarters = bar_frames / FRAMES_PER_QUARTER
    return (int(quarters), 4) if quarters == int(quarters) else (int(quarters * 2), 8)


# ---------------------------------------------------------------- grid → notes


def line_notes(tokens: np.ndarray, frame_seconds: float, program: int = 0, velocity: int = 80,
               transpose: int = 0) -> list[Note]:
    """Notes of one grid line: a pitch token starts a note, holds extend it, a rest ends it."""
    notes: list[Note] = []
    start, pitch = 0, None
    toks = np.asarray(tokens).tolist()
    for t, tok in enumerate([*toks, REST]):
        if tok == HOLD and pitch is not None:
            continue
        if pitch is not None:
            p = pitch + transpose
            if 0 <= p <= 127:
                notes.append(Note(p, velocity, start * frame_seconds, t * frame_seconds, program))
        pitch, start = (token_pitch(tok), t) if tok >= 2 else (None, t)
    return notes


VOICE_PROGRAMS = {"alto": 40, "tenor": 41, "bass": 42}  # violin, viola, cello under the melody


def voice_programs(voices: Sequence[str], melody_programs: set[int]) -> dict[str, int]:
    """A General MIDI program per new voice, none shared with the melody (one track each)."""
    taken = set(melody_programs)
    out = {}
    for v in voices:
        program = VOICE_PROGRAMS.get(v, 48)
        while program in taken:
            program = (program + 1) % 128
        out[v] = program
        taken.add(program)
    return out


def harmonized_sequence(melody: Melody, lines: dict[str, np.ndarray], velocity: int = 72) -> NoteSequence:
    """The melody's own notes (unchanged) plus each generated line on the grid, at the melody's
    tempo; the lines are moved back by the melody's octave shift."""
    programs = voice_programs(list(lines), {n.program for n in melody.notes})
    notes = list(melody.notes)
    for voice, tokens in lines.items():
        notes += line_notes(tokens, melody.frame_seconds, programs[voice], velocity, -melody.octave_shift)
    return NoteSequence(notes=notes, tempo_bpm=melody.tempo_bpm, time_signature=melody.time_signature)


def grid_sequence(grid: ChoraleGrid, voices: Sequence[str], bpm: float = 100.0) -> NoteSequence:
    """Some voices of a real chorale as notes (soprano on program 0), for comparisons."""
    fs = 60.0 / bpm / FRAMES_PER_QUARTER
    programs = voice_programs([v for v in voices if v != "soprano"], {0})
    notes: list[Note] = []
    for v in voices:
        notes += line_notes(grid.voice(v), fs, 0 if v == "soprano" else programs[v])
    return NoteSequence(notes=notes, tempo_bpm=bpm, time_signature=_ts_of(grid.bar_frames))


def write_harmonized_musicxml(melody: Melody, lines: dict[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """MusicXML with one named part per voice (melody on top), written atomically."""
    from genrnn.music import notation

    m21 = notation._m21()
    seq = harmonized_sequence(melody, lines)
    qps = melody.tempo_bpm / 60.0
    score = m21.stream.Score()
    by_program: dict[int, list[Note]] = {}
    for n in seq.notes:
        by_program.setdefault(n.program, []).append(n)
    programs = voice_programs(list(lines), {n.program for n in melody.notes})
    named = [("Melody", list(melody.notes))] + [(v.capitalize(), by_program.get(programs[v], []))
                                                 for v in ("alto", "tenor", "bass") if v in lines]
    for label, notes in named:
        part = notation._voice_part(sorted(notes, key=lambda n: (n.start, -n.pitch)), qps)
        part.partName = label
        if melody.time_signature:
            part.insert(0, m21.meter.TimeSignature(f"{melody.time_signature[0]}/{melody.time_signature[1]}"))
        score.insert(0, part)
    score.parts[0].insert(0, m21.tempo.MetronomeMark(number=round(melody.tempo_bpm)))
    return notation.write_score(score, path)
