"""Many-to-one training data: a recipe's pieces as classified examples.

Two tasks ship:

``label`` (``mode``, ``key``)
    Each piece's label comes from the recipe's key analysis (``notation.analyse_key``): the
    recipe is prepared with the overrides ``labels = ["mode", "key"]``, ``label_dropout = 0``,
    and its augmentation replaced: tempo stretches of 0.8-1.25 (``LABEL_STRETCH``) as records,
    transposition by a random -6..6 semitones per training crop (key labels move with it), so
    the model meets every piece in all twelve keys. The held-out pieces are the recipe's
    validation split, one untouched record each. Label tokens are stripped: the model sees
    the notes only.

``critic`` (label ``real``)
    Real against generated. The recipe is prepared without augmentation or labels (overrides;
    one record per piece). Each real piece is played at one of the recipe's own augmentation
    variants (corpora/augment.py: what the generator learned from) and gives its first
    ``seconds`` as an excerpt; the generator writes one piece of the same length per real
    excerpt, through ``session.sample_pieces`` (the sampler ``genrnn sample`` runs: the kind's
    defaults, labels drawn by the model, END masked). A generated piece joins its real
    partner's split, so the held-out set is balanced. The held-out accuracy is the
    musical-quality figure: 50% means the critic cannot tell the generator's music from Bach.

Both sides of every example go NoteSequence → ``MidiEventTokenizer().encode`` (no labels), so
real and generated ids share one form.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.config import check_range
from genrnn.corpora import augment, recipes
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError, CorpusError
from genrnn.inference.classifier import input_tokenizer
from genrnn.music import notation
from genrnn.music.midi_io import write_midi
from genrnn.music.notes import NoteSequence

LABEL_KINDS = ("mode", "key")
CRITIC_LABEL = "real"
LABELS = (*LABEL_KINDS, CRITIC_LABEL)
CRITIC_CLASSES = ["generated", "real"]
# Tempo factors of the training records of label tasks (benchmarks/README.md, "Why each default").
LABEL_STRETCH = (0.8, 0.9, 1.0, 1.1, 1.25)

Event = Callable[[dict[str, Any]], None]
Generate = Callable[[Sequence[float]], list[NoteSequence]]


@dataclass
class Example:
    """One piece (or one augmented record of it) as event ids, with its class index."""

    name: str
    ids: np.ndarray  # (T,) performance-event ids, no START/END/label tokens
    label: int


@dataclass
class ClassData:
    classes: list[str]
    train: list[Example]
    val: list[Example]
    task: dict[str, Any] = field(default_factory=dict)  # recorded in the checkpoint

    def counts(self, split: str) -> dict[str, int]:
        examples = self.train if split == "train" else self.val
        return {c: sum(e.label == i for e in examples) for i, c in enumerate(self.classes)}

    def check(self) -> None:
        """Raise unless there is something to learn (two classes in training) and to measure on."""
        if not self.train:
            raise CorpusError("no training pieces to learn from")
        present = {e.label for e in self.train}
        if len(present) < 2:
            only = self.classes[present.pop()] if present else "none"
            raise CorpusError(f"the training pieces hold one class only ({only!r}); a classifier needs two or more")
        if not self.val:
            raise CorpusError("no held-out pieces to measure on: raise the recipe's val_percent (or --val-percent)")


def heldout_figures(pred: np.ndarray, truth: np.ndarray, classes: Sequence[str]) -> tuple[float, float, dict, np.ndarray]:
    """Accuracy, its binomial standard error, accuracy per class and the confusion matrix of
    predicted against true class indices (a classifier's held-out figures, either kind)."""
    n, k = len(truth), len(classes)
    acc = float((pred == truth).mean()) if n else 0.0
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (truth, pred), 1)
    per_class = {c: {"count": int(confusion[i].sum()),
                     "accuracy": float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None}
                 for i, c in enumerate(classes)}
    return acc, math.sqrt(acc * (1 - acc) / n) if n else 0.0, per_class, confusion


def data_from_sequences(train: Sequence[tuple[str, NoteSequence, str]], val: Sequence[tuple[str, NoteSequence, str]],
                        classes: Sequence[str], task: dict[str, Any] | None = None) -> ClassData:
    """(name, notes, class name) pieces → ClassData: for labels computed by the caller."""
    tok = input_tokenizer()
    index = {c: i for i, c in enumerate(classes)}

    def examples(items: Sequence[tuple[str, NoteSequence, str]]) -> list[Example]:
        out = []
        for name, seq, label in items:
            if label not in index:
                raise ConfigError(f"{name}: class {label!r} is not one of {list(classes)}")
            ids = tok.encode(seq.without_drums())
            if len(ids):
                out.append(Example(name, ids, index[label]))
        return out

    return ClassData(list(classes), examples(train), examples(val), dict(task or {"kind": "custom"}))


def _prepare(recipe_path: str | Path, overrides: dict[str, Any], cache_dir: str | Path | None,
             on_event: Event | None) -> tuple[recipes.Recipe, PreparedCorpus]:
    """The recipe's corpus with some fields overridden (the overrides are part of the cache
    key, so each variant is prepared once)."""

    def progress(done: int, total: int, name: str) -> None:
        if on_event:
            on_event({"phase": "prep", "done": done, "total": total, "name": name})

    return recipes.prepare_midi(recipe_path, "classify", overrides, cache_dir, progress)


