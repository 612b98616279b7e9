"""Copy check: the longest span of a generated piece or text copied verbatim from the training data.

A model that copies its data is a known complaint (textgenrnn's users asked for this check), so
``genrnn eval`` prints the distribution of the longest copied span and ``genrnn sample
--check-copies`` flags samples over a threshold.

**The search.** The training data is one integer sequence (pieces joined by separators that
match nothing, so no span crosses two pieces). ``SuffixIndex`` sorts its suffixes once (a suffix
array by prefix doubling in NumPy: O(n log n) per round, log2 of the longest repeat rounds;
~1-2 s for 1 MB of text). A query is then answered by its matching statistics: for each start
in the query, a binary search of the suffix array (``bisect`` over byte slices, compared in C)
finds the longest prefix that occurs in the training data. A 1,000-character sample costs
~20,000 byte comparisons: milliseconds, whatever the size of the corpus. Building takes ~50
bytes a symbol at its peak (10 M characters: 25 s, 0.7 GB; benchmarks/copy_check.py).

**Text** (character and ABC models): the sequence is the training split's character ids; the
longest copy is counted in characters.

**Music** (event models): a piece becomes a transposition- and tempo-invariant sequence of
*links*, one per pair of consecutive notes in a fixed order:

1. Drums are left out (their pitch names a sound, not a height); the other instruments are
   read as one texture (a copy is the notes, whoever plays them).
2. The piece's 16th is estimated from its own onsets (``metrics.estimate_sixteenth``: the
   pulse they keep, put in one octave of tempo), never from a tempo in the file (a generated
   .mid says 120 bpm whatever it plays), so a piece at any tempo or stretch quantises alike.
3. Onsets closer than half a 16th are one chord; the gap from one chord to the next is rounded
   to whole 16ths (each gap on its own, so a drifting tempo does not add up to an error), and
   every duration is rounded to whole 16ths.
4. Notes are ordered by (chord, pitch, duration): a chord is read bottom up, always the same way.
5. Link *i* is (pitch of note *i* minus note *i-1*, 16ths from note *i-1*'s onset to note *i*'s,
   duration of note *i-1*, duration of note *i*). A run of *k* equal links is *k+1* notes
   copied with every pitch interval, onset and duration equal: the same passage in any key.

The span of a copy is counted in **events** (notes) and in **beats** (4 of the piece's 16ths),
from the first copied onset to the last copied release. The longest copy in events and the
longest in beats may be different spans; both are reported. The estimated 16th puts the beat in
one octave of tempo (quarter notes at 90-180 bpm): a slower piece's beats are its eighths, so
its copies count double (4 of the 317 training chorales; the check errs towards "copied").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.config import MUSIC_LIMIT_BEATS, TEXT_LIMIT_CHARS
from genrnn.errors import ConfigError, CorpusError, GenrnnError
from genrnn.music.metrics import estimate_sixteenth
from genrnn.music.notes import NoteSequence

_MAX_STEPS = 4095  # a gap or duration longer than this many 16ths is held at it


# ---------------------------------------------------------------- the search


def suffix_array(codes: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of ``codes`` (non-negative ints) in sorted order, a
    shorter suffix before a longer one it begins; prefix doubling (Manber-Myers) with NumPy
    sorts."""
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, rank = np.unique(codes, return_inverse=True)
    rank = rank.astype(np.int64).ravel() + 1  # 0 stands for "past the end"
    k = 1
    while True:
        second = np.zeros(n, dtype=np.int64)
        second[: n - k] = rank[k:] if k < n else second[:0]
        key = rank * (n + 2) + second
        order = np.argsort(key)  # equal keys get equal ranks: no need of a stable sort
        sorted_key = key[order]
        new = np.empty(n, dtype=np.int64)
        new[order] = np.concatenate(([1], 1 + np.cumsum(sorted_key[1:] != sorted_key[:-1])))
        rank = new
        if rank.max() == n or k >= n:
            return order
        k *= 2


