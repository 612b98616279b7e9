"""Many-to-one training: a recipe's pieces → a sequence classifier, and files → one answer each.

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
    variants (a seeded random stretch and transposition: what the generator learned from) and
    gives its first ``seconds`` as an excerpt; a performance-event language model writes one
    unprimed piece of the same length per real excerpt (seeds ``seed + n``, END masked, the
    default event grammar, as ``genrnn eval --samples`` does). A generated piece joins its
    real partner's split, so the held-out set is balanced. The held-out accuracy is the
    musical-quality figure: 50% means the critic cannot tell the generator's music from Bach.

Both sides of every example go NoteSequence → ``MidiEventTokenizer().encode`` (no labels), so
real and generated ids share one form. Training draws random crops of ``window`` events; a
piece is classified by averaging class probabilities over windows that cover it
(back to back, the last aligned to the piece's end). The final model is saved, never the
one that scored best on the held-out pieces (which would flatter the figure).

Checkpoint: ``classifier.safetensors`` with the weights and, as JSON in the safetensors
metadata, the model config, tokenizer, class names, task and training record; written
atomically like every genrnn checkpoint.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrnn import __version__
from genrnn.config import SampleConfig, _check_range, from_dict
from genrnn.corpora import recipes
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import (
    CheckpointError,
    ConfigError,
    CorpusError,
    MidiConversionError,
    TokenizerError,
)
from genrnn.generation import music
from genrnn.generation.stream import Generator
from genrnn.models.classifier import ClassifierConfig, SequenceClassifier
from genrnn.music import notation
from genrnn.music.midi_io import read_midi, write_midi
from genrnn.music.notes import MIDI_SUFFIXES, NoteSequence
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.midi_events import LABEL, MidiEventTokenizer
from genrnn.training import checkpoint as ckpt
from genrnn.training.loop import pick_device

FORMAT = "genrnn-classifier"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "classifier.safetensors"
LABEL_KINDS = ("mode", "key")
CRITIC_LABEL = "real"
LABELS = (*LABEL_KINDS, CRITIC_LABEL)
CRITIC_CLASSES = ["generated", "real"]
# Tempo factors of the training records of label tasks: with the recipe's 0.95-1.05 only, a
# mode classifier's held-out accuracy fell from 91% to 47% with the pieces played 10% slower.
LABEL_STRETCH = (0.8, 0.9, 1.0, 1.1, 1.25)

SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl", ".krn")
EVAL_BATCH = 64

Event = Callable[[dict[str, Any]], None]


# ---------------------------------------------------------------- data


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


def input_tokenizer() -> MidiEventTokenizer:
    """What every classifier reads: performance events without label tokens."""
    return MidiEventTokenizer()


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
    recipe = recipes.load_recipe(recipe_path, overrides)
    if recipe.tokenizer != "midi_events":
        raise ConfigError(f"{recipe.path}: classify needs a MIDI recipe (tokenizer 'midi_events'), "
                          f"not {recipe.tokenizer!r}")

    def progress(done: int, total: int, name: str) -> None:
        if on_event:
            on_event({"phase": "prep", "done": done, "total": total, "name": name})

    return recipe, recipes.prepare(recipe.path, cache_dir=cache_dir, progress=progress, overrides=overrides)


def _val_changes(val_percent: float | None) -> dict[str, Any]:
    if val_percent is None:
        return {}
    _check_range("--val-percent", val_percent, 0.0, 50.0, lo_open=True)
    return {"val_percent": val_percent}


def _named_records(corpus: PreparedCorpus, split: str) -> list[tuple[str, np.ndarray]]:
    recs = recipes.records(corpus.train if split == "train" else corpus.val)
    names = corpus.meta.get("piece_names", {}).get(split, [])
    if len(names) != len(recs):  # augmented train records: several per piece
        names = [f"{split} record {i + 1}" for i in range(len(recs))]
    return list(zip(names, recs, strict=True))


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
        for name, rec in _named_records(corpus, split):
            rec = np.asarray(rec)
            tags = [tok.labels[int(t) - LABEL] for t in rec[rec >= LABEL]]
            value = next((t.split("=", 1)[1] for t in tags if t.startswith(f"{label}=")), None)
            if label == "key" and value is not None:
                value = notation.key_tonic(value)  # the key task's classes are the 12 tonics
            ids = rec[rec < LABEL]
            if value in index and len(ids):
                out.append(Example(name, ids, index[value]))
        return out

    data = ClassData(classes, examples("train"), examples("val"))
    data.task = {"kind": "label", "label": label, **_corpus_task(recipe, corpus),
                 "label_source": "music21 Aarden-Essen key profiles (notation.analyse_key), per piece"}
    return data


def _corpus_task(recipe: recipes.Recipe, corpus: PreparedCorpus) -> dict[str, Any]:
    return {"recipe": recipe.name, "recipe_path": str(recipe.path), "corpus_sha256": corpus.meta.get("sha256"),
            "val_percent": corpus.meta.get("recipe_settings", {}).get("val_percent"),
            "pieces": corpus.meta.get("pieces", {})}


def critic_data(recipe_path: str | Path, generator: str | Path, seconds: float = 15.0, temperature: float = 0.8,
                seed: int = 0, cache_dir: str | Path | None = None, val_percent: float | None = None,
                save_dir: str | Path | None = None, on_event: Event | None = None,
                augment_real: bool = True) -> ClassData:
    """Real excerpts (the first ``seconds`` of every piece) against as many generated pieces of
    the same lengths. With ``augment_real`` each real piece is first played at a stretch and
    transposition drawn from the recipe's augmentation (seeded): the distribution the generator
    learned, so that the critic cannot win on tempo alone (the shipped Bach model writes the
    0.95-stretched 28-29-step eighths as often as the 30-step ones of the pieces as written).
    ``save_dir`` keeps the generated pieces as .mid files."""
    _check_range("--seconds", seconds, 0.0, 3600.0, lo_open=True)
    lm = ckpt.load_model(generator)
    if getattr(lm.tokenizer, "kind", "") != "midi_events":
        raise CheckpointError(f"{lm.path}: a {getattr(lm.tokenizer, 'kind', '?')!r} model; the critic needs "
                              "a MIDI-event language model (e.g. checkpoints/bach.safetensors)")
    augmentation = recipes.load_recipe(recipe_path)  # its stretch and transpose, before the overrides
    overrides = {"labels": [], "transpose": [0, 0], "stretch": [1.0], **_val_changes(val_percent)}
    recipe, corpus = _prepare(recipe_path, overrides, cache_dir, on_event)
    tok = input_tokenizer()
    rng = np.random.default_rng(seed)
    real = []
    for split in ("train", "val"):
        for name, rec in _named_records(corpus, split):
            seq = corpus.tokenizer.decode(rec)
            if augment_real:
                seq = _augmented(seq, augmentation, rng)
            if seq.notes:
                real.append((split, name, seq.clipped(seconds), min(seconds, seq.end_time)))
    settings = SampleConfig(temperature=temperature, seed=seed)
    fake = generate_pieces(lm, [length for *_, length in real], settings, on_event)
    if save_dir is not None:
        folder = Path(save_dir)
        for n, seq in enumerate(fake):
            write_midi(seq, folder / f"generated_{n + 1:04d}.mid")
    data = ClassData(list(CRITIC_CLASSES), [], [])
    for (split, name, seq, _), gen in zip(real, fake, strict=True):
        bucket = data.train if split == "train" else data.val
        for label, piece, piece_name in ((1, seq, name), (0, gen, f"generated for {name}")):
            ids = tok.encode(piece)
            if len(ids):
                bucket.append(Example(piece_name, ids, label))
    data.task = {"kind": "critic", "label": CRITIC_LABEL, **_corpus_task(recipe, corpus),
                 "generator": str(lm.path), "generator_sha256": _sha256(lm.path),
                 "excerpt_seconds": seconds, "temperature": temperature, "generation_seed": seed,
                 "sampling": asdict(settings),
                 "real_augmentation": {"stretch": list(augmentation.stretch), "transpose": list(augmentation.transpose)}
                 if augment_real else None}
    return data


def _augmented(seq: NoteSequence, recipe: recipes.Recipe, rng: np.random.Generator) -> NoteSequence:
    """One of the recipe's training variants of ``seq``: a random stretch and transposition
    (none when a pitch would leave 0..127)."""
    factor = float(rng.choice(recipe.stretch))
    semis = int(rng.integers(recipe.transpose[0], recipe.transpose[1] + 1))
    pitches = [n.pitch for n in seq.notes]
    if not pitches or min(pitches) + semis < 0 or max(pitches) + semis > 127:
        semis = 0
    seq = seq.stretched(factor) if factor != 1.0 else seq
    return seq.transposed(semis) if semis else seq


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate_pieces(lm: ckpt.Checkpoint, durations: Sequence[float], settings: SampleConfig,
                    on_event: Event | None = None) -> list[NoteSequence]:
    """One unprimed piece per duration (seed ``settings.seed + n``, END masked): what
    ``session.sample_pieces`` makes, here for the training layer."""
    base = settings.seed if settings.seed is not None else 0
    pieces = []
    for n, seconds in enumerate(durations):
        primer = music.empty_primer(lm.tokenizer)
        stream = Generator(lm.model, lm.tokenizer, SampleConfig(**{**asdict(settings), "seed": base + n}))
        stream.prime(primer.ids)
        tokens, ended = music.generate_events(stream, primer.end_time, seconds, allow_end=False)
        pieces.append(music.build_sample(lm.tokenizer, primer, tokens, seconds, ended, base + n).sequence)
        if on_event:
            on_event({"phase": "generate", "done": n + 1, "total": len(durations)})
    return pieces


# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class ClassifyConfig:
    """How to train a classifier. One of ``time_budget`` (seconds) and ``max_steps`` ends it."""

    window: int = 256  # events per training crop and per inference window
    batch_size: int = 32
    lr: float = 5e-3
    min_lr_frac: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.01
    clip: float = 1.0
    time_budget: float | None = 120.0
    max_steps: int | None = None
    transpose: int = 0  # each training crop moves by a random -N..N semitones (key labels move too)
    eval_interval: float = 15.0  # seconds between held-out checks (logged, never used to pick)
    seed: int = 0
    threads: int = 0  # 0 = torch's choice
    device: str = "cpu"

    def __post_init__(self) -> None:
        _check_range("window", self.window, 8, 1_000_000)
        _check_range("batch_size", self.batch_size, 1, 100_000)
        _check_range("lr", self.lr, 0.0, 10.0, lo_open=True)
        _check_range("min_lr_frac", self.min_lr_frac, 0.0, 1.0)
        _check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        _check_range("clip", self.clip, 0.0, 1e9)
        _check_range("transpose", self.transpose, 0, 12)
        _check_range("eval_interval", self.eval_interval, 0.0, 1e8, lo_open=True)
        _check_range("threads", self.threads, 0, 1024)
        if self.time_budget is None and self.max_steps is None:
            raise ConfigError("give a time budget (--time-budget SECONDS) or a step count (--steps N)")
        if self.time_budget is not None:
            _check_range("time_budget", self.time_budget, 0.0, 1e8, lo_open=True)
        if self.max_steps is not None:
            _check_range("max_steps", self.max_steps, 1, 10**12)


@dataclass
class Evaluation:
    """Held-out accuracy by piece, with what chance would score."""

    accuracy: float
    count: int
    baseline: float  # always answering the most common training class
    stderr: float  # binomial standard error of ``accuracy``
    per_class: dict[str, dict[str, Any]]  # class → {"count", "accuracy" (None without pieces)}
    confusion: list[list[int]]  # [true][predicted]
    predictions: list[dict[str, Any]]  # name, true, predicted, probability

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClassifyResult:
    path: Path
    evaluation: Evaluation
    steps: int
    seconds: float
    curve: list[dict[str, float]]
    classes: list[str]
    task: dict[str, Any]
    train_counts: dict[str, int]


def _lr(cfg: ClassifyConfig, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    p = min(max(progress, 0.0), 1.0)
    return cfg.lr * warm * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def _pad(crops: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = [len(c) for c in crops]
    x = np.zeros((len(crops), max(lengths)), np.int64)  # PAD = 0
    for i, c in enumerate(crops):
        x[i, : len(c)] = c
    return torch.from_numpy(x), torch.tensor(lengths, dtype=torch.long)


def _batch(data: ClassData, cfg: ClassifyConfig, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """Random examples, each a random crop of ``window`` events (whole when shorter), moved by
    a random transposition when ``cfg.transpose`` (kept in place if a pitch would leave 0..127)."""
    tok = input_tokenizer()
    moves_label = data.task.get("label") == "key"  # classes are the 12 tonics, C first
    crops, labels = [], []
    for i in rng.integers(len(data.train), size=cfg.batch_size):
        ids, label = data.train[i].ids, data.train[i].label
        if len(ids) > cfg.window:
            start = int(rng.integers(len(ids) - cfg.window + 1))
            ids = ids[start : start + cfg.window]
        if cfg.transpose:
            shift = int(rng.integers(-cfg.transpose, cfg.transpose + 1))
            moved = tok.transpose_ids(ids, shift)
            if moved is not None:
                ids, label = moved, (label + shift) % len(data.classes) if moves_label else label
        crops.append(ids)
        labels.append(label)
    x, lengths = _pad(crops)
    return x, lengths, torch.tensor(labels, dtype=torch.long)


def windows(ids: np.ndarray, window: int) -> list[np.ndarray]:
    """Windows of ``window`` ids covering ``ids``: back to back, the last aligned to the end
    (so it may overlap the one before); a shorter piece is one window."""
    if len(ids) <= window:
        return [ids]
    starts = list(range(0, len(ids) - window + 1, window))
    if starts[-1] + window < len(ids):
        starts.append(len(ids) - window)
    return [ids[s : s + window] for s in starts]


@torch.inference_mode()
def predict_proba(model: SequenceClassifier, pieces: Sequence[np.ndarray], window: int,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """(N, C) class probabilities, each piece's the mean over its windows."""
    model.eval()
    owners, crops = [], []
    for n, ids in enumerate(pieces):
        for w in windows(np.asarray(ids), window):
            owners.append(n)
            crops.append(w)
    probs = np.zeros((len(pieces), model.config.num_classes))
    counts = np.zeros(len(pieces))
    order = np.argsort([len(c) for c in crops])  # similar lengths together: less padding
    for i in range(0, len(order), EVAL_BATCH):
        chunk = order[i : i + EVAL_BATCH]
        x, lengths = _pad([crops[j] for j in chunk])
        p = torch.softmax(model(x.to(device), lengths).float(), dim=-1).cpu().numpy()
        for j, row in zip(chunk, p, strict=True):
            probs[owners[j]] += row
            counts[owners[j]] += 1
    return probs / np.maximum(counts, 1)[:, None]