def _val_changes(val_percent: float | None) -> dict[str, Any]:
    if val_percent is None:
        return {}
    check_range("--val-percent", val_percent, 0.0, 50.0, lo_open=True)
    return {"val_percent": val_percent}


def _corpus_task(recipe: recipes.Recipe, corpus: PreparedCorpus) -> dict[str, Any]:
    return {"recipe": recipe.name, "recipe_path": str(recipe.path), "corpus_sha256": corpus.meta.get("sha256"),
            "val_percent": corpus.meta.get("recipe_settings", {}).get("val_percent"),
            "pieces": corpus.meta.get("pieces", {})}


def label_data(recipe_path: str | Path, label: str, cache_dir: str | Path | None = None,
               val_percent: float | None = None, on_event: Event | None = None) -> ClassData:
    """Pieces of a MIDI recipe labelled by their analysed ``mode`` (major/minor) or ``key``."""
    if label not in LABEL_KINDS:
        raise ConfigError(f"--label {label!r}: expected one of {', '.join(LABELS)}")
    # Every training record keeps its labels (no label dropout: a record without one is lost).
    # Tempo augmentation is wide (one record per factor); transposition happens per crop.
    overrides = {"labels": ["mode", "key"], "label_dropout": 0.0, "transpose": [0, 0],
                 "stretch": list(LABEL_STRETCH), **_val_changes(val_percent)}
    recipe, corpus = _prepare(recipe_path, overrides, cache_dir, on_event)
    tok = corpus.tokenizer
    classes = (list(notation.PITCH_NAMES) if label == "key"
               else [v.split("=", 1)[1] for v in notation.label_vocabulary([label])])
    index = {c: i for i, c in enumerate(classes)}

    def examples(split: str) -> list[Example]:
        out = []
        for name, rec in recipes.named_records(corpus, split):
            tags, ids = tok.split_labels(rec)  # instrument tokens stay in ids (a band recipe)
            value = next((t.split("=", 1)[1] for t in tags if t.startswith(f"{label}=")), None)
            if label == "key" and value is not None:
                value = notation.key_tonic(value)  # the key task's classes are the 12 tonics
            if value in index and len(ids):
                out.append(Example(name, ids, index[value]))
        return out

    data = ClassData(classes, examples("train"), examples("val"))
    data.task = {"kind": "label", "label": label, **_corpus_task(recipe, corpus),
                 "label_source": "music21 Aarden-Essen key profiles (notation.analyse_key), per piece"}
    return data


def critic_data(recipe_path: str | Path, generate: Generate, generator: dict[str, Any], seconds: float = 15.0,
                seed: int = 0, cache_dir: str | Path | None = None, val_percent: float | None = None,
                save_dir: str | Path | None = None, on_event: Event | None = None,
                augment_real: bool = True) -> ClassData:
    """Real excerpts (the first ``seconds`` of every piece) against as many generated pieces of
    the same lengths (``generate(lengths)``; ``generator`` describes it for the record). With
    ``augment_real`` each real piece is first played at a stretch and transposition drawn from
    the recipe's augmentation (seeded): the distribution the generator learned, so that the
    critic cannot win on tempo alone. ``save_dir`` keeps the generated pieces as .mid files."""
    check_range("--seconds", seconds, 0.0, 3600.0, lo_open=True)
    augmentation = recipes.load_recipe(recipe_path)  # its stretch and transpose, before the overrides
    overrides = {**recipes.PIECES_AS_WRITTEN, **_val_changes(val_percent)}
    recipe, corpus = _prepare(recipe_path, overrides, cache_dir, on_event)
    tok = input_tokenizer()
    rng = np.random.default_rng(seed)
    real = []
    for split in ("train", "val"):
        for name, rec in recipes.named_records(corpus, split):
            seq = corpus.tokenizer.decode(rec)
            if augment_real:
                seq = augment.random_variant(seq, augmentation.stretch, augmentation.transpose, rng)
            if seq.notes:
                real.append((split, name, seq.clipped(seconds), min(seconds, seq.end_time)))
    fake = generate([length for *_, length in real])
    if save_dir is not None:
        for n, seq in enumerate(fake):
            write_midi(seq, Path(save_dir) / f"generated_{n + 1:04d}.mid")
    data = ClassData(list(CRITIC_CLASSES), [], [])
    for (split, name, seq, _), gen in zip(real, fake, strict=True):
        bucket = data.train if split == "train" else data.val
        for label, piece, piece_name in ((1, seq, name), (0, gen, f"generated for {name}")):
            ids = tok.encode(piece)
            if len(ids):
                bucket.append(Example(piece_name, ids, label))
    data.task = {"kind": "critic", "label": CRITIC_LABEL, **_corpus_task(recipe, corpus), **generator,
                 "excerpt_seconds": seconds, "generation_seed": seed,
                 "real_augmentation": {"stretch": list(augmentation.stretch), "transpose": list(augmentation.transpose)}
                 if augment_real else None}
    return data