def _width(top: int) -> str:
    """A big-endian dtype wide enough for codes up to ``top``: bytes compare as the numbers do."""
    return ">u1" if top < 1 << 8 else ">u2" if top < 1 << 16 else ">u4"


class SuffixIndex:
    """The training data's suffixes in order, for the longest match of any query in it."""

    def __init__(self, codes: np.ndarray) -> None:
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= (1 << 32) - 1):
            raise ConfigError(f"copy check: codes must lie in 0..2^32-2, got {codes.min()}..{codes.max()}")
        self.size = int(codes.size)
        self.absent = int(codes.max()) + 1 if codes.size else 0  # a code the data never holds
        self.dtype = _width(self.absent)
        self.width = np.dtype(self.dtype).itemsize
        self.text = codes.astype(self.dtype).tobytes()
        order = suffix_array(codes)
        self.order = order.astype(np.int32) if self.size < 1 << 31 else order  # bisect reads it in place

    def matching_statistics(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each start *i* in ``query``: the length of its longest prefix found in the
        training data, and where it starts there (-1 where nothing matches)."""
        query = np.asarray(query, dtype=np.int64)
        if query.size and query.min() < 0:
            raise ConfigError(f"copy check: query codes must be ≥ 0, got {query.min()}")
        q = np.minimum(query, self.absent).astype(self.dtype).tobytes()  # codes past the data's match nothing
        w, text, order = self.width, self.text, self.order
        m = len(query)
        lengths = np.zeros(m, dtype=np.int64)
        sources = np.full(m, -1, dtype=np.int64)
        for i in range(m):
            probe = q[i * w:]
            span = len(probe)
            at = bisect.bisect_left(order, probe, key=lambda j, s=span: text[j * w: j * w + s])
            for nb in (at - 1, at):
                if 0 <= nb < len(order):
                    j = int(order[nb])
                    n = _common(probe, text[j * w: j * w + span]) // w
                    if n > lengths[i]:
                        lengths[i], sources[i] = n, j
        return lengths, sources

    def longest(self, query: np.ndarray) -> tuple[int, int, int]:
        """(length, start in the query, start in the training data) of the longest match;
        (0, 0, -1) when nothing matches."""
        lengths, sources = self.matching_statistics(query)
        if not len(lengths) or lengths.max() == 0:
            return 0, 0, -1
        i = int(np.argmax(lengths))
        return int(lengths[i]), i, int(sources[i])


def _common(a: bytes, b: bytes) -> int:
    """Length of the common prefix of two byte strings (binary search on slices: C compares)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while lo < hi:  # a[:lo] == b[:lo], a[:hi] != b[:hi]
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------- text


@dataclass(frozen=True)
class TextCopy:
    """The longest stretch of a sample found verbatim in the training text."""

    chars: int
    start: int  # in the sample
    source_start: int  # in the training text
    text: str  # the copied characters

    def row(self) -> dict[str, Any]:
        return {"chars": self.chars, "start": self.start, "source_start": self.source_start, "text": self.text}


class TextCopies:
    """The training split of a character model (its token ids), ready to check samples against."""

    unit = "chars"
    default_limit = TEXT_LIMIT_CHARS

    def __init__(self, train_ids: np.ndarray, tokenizer: Any) -> None:
        self.index = SuffixIndex(np.asarray(train_ids))
        self.tokenizer = tokenizer  # the model's: text ↔ ids

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids)))

    def check(self, sample: str | Sequence[int] | np.ndarray) -> TextCopy:
        """The longest copy in a sample (its text, or its token ids)."""
        ids = np.asarray(self.tokenizer.encode(sample) if isinstance(sample, str) else sample, dtype=np.int64)
        length, start, source = self.index.longest(ids)
        return TextCopy(length, start, source, self.decode(ids[start: start + length].tolist()) if length else "")


# ---------------------------------------------------------------- music


