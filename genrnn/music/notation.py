"""Notation through music21: the offline corpus, ABC in, MusicXML out, key analysis.

music21 is imported lazily (it costs a quarter second) so ``genrnn.music`` stays cheap.
Every failure to parse or convert raises ``MidiConversionError`` naming the piece and why.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.errors import MidiConversionError
from genrnn.music.instruments import FAMILIES, group_name, instrument_name
from genrnn.music.metrics import time_at_polyphony
from genrnn.music.notes import MIDI_SUFFIXES, Note, NoteSequence

DEFAULT_BPM = 100.0  # chorales and most ABC tunes carry no tempo
DEFAULT_VELOCITY = 80
MAX_ABC_CHARS = 50_000
GRID_DIVISORS = (4, 3)  # MusicXML quantisation: 16ths and 8th-note triplets
MAX_PARTS = 8
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
ABC_COLLECTIONS = ("essenFolksong", "ryansMammoth", "oneills1850", "airdsAirs", "miscFolk")


def _m21() -> Any:
    import music21

    return music21


# ---------------------------------------------------------------- corpus access


def chorale_paths(limit: int | None = None) -> list[tuple[str, Path]]:
    """(name, file) of the Bach chorales that ship with music21 (Riemenschneider order), each
    file once: music21's listing has 371 entries but 349 distinct files (repeated names, and
    e.g. "bwv69.6" and "bwv69.6-a" are one file), and a repeat could land on both sides of a
    held-out split."""
    from music21 import corpus
    from music21.corpus import chorales

    out = []
    seen: set[str] = set()
    for name in chorales.Iterator(returnType="filename"):
        work = corpus.getWork(name)
        if isinstance(work, list):
            work = sorted(work, key=lambda p: (Path(p).suffix != ".mxl", str(p)))[0]
        key = str(Path(work).resolve())
        if str(name) in seen or key in seen:
            continue
        seen.update((str(name), key))
        out.append((str(name), Path(work)))
        if limit is not None and len(out) >= limit:
            break
    return out


def abc_collection_paths(collections: list[str] | tuple[str, ...]) -> list[Path]:
    """The .abc files of named music21 corpus folders (e.g. "oneills1850")."""
    root = Path(_m21().__file__).parent / "corpus"
    paths: list[Path] = []
    for name in collections:
        folder = root / name
        if not folder.is_dir():
            known = [c for c in ABC_COLLECTIONS if (root / c).is_dir()]
            raise MidiConversionError(f"music21 corpus has no ABC collection {name!r}; it ships {known}")
        paths.extend(sorted(folder.rglob("*.abc")))
    return paths


def work_paths(composers: list[str] | tuple[str, ...]) -> list[tuple[str, Path]]:
    """(name, file) of the scores music21 ships for composer folders (e.g. "haydn": string
    quartets), one file per work: MusicXML where the corpus holds it twice (.mxl and .krn)."""
    root = Path(_m21().__file__).parent / "corpus"
    out: dict[str, Path] = {}
    for composer in composers:
        folder = root / composer
        if not folder.is_dir():
            raise MidiConversionError(f"music21 corpus has no folder {composer!r} (e.g. haydn, mozart, beethoven)")
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".mxl", ".xml", ".musicxml", ".krn") and path.is_file():
                name = path.relative_to(root).with_suffix("").as_posix()
                if name not in out or path.suffix != ".krn":
                    out[name] = path
    return sorted(out.items())


def split_abc_tunes(text: str) -> list[str]:
    """The tunes of an ABC file, each starting at its ``X:`` line."""
    parts = re.split(r"(?m)^(?=X:)", text)
    return [p.strip() + "\n" for p in parts if p.lstrip().startswith("X:")]


def parse_score(path: str | os.PathLike[str]) -> Any:
    """A music21 score from a file (MusicXML, .mxl, ABC, kern, ...), never from music21's cache."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _m21().converter.parse(str(path), forceSource=True)
    except Exception as exc:  # noqa: BLE001 - music21 raises many types
        raise MidiConversionError(f"{path}: does not parse ({_short(exc)})") from None