def evaluate(model: SequenceClassifier, data: ClassData, window: int, device: torch.device | str = "cpu") -> Evaluation:
    probs = predict_proba(model, [e.ids for e in data.val], window, device)
    pred = probs.argmax(1)
    truth = np.asarray([e.label for e in data.val])
    n, k = len(truth), len(data.classes)
    acc = float((pred == truth).mean()) if n else 0.0
    train_counts = np.bincount([e.label for e in data.train], minlength=k)
    baseline = float((truth == train_counts.argmax()).mean()) if n else 0.0
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (truth, pred), 1)
    per_class = {c: {"count": int(confusion[i].sum()),
                     "accuracy": float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None}
                 for i, c in enumerate(data.classes)}
    predictions = [{"name": e.name, "true": data.classes[e.label], "predicted": data.classes[int(p)],
                    "probability": round(float(row[int(p)]), 4)} for e, p, row in zip(data.val, pred, probs, strict=True)]
    return Evaluation(acc, n, baseline, math.sqrt(acc * (1 - acc) / n) if n else 0.0, per_class,
                      confusion.tolist(), predictions)


def _check_data(data: ClassData) -> None:
    if not data.train:
        raise CorpusError("no training pieces to learn from")
    present = {e.label for e in data.train}
    if len(present) < 2:
        only = data.classes[present.pop()] if present else "none"
        raise CorpusError(f"the training pieces hold one class only ({only!r}); a classifier needs two or more")
    if not data.val:
        raise CorpusError("no held-out pieces to measure on: raise the recipe's val_percent (or --val-percent)")


