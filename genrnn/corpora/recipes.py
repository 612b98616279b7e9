"""Corpus recipes (corpora/*.toml) → cached train/val token arrays.

A recipe names a source (the music21 Bach chorales, music21 ABC collections, or a folder of
the user's MIDI files), a tokenizer, a split and an augmentation. ``prepare`` turns it into a
``PreparedCorpus`` whose arrays are ``np.load(mmap_mode="r")`` views of .npy files cached in
the cache root's ``corpora`` folder (corpora/base.py) in a folder keyed by the hash of the
recipe and of the source contents.
Bad files are skipped and counted (``strict`` makes the
first one fatal); their reasons go to ``skipped.log`` in the cache folder.

Recipe keys (all top level)::

    description = "..."
    source = "music21-chorales" | "music21-abc" | "music21-works" | "folder"
    folder = "../data/midi"        # source = "folder": relative to the recipe file
    collections = ["oneills1850"]  # source = "music21-abc"
    composers = ["haydn"]          # source = "music21-works": composer folders of the corpus
    tokenizer = "midi_events" | "chars"
    limit = 0                      # first N pieces/files only (0 = all)
    val_percent = 10               # held out by piece, by a salted hash of the piece name
    split_salt = "genrnn"
    transpose = [-3, 3]            # semitone range, training pieces only
    stretch = [0.95, 1.0, 1.05]    # tempo stretch factors, training pieces only (a piece with a
                                   # written tempo: the nearest that keeps its 16th on the 10 ms grid)
    instruments = "keep"           # midi_events: "keep" every instrument and the drums, "merge" into
                                   #   one performance (drums dropped; the default), or a list of
                                   #   the ones to keep: ["piano", "bass", "drums", "violin", 33]
    instrument_grain = "programs"  # "programs" (128 + the kit) or "families" (16 + the kit)
    pitch_order = "up"             # midi_events: a step's notes from the lowest ("up", the bass
                                   #   first) or from the highest ("down", the melody first)
    labels = ["mode", "key"]       # midi_events only: per-piece labels, as tokens after START
                                   #   ("instruments": which GM families and the drums play)
    label_dropout = 0.25           # share of training records where each label is left out
    header_fields = ["M", "L", "K"]  # chars/ABC: header fields kept before each tune body
    validate = true                # chars/ABC: keep only tunes music21 parses
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.config import load_toml
from genrnn.corpora import augment
from genrnn.corpora.base import PreparedCorpus, cache_folder, is_held_out
from genrnn.errors import ConfigError, CorpusError, GenrnnError
from genrnn.music import notation
from genrnn.music.instruments import GRAINS, parse_instrument
from genrnn.music.midi_io import read_midi
from genrnn.music.notes import MIDI_SUFFIXES, NoteSequence
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.chars import CharTokenizer
from genrnn.tokenizers.midi_events import END, PITCH_ORDERS, START, MidiEventTokenizer

PREP_VERSION = 9  # 9: the tokenizer knows the tick grids and velocities of the training pieces (grammar.py's tempo lock); 8: stretches on the tick grid (augment.on_ticks); 2: label dropout in labelled records; 3: the ``rests`` label; 4: records shuffled; 5: keys name their mode ("Am"); 6: the ``voices`` label; 7: instruments, and the ones training plays
SOURCES = ("music21-chorales", "music21-abc", "music21-works", "folder")
TOKENIZERS = ("midi_events", "chars")
POOL_MIN_JOBS = 24
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    source: str
    tokenizer: str
    description: str = ""
    folder: Path | None = None
    collections: tuple[str, ...] = ("oneills1850",)
    composers: tuple[str, ...] = ("haydn", "mozart", "beethoven")
    limit: int = 0
    val_percent: float = 10.0
    split_salt: str = "genrnn"
    transpose: tuple[int, int] = (0, 0)
    stretch: tuple[float, ...] = (1.0,)
    instruments: str | tuple[str, ...] = "merge"
    instrument_grain: str = "programs"
    pitch_order: str = "up"
    labels: tuple[str, ...] = ()
    label_dropout: float = 0.25
    header_fields: tuple[str, ...] = ("M", "L", "K")
    validate: bool = True
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "midi_events" if self.tokenizer == "midi_events" else "abc"

    def event_tokenizer(self) -> MidiEventTokenizer:
        grain = "merge" if self.instruments == "merge" else self.instrument_grain
        return MidiEventTokenizer(notation.label_vocabulary(self.labels), grain, pitch_order=self.pitch_order)

    def kept(self, seq: NoteSequence) -> NoteSequence:
        """The notes of the instruments this recipe keeps (``merge``: every pitched note)."""
        if self.instruments == "merge":
            return seq.without_drums()
        if self.instruments == "keep":
            return seq
        wanted = [parse_instrument(name) for name in self.instruments]
        return replace(seq, notes=[n for n in seq.notes if any(w.admits(n.program, n.is_drum) for w in wanted)])


# ---------------------------------------------------------------- recipe loading


def load_recipe(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and validate a recipe; errors name the file and the field. ``overrides`` replace
    fields of the file (e.g. ``{"labels": ["mode", "key"]}`` for ``train --conditioned``) and
    are part of the cache key like any field."""
    path = Path(path)
    return _recipe_from({**load_toml(path), **(overrides or {})}, path)