def load_score(path: str | os.PathLike[str]) -> NoteSequence:
    """A score file (MusicXML, kern, ABC) as notes, each part with its instrument."""
    return score_to_sequence(parse_score(path), name=str(path))


# ---------------------------------------------------------------- score → notes


def score_to_sequence(score: Any, name: str = "score", default_bpm: float = DEFAULT_BPM) -> NoteSequence:
    """Notes of every part (ties merged, grace notes dropped) at the score's first tempo."""
    bpm = _first_tempo(score) or default_bpm
    sec_per_quarter = 60.0 / bpm
    notes: list[Note] = []
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    for part in parts:
        program = _program(part)
        for el in part.stripTies().flatten().notes:
            ql = float(el.duration.quarterLength)
            if ql <= 0:
                continue
            start = float(el.offset) * sec_per_quarter
            velocity = el.volume.velocity if el.volume.velocity else DEFAULT_VELOCITY
            for p in el.pitches:
                if 0 <= p.midi <= 127:
                    notes.append(Note(int(p.midi), int(velocity), start, start + ql * sec_per_quarter, program))
    if not notes:
        raise MidiConversionError(f"{name}: no notes")
    return NoteSequence(notes=notes, tempo_bpm=bpm, time_signature=_time_signature(score))


def _first_tempo(score: Any) -> float | None:
    marks = score.flatten().getElementsByClass("MetronomeMark")
    for mark in marks:
        qbpm = mark.getQuarterBPM()
        if qbpm and 10 <= qbpm <= 1000:
            return float(qbpm)
    return None


def _time_signature(score: Any) -> tuple[int, int] | None:
    found = score.flatten().getElementsByClass("TimeSignature")
    return (int(found[0].numerator), int(found[0].denominator)) if found else None


# Scores often give every string part the ensemble program (48): the part's name says which it is.
STRING_PARTS = (("violoncello", 42), ("cello", 42), ("contrabass", 43), ("double bass", 43), ("viola", 41),
                ("violin", 40))


def _program(part: Any) -> int:
    inst = part.getInstrument(returnDefault=False)
    program = getattr(inst, "midiProgram", None) if inst is not None else None
    program = int(program) if program is not None and 0 <= program <= 127 else 0
    if program in (0, 48, 49):
        name = f"{part.partName or ''} {getattr(inst, 'instrumentName', '') or ''}".lower()
        program = next((p for word, p in STRING_PARTS if word in name), program)
    return program


# ---------------------------------------------------------------- ABC


def abc_to_score(text: str, name: str = "tune") -> Any:
    """Parse one ABC tune with music21; a bad tune → MidiConversionError naming why."""
    if not text.strip():
        raise MidiConversionError(f"{name}: empty ABC text")
    if len(text) > MAX_ABC_CHARS:
        raise MidiConversionError(f"{name}: ABC tune longer than {MAX_ABC_CHARS} characters")
    if not re.search(r"(?m)^X:", text):
        text = "X:1\n" + text
    if not re.search(r"(?m)^K:", text):
        raise MidiConversionError(f"{name}: ABC has no K: (key) field")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = _m21().converter.parse(text, format="abc", forceSource=True)
    except Exception as exc:  # noqa: BLE001
        raise MidiConversionError(f"{name}: ABC does not parse ({_short(exc)})") from None
    if not len(score.flatten().notes):
        raise MidiConversionError(f"{name}: ABC has no notes")
    return score


def abc_to_sequence(text: str, name: str = "tune") -> NoteSequence:
    return score_to_sequence(abc_to_score(text, name), name=name)


def abc_to_midi(text: str, path: str | os.PathLike[str], name: str = "tune") -> Path:
    from genrnn.music.midi_io import write_midi

    return write_midi(abc_to_sequence(text, name), path)


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:120]


# ---------------------------------------------------------------- MusicXML