@dataclass(frozen=True)
class Links:
    """A piece as the copy check reads it (the module's steps 1-5): ``links[i]`` joins notes
    i and i+1 of the ordered notes; ``onset``/``duration`` in the piece's 16ths, ``start``
    in seconds."""

    links: np.ndarray  # (n-1,) int64 codes
    onset: np.ndarray  # (n,) 16ths from the first note
    duration: np.ndarray  # (n,) 16ths
    start: np.ndarray  # (n,) seconds
    sixteenth: float  # seconds

    def span_beats(self, first: int, links: int) -> float:
        """Beats from note ``first``'s onset to the last release of the ``links + 1`` notes."""
        if links <= 0:
            return 0.0
        sl = slice(first, first + links + 1)
        return float((self.onset[sl] + self.duration[sl]).max() - self.onset[first]) / 4


def links_of(seq: NoteSequence) -> Links:
    """``seq`` → its links (the module's steps 1-5); a piece with fewer than 4 distinct onsets
    has none (no 16th can be estimated)."""
    notes = [n for n in seq.notes if not n.is_drum]
    starts = np.array(sorted({round(n.start, 3) for n in notes}), dtype=float)
    empty = np.zeros(0, dtype=np.int64)
    if len(starts) < 4:
        return Links(empty, empty, empty, np.zeros(0), 0.0)
    step, _ = estimate_sixteenth(starts)
    gaps = np.clip(np.rint(np.diff(starts) / step), 0, _MAX_STEPS).astype(np.int64)
    chord_at = np.concatenate(([0], np.cumsum(gaps)))  # each distinct onset's 16th
    onset_of = dict(zip(starts.tolist(), chord_at.tolist(), strict=True))
    rows = sorted((onset_of[round(n.start, 3)], n.pitch,
                   int(np.clip(round(n.duration / step), 0, _MAX_STEPS)), n.start) for n in notes)
    onset = np.array([r[0] for r in rows], dtype=np.int64)
    pitch = np.array([r[1] for r in rows], dtype=np.int64)
    duration = np.array([r[2] for r in rows], dtype=np.int64)
    start = np.array([r[3] for r in rows], dtype=float)
    codes = ((np.diff(pitch) + 128) << 36) | (np.diff(onset) << 24) | (duration[:-1] << 12) | duration[1:]
    return Links(codes, onset, duration, start, float(step))


def top_line(seq: NoteSequence) -> NoteSequence:
    """The skyline as notes (``metrics.top_voice``'s line, with its times): at each onset the
    highest note sounding, a held one not repeated. Its copies are a tune's, whatever the other
    voices do (a hymn tune harmonised anew)."""
    notes = sorted((n for n in seq.notes if not n.is_drum), key=lambda n: (n.start, n.pitch))
    starts = np.array([n.start for n in notes])
    longest = max((n.duration for n in notes), default=0.0)
    line, last = [], None
    for t in np.unique(starts):
        lo, hi = np.searchsorted(starts, [t - longest - 1e-9, t], side="right")
        sounding = [n for n in notes[lo:hi] if n.start <= t < n.end]
        if not sounding:  # zero-length notes only
            continue
        top = max(sounding, key=lambda n: (n.pitch, -n.start))
        if top is not last:
            line.append(top)
        last = top
    return NoteSequence(line)


@dataclass(frozen=True)
class MusicCopy:
    """The longest copies of one generated piece: in notes (``events``) and in ``beats`` (the
    span of the longest copy in beats: where it starts in the piece, and where it comes from)."""

    events: int
    beats: float
    seconds: float  # where the longest copy in beats starts in the generated piece
    until: float  # and where it ends (seconds)
    source: str  # the training piece it is found in ("" when nothing is copied)
    source_beat: float  # where it starts there, in beats from the piece's first note

    def row(self) -> dict[str, Any]:
        return {"events": self.events, "beats": self.beats, "seconds": round(self.seconds, 3),
                "until": round(self.until, 3), "source": self.source, "source_beat": self.source_beat}