def model_config(overrides: dict[str, Any], num_classes: int) -> ClassifierConfig:
    """The classifier's shape (validated: check it before minutes of data building)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return from_dict(ClassifierConfig, {**given, "vocab_size": input_tokenizer().vocab_size,
                                        "num_classes": num_classes}, where="classifier config")


def train_classifier(data: ClassData, model_overrides: dict[str, Any], cfg: ClassifyConfig, out_dir: str | Path,
                     on_event: Event | None = None) -> ClassifyResult:
    """Train on ``data.train``, measure on ``data.val`` (by piece), save ``out_dir/classifier.safetensors``."""
    _check_data(data)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = pick_device(cfg.device)
    tok = input_tokenizer()
    model = SequenceClassifier(model_config(model_overrides, len(data.classes))).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    curve: list[dict[str, float]] = []
    start = last_eval = time.perf_counter()
    step, losses = 0, []
    while True:
        elapsed = time.perf_counter() - start
        progress = max(step / cfg.max_steps if cfg.max_steps else 0.0,
                       elapsed / cfg.time_budget if cfg.time_budget else 0.0)
        if progress >= 1.0:
            break
        model.train()
        x, lengths, y = _batch(data, cfg, rng)
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step, progress)
        loss = F.cross_entropy(model(x.to(device), lengths), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        step += 1
        losses.append(loss.item())
        if time.perf_counter() - last_eval >= cfg.eval_interval:
            curve.append(_point(model, data, cfg, device, step, time.perf_counter() - start, losses, on_event))
            last_eval, losses = time.perf_counter(), []
    seconds = time.perf_counter() - start
    evaluation = evaluate(model, data, cfg.window, device)
    curve.append({"step": step, "seconds": round(seconds, 2), "train_loss": _mean(losses),
                  "val_accuracy": round(evaluation.accuracy, 4)})
    training = {"accuracy": evaluation.accuracy, "heldout": evaluation.row(), "steps": step,
                "wall_seconds": round(seconds, 2), "train_config": asdict(cfg), "curve": curve,
                "train_examples": data.counts("train"), "heldout_examples": data.counts("val"),
                "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {device}",
                "torch_version": torch.__version__}
    path = save_classifier(Path(out_dir) / CHECKPOINT_NAME, model, tok, data.classes,
                           {**data.task, "window": cfg.window}, training)
    return ClassifyResult(path, evaluation, step, seconds, curve, data.classes,
                          {**data.task, "window": cfg.window}, data.counts("train"))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _point(model: SequenceClassifier, data: ClassData, cfg: ClassifyConfig, device: torch.device, step: int,
           elapsed: float, losses: list[float], on_event: Event | None) -> dict[str, float]:
    acc = evaluate(model, data, cfg.window, device).accuracy
    point = {"step": step, "seconds": round(elapsed, 2), "train_loss": _mean(losses), "val_accuracy": round(acc, 4)}
    if on_event:
        on_event({"phase": "train", **point})
    return point


# ---------------------------------------------------------------- checkpoint


@dataclass
class Classifier:
    """A loaded classifier, ready to label pieces."""

    path: Path
    model: SequenceClassifier
    tokenizer: MidiEventTokenizer
    classes: list[str]
    task: dict[str, Any]
    training: dict[str, Any]

    @property
    def label(self) -> str:
        return str(self.task.get("label", "class"))

    @property
    def window(self) -> int:
        return int(self.task.get("window", ClassifyConfig.window))


def save_classifier(path: str | Path, model: SequenceClassifier, tokenizer: MidiEventTokenizer,
                    classes: list[str], task: dict[str, Any], training: dict[str, Any]) -> Path:
    path = Path(path)
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "genrnn_version": __version__,
            "model_config": json.dumps(asdict(model.config)), "tokenizer": json.dumps(tokenizer.to_dict()),
            "classes": json.dumps(classes), "task": json.dumps(task), "training": json.dumps(training)}
    ckpt._atomic_save(model.state_dict(), meta, path)
    return path


def resolve_classifier_path(path: str | Path) -> Path:
    """A run folder (``classify train --out DIR``) means its classifier.safetensors."""
    p = Path(path)
    if not p.is_dir():
        return p
    if not (p / CHECKPOINT_NAME).exists():
        raise CheckpointError(f"{p}: a folder without {CHECKPOINT_NAME}; give a classifier .safetensors file "
                              "or the --out folder of `genrnn classify train`")
    return p / CHECKPOINT_NAME


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """Validate everything, then build the model; any fault → CheckpointError naming the file."""
    path = resolve_classifier_path(path)
    meta, tensors = ckpt._read(path)
    if meta.get("format") == ckpt.FORMAT:
        raise CheckpointError(f"{path}: a genrnn language model, not a classifier; "
                              "train one with `genrnn classify train`")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a genrnn classifier (metadata 'format' is {meta.get('format')!r}, "
                              f"expected {FORMAT!r})")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{path}: classifier format version {meta.get('format_version')!r}; "
                              f"this genrnn ({__version__}) reads version {FORMAT_VERSION}")
    try:
        config = from_dict(ClassifierConfig, ckpt._json_field(path, meta, "model_config"), where="model_config")
        tokenizer = tokenizer_from_dict(ckpt._json_field(path, meta, "tokenizer"))
    except (ConfigError, TokenizerError) as exc:
        raise CheckpointError(f"{path}: bad metadata: {exc}") from None
    if not isinstance(tokenizer, MidiEventTokenizer):
        raise CheckpointError(f"{path}: tokenizer kind {tokenizer.kind!r}; classifiers read MIDI events")
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                              f"{config.vocab_size}")
    classes = ckpt._json_field(path, meta, "classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or len(classes) != config.num_classes:
        raise CheckpointError(f"{path}: metadata 'classes' must list {config.num_classes} class names, got {classes!r}")
    task, training = ckpt._json_field(path, meta, "task"), ckpt._json_field(path, meta, "training")
    if not isinstance(task, dict) or not isinstance(training, dict):
        raise CheckpointError(f"{path}: metadata 'task' and 'training' must be JSON objects")
    model = SequenceClassifier(config)
    ckpt._load_weights(path, model, tensors)
    model.to(device).eval()
    return Classifier(path, model, tokenizer, classes, task, training)


# ---------------------------------------------------------------- classifying pieces


@dataclass
class Prediction:
    label: str
    probability: float
    probs: dict[str, float]
    windows: int

    def row(self) -> dict[str, Any]:
        return {"label": self.label, "probability": round(self.probability, 6),
                "probs": {k: round(v, 6) for k, v in self.probs.items()}, "windows": self.windows}


def read_piece(path: str | Path) -> NoteSequence:
    """A .mid (any MIDI suffix), .abc (its first tune) or MusicXML/.mxl/kern file → notes."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi(p)
    if not p.is_file():
        raise MidiConversionError(f"{p}: no such file")
    if suffix == ".abc":
        text = p.read_text(encoding="utf-8", errors="replace")
        tunes = notation.split_abc_tunes(text) or [text]
        return notation.abc_to_sequence(tunes[0], name=str(p))
    if suffix in SCORE_SUFFIXES:
        return notation.score_to_sequence(notation.parse_score(p), name=str(p))
    raise MidiConversionError(f"{p}: unknown file type {suffix or '(none)'!r}; expected "
                              f"{', '.join(MIDI_SUFFIXES + ('.abc',) + SCORE_SUFFIXES)}")


def piece_ids(clf: Classifier, seq: NoteSequence, name: str = "piece") -> np.ndarray:
    """The ids the classifier reads: notes without drums, cut to the trained excerpt length."""
    seq = seq.without_drums()
    excerpt = clf.task.get("excerpt_seconds")
    if excerpt:
        seq = seq.clipped(float(excerpt))
    ids = clf.tokenizer.encode(seq)
    if not len(ids):
        raise MidiConversionError(f"{name}: no pitched notes to classify")
    return ids


def classify_sequences(clf: Classifier, pieces: Sequence[tuple[str, NoteSequence]]) -> list[Prediction]:
    ids = [piece_ids(clf, seq, name) for name, seq in pieces]
    probs = predict_proba(clf.model, ids, clf.window, next(clf.model.parameters()).device)
    out = []
    for row, piece in zip(probs, ids, strict=True):
        best = int(row.argmax())
        out.append(Prediction(clf.classes[best], float(row[best]),
                              {c: float(v) for c, v in zip(clf.classes, row, strict=True)},
                              len(windows(piece, clf.window))))
    return out


def classify_file(clf: Classifier, path: str | Path) -> Prediction:
    return classify_sequences(clf, [(str(path), read_piece(path))])[0]