def sequence_to_score(seq: NoteSequence) -> Any:
    """A music21 Score. One instrument (a chorale, a merged performance): one part per voice line
    (chordified when the texture is dense). Several: one part per instrument, named and set to
    its General MIDI program (the drum kit as percussion), chords where its lines overlap."""
    m21 = _m21()
    bpm = seq.tempo_bpm or 120.0
    qps = bpm / 60.0
    instruments = sorted({(n.program, n.is_drum) for n in seq.notes}, key=lambda k: (k[1], k[0]))
    if not instruments:
        raise MidiConversionError("cannot write MusicXML: the sequence has no notes")
    score = m21.stream.Score()
    if len(instruments) == 1 and not instruments[0][1]:
        parts = [_voice_part(v, qps) for v in _split_voices(seq.notes)]
        for part in parts:
            score.insert(0, part)
        if len(parts) > MAX_PARTS:
            score = _one_part(score.chordify())  # a Part (music21 9): always a Score
    else:
        for program, drum in instruments:
            score.insert(0, _instrument_part([n for n in seq.notes if (n.program, n.is_drum) == (program, drum)],
                                             program, drum, qps))
    first = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    first.insert(0, m21.tempo.MetronomeMark(number=round(bpm)))
    if seq.time_signature:
        num, den = seq.time_signature
        for part in score.parts if len(score.parts) else [score]:
            part.insert(0, m21.meter.TimeSignature(f"{num}/{den}"))
    return score


def _one_part(part: Any) -> Any:
    score = _m21().stream.Score()
    score.insert(0, part)
    return score


def _instrument_part(notes: list[Note], program: int, drum: bool, qps: float) -> Any:
    """One instrument's notes as one part: its voice lines chordified into it when they overlap."""
    m21 = _m21()
    voices = [_voice_part(v, qps) for v in _split_voices(notes)]
    if len(voices) == 1:
        part = voices[0]
    else:
        lines = m21.stream.Score()
        for v in voices:
            lines.insert(0, v)
        part = lines.chordify()
    inst = m21.instrument.Percussion() if drum else m21.instrument.instrumentFromMidiProgram(program)
    inst.partName = instrument_name(program, drum)
    part.insert(0, inst)
    part.partName = inst.partName
    return part


def _split_voices(notes: list[Note]) -> list[list[Note]]:
    """Greedy voice split: each voice is a non-overlapping line; highest notes first."""
    voices: list[list[Note]] = []
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        for voice in voices:
            if voice[-1].end <= note.start + 1e-6:
                voice.append(note)
                break
        else:
            voices.append([note])
    return voices


def _voice_part(notes: list[Note], qps: float) -> Any:
    m21 = _m21()
    part = m21.stream.Part()
    cursor = 0.0
    for n in notes:
        start, end = _snap(n.start * qps), _snap(n.end * qps)
        start = max(start, cursor)
        if end <= start:
            continue
        el = m21.note.Note(n.pitch, quarterLength=end - start)
        el.volume.velocity = n.velocity
        part.insert(start, el)
        cursor = end
    return part


def _snap(ql: float) -> float:
    """Nearest point of a 16th or triplet-8th grid, whichever is closer."""
    best = min((round(ql * d) / d for d in GRID_DIVISORS), key=lambda v: abs(v - ql))
    return float(best)


def write_musicxml(seq: NoteSequence, path: str | os.PathLike[str]) -> Path:
    """Write ``seq`` as MusicXML (quantised, measures and ties made by music21), atomically."""
    return write_score(sequence_to_score(seq), path)


def write_score(score: Any, path: str | os.PathLike[str]) -> Path:
    """Write a music21 score as MusicXML atomically (a temp file ``os.replace``d into place)."""
    import tempfile

    from genrnn.music.midi_io import readable_like_umask

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".musicxml", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), _quiet_channel_warning():
            warnings.simplefilter("ignore")
            written = Path(score.write("musicxml", fp=tmp))
        readable_like_umask(written)  # mkstemp made it private; a score is not a secret
        os.replace(written, path)
    except Exception as exc:  # noqa: BLE001 - music21 raises many types
        Path(tmp).unlink(missing_ok=True)
        raise MidiConversionError(f"{path}: cannot write MusicXML ({_short(exc)})") from None
    return path