def _field(raw: dict[str, Any], path: Path, key: str, types: type | tuple[type, ...], default: Any) -> Any:
    value = raw.get(key, default)
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise ConfigError(f"{path}: field {key!r} = {value!r}: expected {_names(types)}")
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _tuple(types))


def _recipe_from(raw: dict[str, Any], path: Path) -> Recipe:
    known = set(Recipe.__dataclass_fields__) - {"name", "path", "raw"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; expected some of {sorted(known)}")
    source = _choice(raw, path, "source", SOURCES, None)
    tokenizer = _choice(raw, path, "tokenizer", TOKENIZERS, "chars" if source == "music21-abc" else "midi_events")
    if (tokenizer == "chars") != (source == "music21-abc"):
        raise ConfigError(f"{path}: tokenizer {tokenizer!r} does not fit source {source!r}")
    return Recipe(
        name=path.stem,
        path=path.resolve(),
        source=source,
        tokenizer=tokenizer,
        description=_field(raw, path, "description", str, ""),
        folder=_folder(raw, path, source),
        collections=tuple(_str_list(raw, path, "collections", ["oneills1850"])),
        composers=tuple(_str_list(raw, path, "composers", ["haydn", "mozart", "beethoven"])),
        limit=_ranged(raw, path, "limit", 0, 0, 10**9),
        val_percent=float(_ranged(raw, path, "val_percent", 10, 0, 50)),
        split_salt=_field(raw, path, "split_salt", str, "genrnn"),
        transpose=_transpose(raw, path),
        stretch=_stretch(raw, path),
        instruments=_instruments(raw, path, tokenizer),
        instrument_grain=_choice(raw, path, "instrument_grain", GRAINS, "programs"),
        pitch_order=_choice(raw, path, "pitch_order", PITCH_ORDERS, "up"),
        labels=_labels(raw, path, tokenizer),
        label_dropout=float(_ranged(raw, path, "label_dropout", 0.25, 0, 1)),
        header_fields=tuple(_str_list(raw, path, "header_fields", ["M", "L", "K"])),
        validate=_field(raw, path, "validate", bool, True),
        raw=raw,
    )


def _choice(raw: dict[str, Any], path: Path, key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise ConfigError(f"{path}: field {key!r} = {value!r}: expected one of {list(allowed)}")
    return str(value)


def _ranged(raw: dict[str, Any], path: Path, key: str, default: float, lo: float, hi: float) -> Any:
    value = _field(raw, path, key, (int, float), default)
    if not lo <= value <= hi:
        raise ConfigError(f"{path}: field {key!r} = {value}: expected {lo}..{hi}")
    return value


def _str_list(raw: dict[str, Any], path: Path, key: str, default: list[str]) -> list[str]:
    value = raw.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: field {key!r}: expected a list of strings")
    return value


def _folder(raw: dict[str, Any], path: Path, source: str) -> Path | None:
    if source != "folder":
        return None
    folder = _field(raw, path, "folder", str, "")
    if not folder:
        raise ConfigError(f"{path}: field 'folder': expected the path of a folder of .mid files")
    folder_path = Path(os.path.expandvars(folder)).expanduser()
    return folder_path if folder_path.is_absolute() else (path.parent / folder_path).resolve()


def _transpose(raw: dict[str, Any], path: Path) -> tuple[int, int]:
    value = raw.get("transpose", [0, 0])
    ok = isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
    if not ok or not -12 <= value[0] <= value[1] <= 12:
        raise ConfigError(f"{path}: field 'transpose' = {value!r}: expected [low, high] semitones in -12..12")
    return int(value[0]), int(value[1])


def _stretch(raw: dict[str, Any], path: Path) -> tuple[float, ...]:
    value = raw.get("stretch", [1.0])
    ok = isinstance(value, list) and value and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not ok or not all(0.5 <= v <= 2.0 for v in value):
        raise ConfigError(f"{path}: field 'stretch' = {value!r}: expected a list of factors in 0.5..2.0")
    return tuple(float(v) for v in value)


def _instruments(raw: dict[str, Any], path: Path, tokenizer: str) -> str | tuple[str, ...]:
    value = raw.get("instruments", "merge")
    if value in ("keep", "merge"):
        return str(value)
    if not isinstance(value, list) or not value or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(f"{path}: field 'instruments' = {value!r}: expected \"keep\", \"merge\" or a list "
                          f"of instruments such as [\"piano\", \"bass\", \"drums\"]")
    if tokenizer != "midi_events":
        raise ConfigError(f"{path}: field 'instruments' is only supported with tokenizer 'midi_events'")
    try:
        for name in value:
            parse_instrument(str(name))
    except GenrnnError as exc:
        raise ConfigError(f"{path}: field 'instruments': {exc}") from None
    return tuple(str(v) for v in value)


def _labels(raw: dict[str, Any], path: Path, tokenizer: str) -> tuple[str, ...]:
    labels = _str_list(raw, path, "labels", [])
    if labels and tokenizer != "midi_events":
        raise ConfigError(f"{path}: field 'labels' is only supported with tokenizer 'midi_events'")
    if "instruments" in labels and raw.get("instruments", "merge") == "merge":
        raise ConfigError(f"{path}: field 'labels': \"instruments\" needs instruments kept "
                          f"(instruments = \"keep\" or a list)")
    try:
        notation.label_vocabulary(labels)
    except GenrnnError as exc:
        raise ConfigError(f"{path}: field 'labels': {exc}") from None
    return tuple(labels)


# ---------------------------------------------------------------- source items


@dataclass(frozen=True)
class Item:
    """One piece (or one file that may hold several ABC tunes) of a source."""

    name: str
    path: Path
    text: str | None = None  # ABC tune text


def source_items(recipe: Recipe) -> list[Item]:
    if recipe.source == "music21-chorales":
        items = [Item(n, p) for n, p in notation.chorale_paths()]
    elif recipe.source == "music21-works":
        try:
            items = [Item(n, p) for n, p in notation.work_paths(recipe.composers)]
        except GenrnnError as exc:
            raise ConfigError(f"{recipe.path}: field 'composers': {exc}") from None
    elif recipe.source == "folder":
        items = _folder_items(recipe)
    else:
        items = _abc_items(recipe)
    return items[: recipe.limit] if recipe.limit else items


def _folder_items(recipe: Recipe) -> list[Item]:
    folder = recipe.folder
    assert folder is not None
    if not folder.is_dir():
        raise CorpusError(f"{recipe.path}: folder {str(folder)!r} does not exist (field 'folder')")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise CorpusError(f"{recipe.path}: folder {str(folder)!r} holds no .mid/.midi files")
    return [Item(p.relative_to(folder).as_posix(), p) for p in files]


def _abc_items(recipe: Recipe) -> list[Item]:
    try:
        paths = notation.abc_collection_paths(recipe.collections)
    except GenrnnError as exc:
        raise ConfigError(f"{recipe.path}: field 'collections': {exc}") from None
    items = []
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for tune in notation.split_abc_tunes(text):
            number = re.match(r"X:\s*(\S*)", tune)
            items.append(Item(f"{path.parent.name}/{path.name}#{number.group(1) if number else ''}", path, tune))
    return items


def source_hash(recipe: Recipe, items: list[Item]) -> str:
    """sha256 over the item names and the bytes of every source file."""
    digest = hashlib.sha256()
    seen: set[Path] = set()
    for item in items:
        digest.update(item.name.encode() + b"\0")
        if item.path not in seen:
            seen.add(item.path)
            digest.update(item.path.read_bytes())
    return digest.hexdigest()


def cache_key(recipe: Recipe, src_hash: str) -> str:
    blob = json.dumps({"v": PREP_VERSION, "recipe": recipe.raw, "source": src_hash}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- per-piece work (in workers)


@dataclass
class Result:
    name: str
    val: bool
    reason: str | None = None
    tokens: np.ndarray | None = None  # midi_events: all records of this piece, concatenated
    records: int = 0
    text: str | None = None  # abc
    labels: dict[str, str] = field(default_factory=dict)
    notes: int = 0
    read_as: tuple[str, ...] = ()  # midi_io.READ_AS: what the reader handled in this file


# The errors a damaged or odd piece raises, which count it as skipped. The readers own the
# translation: ``midi_io.read_midi`` turns whatever mido and pretty_midi raise on hostile
# bytes (EOFError, OSError, ValueError, KeyError, IndexError, ...) into MidiConversionError,
# and ``notation.parse_score``/``abc_to_score`` do the same for music21. Fed truncated,
# bit-flipped, garbage and odd MIDI files, mutated ABC tunes and damaged MusicXML, nothing else
# reached this point. Any other exception is a bug and must not pass for a bad file.
PIECE_ERRORS: tuple[type[Exception], ...] = (GenrnnError,)


def _work(job: tuple[Recipe, Item, bool]) -> Result:
    recipe, item, val = job
    try:
        if recipe.tokenizer == "chars":
            return _abc_result(recipe, item, val)
        return _midi_result(recipe, item, val)
    except PIECE_ERRORS as exc:
        return Result(item.name, val, reason=_reason(exc))
    except Exception as exc:
        if hasattr(exc, "add_note"):  # Python 3.11+: the traceback names the piece
            exc.add_note(f"genrnn: raised while preparing piece {item.name!r} ({item.path}); "
                         f"not a known file error, so it is not skipped")
        raise


def _reason(exc: GenrnnError) -> str:
    return str(exc).rsplit(": ", 1)[-1].split(" (")[0]


def _load_sequence(recipe: Recipe, item: Item) -> NoteSequence:
    if recipe.source in ("music21-chorales", "music21-works"):
        return notation.load_score(item.path)
    return read_midi(item.path)


def _midi_result(recipe: Recipe, item: Item, val: bool) -> Result:
    whole = _load_sequence(recipe, item)
    seq = recipe.kept(whole)
    if not seq.notes:
        reason = "only drums" if recipe.instruments == "merge" else "none of the recipe's instruments"
        return Result(item.name, val, reason=reason if whole.notes else "no notes")
    tok = recipe.event_tokenizer()
    pitched = any(not n.is_drum for n in seq.notes)  # a beat alone has no key: its labels leave it out
    key = notation.analyse_key(seq) if {"mode", "key"} & set(recipe.labels) and pitched else None
    fixed = notation.piece_labels(seq, recipe.labels)  # the same for every transposition (rests, voices)
    variants = [(1.0, 0)] if val else augment.record_variants(recipe.stretch, recipe.transpose)
    records, by_stretch = [], {}
    for factor, semis in variants:
        if factor not in by_stretch:
            by_stretch[factor] = tok.encode(augment.stretched(seq, factor))
        ids = tok.transpose_ids(by_stretch[factor], semis)
        if ids is None:
            continue  # a pitch would leave 0..127
        labels = _label_tokens(recipe, {**key.transposed(semis).labels, **fixed} if key else fixed)
        if not val and labels and recipe.label_dropout > 0:
            labels = _drop_labels(recipe, item.name, factor, semis, labels)
        records.append(tok.record(ids, labels))
    return Result(
        item.name, val, tokens=np.concatenate(records), records=len(records),
        labels={**key.labels, **fixed} if key else fixed, notes=len(seq.notes), read_as=whole.read_as,
    )


def _label_tokens(recipe: Recipe, values: dict[str, str]) -> list[str]:
    """The recipe's labels of one record, in the recipe's order (none when it has none)."""
    return [f"{kind}={values[kind]}" for kind in notation.label_kinds_of(recipe.labels) if kind in values]


# Records that lose every label, besides each label's own dropout: the unconditioned model
# that classifier-free guidance pushes away from (session.open_stream). With four kinds at
# 0.25 each, only 0.4 % of records would be bare.
UNLABELLED_SHARE = 0.1


def _drop_labels(recipe: Recipe, name: str, factor: float, semis: int, labels: list[str]) -> list[str]:
    """Label dropout: each label is left out of ``label_dropout`` of the training records
    (chosen by a hash of the record, so a prep is reproducible), so that the model also
    learns to generate from any subset of labels, or none (``sample --condition mode=minor``
    without a key, or plain unconditioned sampling). The order of those kept is unchanged."""
    digest = hashlib.sha256(f"{recipe.split_salt}:labels:{name}:{factor}:{semis}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    if rng.random() < UNLABELLED_SHARE:
        return []
    keep = rng.random(len(labels)) >= recipe.label_dropout
    return [label for label, k in zip(labels, keep, strict=True) if k]


def _abc_result(recipe: Recipe, item: Item, val: bool) -> Result:
    record = abc_record(item.text or "", recipe.header_fields)
    if recipe.validate:
        notation.abc_to_score(record, name=item.name)
    return Result(item.name, val, text=record, records=1)


def abc_record(tune: str, header_fields: tuple[str, ...] = ("M", "L", "K")) -> str:
    """One training record: the kept header fields (K last) then the body, comments and
    quoted annotations removed, no blank lines inside."""
    header: dict[str, str] = {}
    body: list[str] = []
    for line in tune.splitlines():
        line = line.split("%", 1)[0].rstrip()
        m = re.match(r"^([A-Za-z]):\s*(.*)$", line)
        if m and not body:
            if m.group(1) in header_fields and m.group(1) not in header:
                header[m.group(1)] = m.group(2).strip()
            continue
        if m:
            if m.group(1) in header_fields:  # a key, metre or length change mid-tune
                body.append(f"{m.group(1)}:{m.group(2).strip()}")
            continue  # other fields inside the body (W:, N:, P:, ...) are dropped
        line = re.sub(r'"[^"]*"', "", line).strip()
        if line:
            body.append(line)
    if "K" not in header:
        raise CorpusError("no K: field")
    if not body:
        raise CorpusError("no tune body")
    ordered = [f"{k}:{header[k]}" for k in header_fields if k in header and k != "K"] + [f"K:{header['K']}"]
    return "\n".join(ordered + body) + "\n"


# ---------------------------------------------------------------- prepare


# A recipe's pieces as written, one record each (no labels, stretch or transposition): what the
# critic and the copy check read. Overrides are part of the cache key, so the two share one.
PIECES_AS_WRITTEN: dict[str, Any] = {"labels": [], "transpose": [0, 0], "stretch": [1.0]}


def prepare_midi(recipe_path: str | os.PathLike[str], purpose: str, overrides: dict[str, Any],
                 cache_dir: str | os.PathLike[str] | None = None,
                 progress: Progress | None = None) -> tuple[Recipe, PreparedCorpus]:
    """``prepare`` for what reads notes (the classifiers, the copy check): the recipe with
    ``overrides``, refused with one clear error unless it is a MIDI-event recipe."""
    recipe = load_recipe(recipe_path, overrides)
    if recipe.tokenizer != "midi_events":
        raise ConfigError(f"{recipe.path}: {purpose} needs a MIDI recipe (tokenizer 'midi_events'), "
                          f"not {recipe.tokenizer!r}")
    return recipe, prepare(recipe.path, cache_dir=cache_dir, progress=progress, overrides=overrides)


def prepare(
    recipe_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    overrides: dict[str, Any] | None = None,
) -> PreparedCorpus:
    """The recipe's corpus, from the cache when the recipe (with ``overrides``) and source
    are unchanged."""
    recipe = load_recipe(recipe_path, overrides)
    items = source_items(recipe)
    if not items:
        raise CorpusError(f"{recipe.path}: the source has no pieces")
    src_hash = source_hash(recipe, items)
    folder = cache_folder("corpora", cache_dir) / f"{recipe.name}-{cache_key(recipe, src_hash)}"
    if not (folder / "meta.json").is_file():
        start = time.perf_counter()
        results = _run_jobs(recipe, items, strict, progress)
        _write_cache(recipe, results, src_hash, folder, time.perf_counter() - start)
    corpus = load_prepared(folder)
    # the cache is keyed by contents: the same recipe under another path shares it, so the
    # recipe named in the meta (and in checkpoints) is the one asked for now
    corpus.meta.update(recipe=recipe.name, recipe_path=str(recipe.path))
    return corpus


def load_prepared(folder: str | os.PathLike[str]) -> PreparedCorpus:
    """A cached corpus folder → PreparedCorpus with memory-mapped arrays."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        train = np.load(folder / "train.npy", mmap_mode="r", allow_pickle=False)
        val = np.load(folder / "val.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{folder}: damaged corpus cache ({exc}); delete the folder to rebuild") from None
    return PreparedCorpus(train=train, val=val, tokenizer=tokenizer_from_dict(meta["tokenizer"]), meta=meta)


def _run_jobs(recipe: Recipe, items: list[Item], strict: bool, progress: Progress | None) -> list[Result]:
    jobs = [(recipe, item, is_held_out(item.name, recipe.val_percent, recipe.split_salt)) for item in items]
    results: list[Result] = []
    for done, result in enumerate(_map(jobs), start=1):
        if strict and result.reason:
            raise CorpusError(f"{_item_path(recipe, result.name)}: {result.reason} (strict mode)")
        results.append(result)
        if progress:
            progress(done, len(jobs), result.name)
    return results


def _map(jobs: list[tuple[Recipe, Item, bool]]) -> Iterator[Result]:
    workers = min(2, os.cpu_count() or 1)
    if len(jobs) < POOL_MIN_JOBS or workers < 2:
        yield from map(_work, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(workers, mp_context=_pool_context())
    try:
        yield from pool.map(_work, jobs, chunksize=4)
    except BrokenProcessPool as exc:  # where multiprocessing.Pool respawned dead workers for ever
        raise CorpusError("a corpus worker process died (out of memory? or a script that prepares a "
                          "corpus without `if __name__ == \"__main__\":`)") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a strict-mode stop ends at once


def _pool_context() -> Any:
    """``forkserver`` where the OS has it, else ``spawn``; never ``fork``. The TUI prepares a
    corpus from a worker thread, and a child forked from a process with threads can deadlock on
    a lock another thread held at the fork (the allocator's, logging's, a BLAS pool's). The fork
    server is a fresh single-threaded process that imports this module once; the workers fork
    from it, so they start without importing numpy and the MIDI readers again."""
    _start_resource_tracker()
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (which the pool's semaphores need under
    forkserver and spawn) with a stderr it can hand on. While the TUI runs, Textual has swapped
    sys.stderr for a capture whose fileno() is -1, and the tracker would fail to start with
    "bad value(s) in fds_to_keep". Once running, it serves the whole process."""
    import contextlib
    from multiprocessing import resource_tracker

    try:
        usable = sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):  # no descriptor at all: the tracker skips it
        usable = True
    if usable:
        return
    with contextlib.redirect_stderr(sys.__stderr__):
        resource_tracker.ensure_running()


def _item_path(recipe: Recipe, name: str) -> str:
    if recipe.source == "folder" and recipe.folder is not None:
        return str(recipe.folder / name)
    return name


def skip_summary(reasons: list[str], total: int, unit: str) -> str:
    """``skipped 7 of 31 files: 3 not a MIDI file, 2 truncated track, 2 no notes``."""
    head = f"skipped {len(reasons)} of {total} {unit}"
    if not reasons:
        return head
    counts = Counter(reasons).most_common()
    return head + ": " + ", ".join(f"{n} {reason}" for reason, n in counts)


def read_as_summary(results: list[Result], unit: str) -> str:
    """``read 5 of 40 files as a player hears them: 3 program change mid-track, 1 drums named by
    their track``: what the MIDI reader handled in the pieces that were used; "" when nothing."""
    used = [r for r in results if not r.reason]
    counts = Counter(name for r in used for name in r.read_as)
    if not counts:
        return ""
    files = sum(1 for r in used if r.read_as)
    return (f"read {files} of {len(used)} {unit} as a player hears them: "
            + ", ".join(f"{n} {name}" for name, n in counts.most_common()))


def _write_cache(recipe: Recipe, results: list[Result], src_hash: str, folder: Path, seconds: float) -> None:
    good = [r for r in results if not r.reason]
    bad = [r for r in results if r.reason]
    if not any(not r.val for r in good):
        summary = skip_summary([r.reason or "" for r in bad], len(results), _unit(recipe))
        raise CorpusError(f"{recipe.path}: no usable training pieces ({summary})")
    tokenizer, train, val = _arrays(recipe, good)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "train.npy", train, allow_pickle=False)
    np.save(tmp / "val.npy", val, allow_pickle=False)
    (tmp / "skipped.log").write_text("".join(f"{_item_path(recipe, r.name)}\t{r.reason}\n" for r in bad), encoding="utf-8")
    meta = _meta(recipe, results, tokenizer, train, val, src_hash, folder, seconds)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished the same cache first
        shutil.rmtree(tmp, ignore_errors=True)


def _unit(recipe: Recipe) -> str:
    return "tunes" if recipe.tokenizer == "chars" else "files"


def _arrays(recipe: Recipe, good: list[Result]) -> tuple[Any, np.ndarray, np.ndarray]:
    if recipe.tokenizer == "midi_events":
        parts = {v: [r.tokens for r in good if r.val == v and r.tokens is not None] for v in (False, True)}
        train = _shuffled_records(_cat(parts[False], np.uint16), recipe.split_salt)
        return recipe.event_tokenizer().played_in(train), train, _cat(parts[True], np.uint16)
    texts = {v: "".join(f"{r.text}\n" for r in good if r.val == v) for v in (False, True)}
    chars = CharTokenizer.from_text(texts[False] + texts[True])
    return chars, chars.encode(texts[False]), chars.encode(texts[True])


def _shuffled_records(ids: np.ndarray, salt: str) -> np.ndarray:
    """Training records in a fixed random order. In file order, every transposition and
    stretch of a piece sat back to back (21 copies of one chorale in a row), so each training
    stream mostly learned to copy the previous copy: its prior after a fresh START was 95 %
    major, and it leaned on the copy instead of the labels."""
    starts = np.flatnonzero(ids == START)
    if len(starts) < 2:
        return ids
    bounds = np.append(starts, len(ids))
    return np.concatenate([ids[bounds[i]: bounds[i + 1]] for i in _record_order(len(starts), salt)])


def _record_order(count: int, salt: str) -> np.ndarray:
    """Which record in file order comes k-th in the shuffled training array."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{salt}:order".encode()).digest()[:8], "little"))
    return rng.permutation(count)


def _cat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)


def _meta(recipe: Recipe, results: list[Result], tokenizer: Any, train: np.ndarray, val: np.ndarray,
          src_hash: str, folder: Path, seconds: float) -> dict[str, Any]:
    good = [r for r in results if not r.reason]
    reasons = [r.reason or "" for r in results if r.reason]
    source = str(recipe.folder) if recipe.source == "folder" else "music21:" + recipe.source.removeprefix("music21-")
    return {
        "source": source,
        "sha256": src_hash,
        "kind": recipe.kind,
        "recipe": recipe.name,
        "recipe_path": str(recipe.path),
        "recipe_settings": {k: v for k, v in asdict(recipe).items() if k not in ("raw", "path", "folder")},
        "tokenizer": tokenizer.to_dict(),
        "pieces": {"train": sum(not r.val for r in good), "val": sum(r.val for r in good),
                   "train_records": sum(r.records for r in good if not r.val)},
        "tokens": {"train": int(len(train)), "val": int(len(val))},
        "files": len(results),
        "skipped": {"count": len(reasons), "by_reason": dict(Counter(reasons)),
                    "summary": skip_summary(reasons, len(results), _unit(recipe)),
                    "log": str(folder / "skipped.log")},
        "read_as": {"by_rule": dict(Counter(name for r in good for name in r.read_as)),
                    "summary": read_as_summary(results, _unit(recipe)),
                    "files": {r.name: list(r.read_as) for r in good if r.read_as}},
        "piece_names": {"train": [r.name for r in good if not r.val], "val": [r.name for r in good if r.val]},
        "labels": {r.name: r.labels for r in good if r.labels},
        "cache_dir": str(folder),
        "prep_seconds": round(seconds, 3),
    }


# ---------------------------------------------------------------- reading corpora back


def records(ids: np.ndarray) -> list[np.ndarray]:
    """The START…END records of an event array (each without START/END)."""
    ids = np.asarray(ids)
    starts = np.flatnonzero(ids == START)
    ends = np.flatnonzero(ids == END)
    out = []
    for s in starts:
        e = ends[np.searchsorted(ends, s)] if np.searchsorted(ends, s) < len(ends) else len(ids)
        out.append(np.asarray(ids[s + 1 : e]))
    return out


def named_records(corpus: PreparedCorpus, split: str) -> list[tuple[str, np.ndarray]]:
    """The records of a midi_events corpus's ``split`` ("train" or "val") with the piece each
    comes from. The training records are shuffled (``_record_order``) while
    ``meta["piece_names"]`` is in file order; a corpus with several records a piece (stretches,
    transpositions) names them "train record N"."""
    recs = records(corpus.train if split == "train" else corpus.val)
    names = list(corpus.meta.get("piece_names", {}).get(split, []))
    if len(names) != len(recs):
        names = [f"{split} record {i + 1}" for i in range(len(recs))]
    elif split == "train" and len(recs) > 1:
        names = [names[i] for i in _record_order(len(recs), corpus.meta["recipe_settings"]["split_salt"])]
    return list(zip(names, recs, strict=True))


def val_sequences(corpus: PreparedCorpus) -> list[NoteSequence]:
    """The held-out real pieces of a midi_events corpus, decoded (for metrics)."""
    if corpus.meta.get("kind") != "midi_events":
        raise CorpusError(f"corpus {corpus.meta.get('recipe')!r} holds {corpus.meta.get('kind')!r}, not MIDI events")
    return [corpus.tokenizer.decode(r) for r in records(corpus.val)]


def val_labels(corpus: PreparedCorpus) -> list[list[str]]:
    """The labels each held-out piece of a midi_events corpus begins with (``val_sequences``'
    order), e.g. ``["mode=minor", "key=Am", "rests=yes", "voices=4"]``; [] for each piece of a
    corpus without labels. Held-out records keep all their labels (no label dropout)."""
    return [corpus.tokenizer.split_labels(record)[0] for record in records(corpus.val)]


def val_tunes(corpus: PreparedCorpus) -> list[str]:
    """The held-out tunes of an ABC corpus, one record each."""
    text = corpus.tokenizer.decode(corpus.val)
    return [t.strip() + "\n" for t in text.split("\n\n") if t.strip()]


# ---------------------------------------------------------------- listing


def list_recipes(directory: str | os.PathLike[str] = "corpora",
                 cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per recipe: name, description, source, tokenizer, cache state and counts."""
    return [_recipe_row(path, cache_folder("corpora", cache_dir)) for path in sorted(Path(directory).glob("*.toml"))]


def _recipe_row(path: Path, cache_root: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"name": path.stem, "path": str(path), "description": "", "state": "not prepared",
                           "pieces": None, "tokens": None, "skipped": None}
    try:
        recipe = load_recipe(path)
        row.update(description=recipe.description, source=recipe.source, tokenizer=recipe.tokenizer)
        items = source_items(recipe)
        folder = cache_root / f"{recipe.name}-{cache_key(recipe, source_hash(recipe, items))}"
    except GenrnnError as exc:
        row.update(state="error", error=str(exc))
        return row
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        row.update(state="cached", cache=str(folder), pieces=meta["pieces"], tokens=meta["tokens"],
                   skipped=meta["skipped"]["count"])
    return row