class MusicCopies:
    """Training pieces joined into one ``SuffixIndex`` of their links, one separator between
    pieces; generated pieces are checked against it."""

    unit = "beats"
    default_limit = MUSIC_LIMIT_BEATS

    def __init__(self, pieces: Sequence[tuple[str, NoteSequence]]) -> None:
        read = [(name, links_of(seq)) for name, seq in pieces]
        self.names = [name for name, _ in read]
        self.pieces = [links for _, links in read]
        self.vocab = np.unique(np.concatenate([p.links for p in self.pieces] or [np.zeros(0, np.int64)]))
        unseen = len(self.vocab)  # a link no training piece has: matches nothing
        parts, offsets = [], []
        pos = 0
        for n, p in enumerate(self.pieces):
            offsets.append(pos)
            parts += [np.searchsorted(self.vocab, p.links), [unseen + 1 + n]]
            pos += len(p.links) + 1
        self.offsets = np.array(offsets, dtype=np.int64)
        self.unseen = unseen
        codes = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        self.index = SuffixIndex(codes)

    def codes(self, links: np.ndarray) -> np.ndarray:
        """A piece's links as the index's codes (a link never seen in training: ``unseen``)."""
        at = np.searchsorted(self.vocab, links).clip(0, max(len(self.vocab) - 1, 0))
        hit = self.vocab[at] == links if len(self.vocab) else np.zeros(len(links), bool)
        return np.where(hit, at, self.unseen)

    def check(self, seq: NoteSequence) -> MusicCopy:
        piece = links_of(seq)
        if not len(piece.links) or not len(self.vocab):
            return MusicCopy(0, 0.0, 0.0, 0.0, "", 0.0)
        lengths, sources = self.index.matching_statistics(self.codes(piece.links))
        beats = np.array([piece.span_beats(i, int(n)) for i, n in enumerate(lengths)])
        best = int(np.argmax(beats))
        if lengths[best] == 0:
            return MusicCopy(0, 0.0, 0.0, 0.0, "", 0.0)
        where = int(np.searchsorted(self.offsets, sources[best], side="right")) - 1
        local = int(sources[best] - self.offsets[where])
        start = float(piece.start[best])
        return MusicCopy(int(lengths.max()) + 1, float(beats[best]), start, start + 4 * piece.sixteenth * beats[best],
                         self.names[where], float(self.pieces[where].onset[local]) / 4)


# ---------------------------------------------------------------- the training data


def training_pieces(recipe: str | Path, cache_dir: str | Path | None = None) -> list[tuple[str, NoteSequence]]:
    """A MIDI recipe's training pieces as written (``recipes.PIECES_AS_WRITTEN``, the critic's
    own preparation, so one cache serves both), with their names."""
    from genrnn.corpora import recipes

    # Every stretch the model learned quantises like the piece itself (step 2 above) and every
    # transposition reads the same (step 5), so augmented copies would add nothing.
    _, corpus = recipes.prepare_midi(recipe, "the music copy check", recipes.PIECES_AS_WRITTEN, cache_dir)
    tok = corpus.tokenizer
    return [(name, tok.decode(tok.split_labels(rec)[1])) for name, rec in recipes.named_records(corpus, "train")]


def training_data(model: Any) -> str:
    """The training data a model's file names: its recipe (``recipe_path``, else
    ``corpora/NAME.toml``), else its text file; ConfigError when none of them is here."""
    corpus = model.training.get("corpus", {}) if isinstance(model.training, dict) else {}
    source = str(corpus.get("source") or "")
    named = re.search(r"\(([^()]+\.toml)\)$", source)  # "file.txt (corpora/x.toml)": a text recipe
    candidates = [corpus.get("recipe_path"), corpus.get("recipe"), named.group(1) if named else None,
                  f"corpora/{corpus['recipe']}.toml" if corpus.get("recipe") else None, source]
    for c in candidates:
        if c and Path(str(c)).exists():
            return str(c)
    raise ConfigError(f"{model.path.name}: its training data ({source or 'not recorded'}) is not here; "
                      f"name it with --train-data FILE|FOLDER|RECIPE.toml")