@contextlib.contextmanager
def _quiet_channel_warning() -> Iterator[None]:
    """music21 gives each part a MIDI channel for playback hints and, past 15 parts, writes
    "we are out of midi channels! help!" straight to stderr (the file is still right: parts
    share channels, as our .mid writer does). Drop that line; pass anything else on."""
    caught = io.StringIO()
    with contextlib.redirect_stderr(caught):
        yield
    rest = "".join(line for line in caught.getvalue().splitlines(keepends=True)
                   if "out of midi channels" not in line)
    if rest:
        sys.stderr.write(rest)


# ---------------------------------------------------------------- key analysis


@dataclass(frozen=True, slots=True)
class KeyLabel:
    tonic: str  # one of PITCH_NAMES
    mode: str  # "major" | "minor"
    correlation: float

    @property
    def name(self) -> str:
        """The ``key`` label's value: the tonic, with ``m`` for minor ("A", "Am")."""
        return self.tonic + ("m" if self.mode == "minor" else "")

    @property
    def labels(self) -> dict[str, str]:
        return {"key": self.name, "mode": self.mode}

    def transposed(self, semitones: int) -> KeyLabel:
        pc = (PITCH_NAMES.index(self.tonic) + semitones) % 12
        return KeyLabel(PITCH_NAMES[pc], self.mode, self.correlation)


def analyse_key(seq: NoteSequence) -> KeyLabel:
    """Key by correlating the duration-weighted pitch-class profile with music21's
    Aarden–Essen key weights (what ``Stream.analyze("key")`` uses by default)."""
    from music21.analysis import discrete

    hist = np.zeros(12)
    for n in seq.notes:
        if not n.is_drum:
            hist[n.pitch % 12] += n.duration
    if not hist.any():
        raise MidiConversionError("cannot analyse key: no pitched notes")
    ks = discrete.AardenEssen()
    best = KeyLabel("C", "major", -2.0)
    for mode in ("major", "minor"):
        weights = np.asarray(ks.getWeights(mode), float)
        for tonic in range(12):
            r = float(np.corrcoef(hist, np.roll(weights, tonic))[0, 1])
            if r > best.correlation:
                best = KeyLabel(PITCH_NAMES[tonic], mode, r)
    return best


def matches_labels(seq: NoteSequence, labels: list[str]) -> tuple[bool, str]:
    """Whether music21's key profiles find the asked ``mode=``/``key=`` labels in a piece (other
    kinds are not checked), and what they found ("A minor", or "no notes")."""
    try:
        key = analyse_key(seq)
    except MidiConversionError:
        return False, "no notes"
    found = key.labels
    wanted = dict(lb.split("=", 1) for lb in labels if lb.split("=", 1)[0] in found)  # not rests=…
    if wanted.get("mode") == "minor" and not wanted.get("key", "m").endswith("m"):
        found["key"] = key.tonic  # a model made before keys named their mode: key=A is the tonic
    return all(found[kind] == value for kind, value in wanted.items()), f"{key.tonic} {key.mode}"


REST_SECONDS = 0.2  # a silence of every voice at least this long, inside a piece, is a rest


def phrase_rests(seq: NoteSequence) -> str:
    """The ``rests`` label: "yes" when every voice falls silent together somewhere inside the
    piece (Bach chorales that breathe between phrases: 9 of 32 held-out ones), else "no"."""
    notes = sorted((n for n in seq.notes if not n.is_drum), key=lambda n: n.start)
    end = notes[0].end if notes else 0.0
    for n in notes[1:]:
        if n.start - end >= REST_SECONDS:
            return "yes"
        end = max(end, n.end)
    return "no"


def key_tonic(value: str) -> str:
    """A ``key`` label's tonic ("Am" → "A", "Bb" → "Bb"); labels of models made before keys
    named their mode are a bare tonic already."""
    return value[:-1] if value.endswith("m") else value


MAX_VOICES = 12  # the ``voices`` label's top value: twelve or more
VOICE_SECONDS = 0.1  # k notes at once for less than this, in all, does not make k voices