def copy_checker(model: Any, train: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> MusicCopies | TextCopies:
    """The copy check for ``model``'s samples against its training split: ``train`` (a recipe,
    a text file or folder), else the one its file names (``training_data``). Event models get
    ``MusicCopies`` of the recipe's training pieces; text and ABC models ``TextCopies`` of the
    training split's characters."""
    from genrnn import session
    from genrnn.corpora.text_recipe import is_text_recipe

    source = str(train) if train is not None else training_data(model)
    if model.kind == "midi_events":
        if not source.endswith(".toml"):
            raise ConfigError(f"--train-data {source}: an event model's training data is a MIDI recipe (.toml)")
        return MusicCopies(training_pieces(source, cache_dir))
    is_recipe = source.endswith(".toml")
    if is_recipe and model.kind == "text" and not is_text_recipe(source):
        raise ConfigError(f"--train-data {source}: a text model's training data is a text file, folder or text recipe")
    try:
        corpus = session.prepare_corpus(text=None if is_recipe else source, recipe=source if is_recipe else None,
                                        cache_dir=cache_dir, tokenizer=model.tokenizer if not is_recipe or
                                        model.kind == "text" else None)
    except GenrnnError as exc:
        hint = "" if "--train-data" in str(exc) else " (or name a copy with --train-data)"
        raise type(exc)(f"the copy check's training data: {exc}{hint}") from None
    if corpus.tokenizer.to_dict() != model.tokenizer.to_dict():
        raise CorpusError(f"{source}: its characters are not those {model.path.name} was trained with")
    return TextCopies(np.asarray(corpus.train), model.tokenizer)


def distribution(values: Sequence[float]) -> dict[str, float]:
    """min, median, 90th percentile, max and mean of the longest copies (0s for none)."""
    v = np.asarray(values, dtype=float)
    if not v.size:
        return {"n": 0, "min": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0, "mean": 0.0}
    return {"n": int(v.size), "min": float(v.min()), "median": float(np.median(v)),
            "p90": float(np.percentile(v, 90)), "max": float(v.max()), "mean": float(v.mean())}


def summary(rows: Sequence[dict[str, Any]], unit: str, limit: float) -> dict[str, Any]:
    """Distributions of the longest copies (``rows``: ``MusicCopy.row`` or ``TextCopy.row``)
    and how many go past ``limit`` (in ``unit``)."""
    measures = ("beats", "events") if unit == "beats" else ("chars",)
    return {**{m: distribution([r[m] for r in rows]) for m in measures},
            "over_limit": sum(r[unit] > limit for r in rows)}


def held_out_windows(ids: np.ndarray, count: int, length: int) -> list[np.ndarray]:
    """Up to ``count`` windows of ``length`` ids spread evenly over a held-out split: the real
    reference for text samples of that length."""
    ids = np.asarray(ids)
    if count <= 0 or len(ids) < length:
        return [ids] if len(ids) and count > 0 else []
    starts = np.linspace(0, len(ids) - length, num=min(count, len(ids) // length)).astype(int)
    return [ids[s: s + length] for s in starts]


def copy_section(checker: MusicCopies | TextCopies, generated: Sequence[Any], real: Sequence[Any],
                 limit: float, against: str, real_what: str) -> dict[str, Any]:
    """``eval``'s copy check: every generated sample's and every real reference's longest copy
    from the training data, their distributions and how many pass ``limit``."""
    gen = [checker.check(x).row() for x in generated]
    ref = [checker.check(x).row() for x in real]
    return {"unit": checker.unit, "limit": limit, "against": against, "real_what": real_what,
            "generated": gen, "real": ref,
            "summary": {"generated": summary(gen, checker.unit, limit), "real": summary(ref, checker.unit, limit)}}