def piece_voices(seq: NoteSequence) -> str:
    """The ``voices`` label: the most notes sounding together for ``VOICE_SECONDS`` or more in
    all (29 of the 32 held-out chorales: "4"; the rest 5 to 7, where instruments double). The
    sampler holds a piece to the number it drew (generation/grammar.py)."""
    seconds = time_at_polyphony(seq.without_drums())
    most = max((k for k, t in enumerate(seconds) if t >= VOICE_SECONDS), default=0)
    return str(min(max(most, 1), MAX_VOICES))


# ``labels = ["instruments"]``: one kind per GM family and one for the drums, each ``yes`` or
# ``no`` (``bass=yes``): which instruments play, held at every step like the other labels, so
# ``--instruments piano,bass,drums`` asks for an ensemble and a bare START lets the model draw one.
INSTRUMENT_KINDS = tuple(f.replace(" ", "-") for f in FAMILIES) + ("drums",)


def label_kinds_of(kinds: list[str] | tuple[str, ...]) -> list[str]:
    """A recipe's ``labels`` with ``instruments`` spelled out into its kinds."""
    return [k for kind in kinds for k in (INSTRUMENT_KINDS if kind == "instruments" else (kind,))]


def piece_labels(seq: NoteSequence, kinds: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The piece-wide labels of ``kinds`` that do not depend on transposition (``rests``,
    ``voices``, the instruments that play)."""
    out = {}
    if "rests" in kinds:
        out["rests"] = phrase_rests(seq)
    if "voices" in kinds:
        out["voices"] = piece_voices(seq)
    if set(label_kinds_of(kinds)) & set(INSTRUMENT_KINDS):
        present = {group_name(n.program, n.is_drum).replace(" ", "-") for n in seq.notes}
        out |= {kind: "yes" if kind in present else "no" for kind in INSTRUMENT_KINDS}
    return out


def label_vocabulary(kinds: list[str] | tuple[str, ...]) -> list[str]:
    """Every label token a recipe's ``labels = [...]`` can produce, e.g. "mode=minor"."""
    # A key names its mode ("A" or "Am"): with the tonic alone, a model held on ``key=Bb`` and
    # ``mode=minor`` played B-flat major, because most B-flat records are major and the key's
    # embedding outweighed the mode's (mode match 35 % for minor; benchmarks/README.md).
    values = {"mode": ["major", "minor"], "key": [*PITCH_NAMES, *(p + "m" for p in PITCH_NAMES)],
              "rests": ["yes", "no"], "voices": [str(k) for k in range(1, MAX_VOICES + 1)],
              **{k: ["yes", "no"] for k in INSTRUMENT_KINDS}}
    unknown = [k for k in kinds if k not in values and k != "instruments"]
    if unknown:
        raise MidiConversionError(f"unknown label kind(s) {unknown}; expected some of "
                                  f"{sorted(set(values) - set(INSTRUMENT_KINDS)) + ['instruments']}")
    return [f"{k}={v}" for k in label_kinds_of(kinds) for v in values[k]]


SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl", ".krn")


def read_piece(path: str | Path) -> NoteSequence:
    """A .mid (any MIDI suffix), .abc (its first tune) or MusicXML/.mxl/kern file → notes."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from genrnn.music.midi_io import read_midi  # pretty_midi loads only for a MIDI file

        return read_midi(p)
    if not p.is_file():
        raise MidiConversionError(f"{p}: no such file")
    if suffix == ".abc":
        text = p.read_text(encoding="utf-8", errors="replace")
        tunes = split_abc_tunes(text) or [text]
        return abc_to_sequence(tunes[0], name=str(p))
    if suffix in SCORE_SUFFIXES:
        return score_to_sequence(parse_score(p), name=str(p))
    raise MidiConversionError(f"{p}: unknown file type {suffix or '(none)'!r}; expected "
                              f"{', '.join(MIDI_SUFFIXES + ('.abc',) + SCORE_SUFFIXES)}")
