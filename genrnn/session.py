"""The facade the CLI and the TUI share: models, streams, music, training, evaluation, and the
many-to-many harmonizer and many-to-one classifier.

Front ends hold no model code: they call these functions and get plain results, streams and
trainers back. Importing this module does not import PyTorch: a language model is read from
its header (``models/info.py``) and streams on the NumPy back-end when it is an LSTM on the CPU,
so ``genrnn sample`` prints before PyTorch could have loaded; PyTorch comes in the first time a
model's ``module`` is needed (another cell, a GPU, training, evaluation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrnn import fileformat
from genrnn.config import (
    SampleConfig,
    TrainConfig,
    check_best_of,
    resolve_preset,
    sample_config,
)
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError, CorpusError
from genrnn.generation import music
from genrnn.generation.conditions import condition_ids, condition_labels, instrument_conditions
from genrnn.generation.music import (
    abc_primer_ids,
    check_tune,
    perform,
    require_kind,
    sample_piece,
    save_piece,
    save_tune,
    save_tune_text,
    write_tune,
)
from genrnn.generation.stream import Stream, open_stream
from genrnn.models.info import ModelInfo, read_info
from genrnn.models.labels import label_fields
from genrnn.models.metre import metre_fields
from genrnn.tokenizers.base import label_kinds as kinds_of_labels

if TYPE_CHECKING:
    from genrnn.training.loop import Callback, Trainer

__all__ = [
    "Model", "Stream", "abc_primer_ids", "check_model", "check_tune", "checkpoint_info", "condition_ids",
    "condition_labels", "instrument_conditions", "evaluate_model", "evaluate_music", "kinds_of_labels", "label_primer", "load_model",
    "make_trainer", "open_jam", "open_stream", "perform", "prepare_corpus", "read_music_primer", "resume_trainer",
    "sample_music", "sample_piece", "sample_pieces", "sample_tune", "save_piece", "save_tune", "save_tune_text",
    "write_tune", "critic_data", "Ranked", "rerank", "load_critic", "model_critic",
]


@dataclass
class Model(ModelInfo):
    """A language model ready to stream from: its record, and its weights once needed."""

    device: str = "cpu"
    step: str = "auto"  # the streams' back-end: "numpy", "torch", or "auto" (NumPy for an LSTM on the CPU)
    _module: Any = field(default=None, repr=False)
    _arrays: Any = field(default=None, repr=False)

    @property
    def module(self) -> Any:
        """The PyTorch ``RNNLanguageModel`` on ``device`` (loaded, with PyTorch, on first use)."""
        if self._module is None:
            from genrnn.models.weights import load_module

            self._module = load_module(self, self.device)
        return self._module

    @property
    def numpy_backend(self) -> bool:
        """Whether streams run on the NumPy back-end (an LSTM on the CPU, unless told otherwise)."""
        return self.step != "torch" and self.config.cell == "lstm" and self.device == "cpu"

    def backend(self, batch: int = 1) -> Any:
        """A fresh step back-end for ``batch`` streams (generation/stream.py)."""
        if self.numpy_backend:
            from genrnn.generation.light import NumpyLstm, lstm_arrays

            if self._arrays is None:
                self._arrays = lstm_arrays(self)
            return NumpyLstm(self._arrays, self.config, batch)
        from genrnn.models.step import TorchStep

        return TorchStep(self.module, batch)


def load_model(path: str | Path, device: str = "cpu", step: str = "auto") -> Model:
    """A language-model file (or run folder) → ``Model``; every fault one CheckpointError.
    ``step="torch"`` streams on PyTorch even where NumPy would serve (benchmarks, checks);
    ``step="numpy"`` insists on NumPy (an LSTM on the CPU only)."""
    info = read_info(path)
    if step not in ("auto", "numpy", "torch"):
        raise ConfigError(f"step = {step!r}: expected auto, numpy or torch")
    if device != "cpu":
        from genrnn.training.loop import pick_device

        device = str(pick_device(device))
    model = Model(**{f.name: getattr(info, f.name) for f in fields(ModelInfo)}, device=device, step=step)
    if step == "numpy" and not model.numpy_backend:
        raise ConfigError(f"{info.path.name}: the NumPy step runs an LSTM on the CPU; this is a "
                          f"{info.config.cell} on {device}")
    return model


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """What ``genrnn info`` shows: a language model's record (its shapes checked against its
    config), or a harmonizer's, classifier's or feature critic's own fields (with ``format``)."""
    header = fileformat.read_header(path)
    if header.format not in (fileformat.HARMONIZER, fileformat.CLASSIFIER, fileformat.FEATURE_CRITIC):
        return read_info(path).record()
    header.expect(header.format)
    record: dict[str, Any] = {"format": header.format, "path": str(header.path), "parameters": header.parameters}
    for name in header.meta:
        if name not in ("format", "format_version", "genrnn_version"):
            record[name] = header.field(name)
    return record


def check_model(path: str | Path) -> str:
    """Load a file and use it the way its command does (a language model samples 50 tokens);
    a one-line description, or the loader's error."""
    fmt = fileformat.read_header(path).format
    if fmt == fileformat.HARMONIZER:
        params = sum(p.numel() for p in __getattr__("load_harmonizer")(path).model.parameters())
        return f"harmonizer, {params:,} parameters: loads"
    if fmt == fileformat.CLASSIFIER:
        return f"classifier ({', '.join(__getattr__('load_classifier')(path).classes)}): loads"
    if fmt == fileformat.FEATURE_CRITIC:
        from genrnn.inference.feature_critic import load_feature_critic

        critic = load_feature_critic(path)
        return f"feature critic ({len(critic.names)} features): loads"
    model = load_model(path)
    open_stream(model, sample_config(model.kind, seed=0)).take(50)
    return f"{model.kind}, {model.config.cell} {model.config.layers}×{model.config.hidden}: loads and samples"


# ---------------------------------------------------------------- corpora and training

# What ``--conditioned`` adds to a MIDI-event recipe, in this order: mode and key (music21's key
# profiles), whether the piece rests between phrases, and how many voices it has at most
# (music/notation.py; the sampler holds a piece to its drawn ``voices``). A recipe that keeps its
# instruments gets mode, key and which instruments play instead.
CONDITION_LABELS = ["mode", "key", "rests", "voices"]


def prepare_corpus(text: str | Path | None = None, recipe: str | Path | None = None,
                   cache_dir: str | Path | None = None, tokenizer: Any = None,
                   strict: bool = False, conditioned: bool = False,
                   label_kinds: Sequence[str] | None = None) -> PreparedCorpus:
    """A text file/folder (``text``) or a corpus recipe (``recipe``) → token arrays.
    ``conditioned``: label tokens open each piece (``label_kinds``, by default
    ``CONDITION_LABELS``, unless the recipe names its own ``labels``) or each file of a text
    folder (``file=NAME``), for one-to-many sampling with ``--condition``."""
    if (text is None) == (recipe is None):
        raise ConfigError("give exactly one of --text FILE|FOLDER or --corpus RECIPE.toml")
    if text is not None:
        from genrnn.corpora.text import prepare_text

        return prepare_text(text, cache_dir=cache_dir, tokenizer=tokenizer, conditioned=conditioned)
    from genrnn.corpora.text_recipe import is_text_recipe, prepare_text_recipe

    if is_text_recipe(recipe):
        if conditioned:
            raise ConfigError(f"--conditioned: {recipe} is a one-file text recipe; a label per file needs "
                              f"--text FOLDER")
        return prepare_text_recipe(recipe, cache_dir=cache_dir, tokenizer=tokenizer)
    try:
        from genrnn.corpora.recipes import load_recipe, prepare
    except ModuleNotFoundError as exc:  # a partial install without the music packages
        raise CorpusError(f"corpus recipes need the music packages ({exc}); run make setup") from None
    overrides = None
    if conditioned:
        spec = load_recipe(recipe)
        if spec.tokenizer != "midi_events":
            raise ConfigError(f"--conditioned: {recipe} is an ABC recipe; ABC tunes carry their own labels in "
                              f"their header: prime with one (a --primer FILE.abc holding e.g. M:6/8 and K:Edor lines)")
        if not spec.labels:  # a model's own kinds when it has them (models made before "rests")
            default = CONDITION_LABELS if spec.instruments == "merge" else ["mode", "key", "instruments"]
            overrides = {"labels": list(label_kinds or default)}
    return prepare(recipe, cache_dir=cache_dir, strict=strict, overrides=overrides)


def make_trainer(corpus: PreparedCorpus, preset: str, model_overrides: dict[str, Any],
                 train_overrides: dict[str, Any], out_dir: str | Path,
                 callbacks: list[Callback] | None = None, cache_dir: str | Path | None = None,
                 metre: int = 0) -> Trainer:
    """``preset`` ``auto`` measures this machine first (training/auto.py); its choice and reason
    land in the run record (``trainer.record["auto"]``). Explicit overrides win over any preset.
    ``metre``: phases per cycle of a metre input (``train --metre``, models/metre.py), 0 for none."""
    from genrnn.training.loop import Trainer

    record: dict[str, Any] = {"preset": preset}
    if preset == "auto":
        from genrnn.training.auto import choose_for

        choice = choose_for(corpus, model_overrides, train_overrides, cache_dir=cache_dir)
        model_overrides = {"hidden": choice.hidden, "dropout": choice.dropout,
                           **{k: v for k, v in model_overrides.items() if v is not None}}
        explicit = {k: v for k, v in train_overrides.items() if v is not None}
        train_overrides = {"ema": choice.ema, **explicit, "dtype": explicit.get("dtype") or choice.dtype,
                           "lr": explicit.get("lr") or choice.lr}
        record["auto"] = choice.record()
    model_cfg, train_cfg = resolve_preset(preset, model_overrides, train_overrides,
                                          corpus.tokenizer.vocab_size)
    # A tokenizer with labels (--conditioned): the model holds them at every step; with a
    # metre (--metre), it is told the phase of every step on the piece's tick grid.
    model_cfg = dataclasses.replace(model_cfg, **label_fields(corpus.tokenizer),
                                    **metre_fields(corpus.tokenizer, metre))
    return Trainer(corpus, model_cfg, train_cfg, out_dir, callbacks=callbacks, record=record)


def resume_trainer(run_dir: str | Path, train_overrides: dict[str, Any],
                   callbacks: list[Callback] | None = None, cache_dir: str | Path | None = None) -> Trainer:
    """Rebuild the trainer of ``run_dir`` from its last checkpoint and continue."""
    from genrnn.config import from_dict
    from genrnn.training import checkpoint as ckpt
    from genrnn.training.loop import Trainer

    run = Path(run_dir)
    info = read_info(run / "last.safetensors")
    _, state = ckpt.load_train_state(ckpt.state_path(info.path))
    corpus_meta = info.training.get("corpus", {})
    source = corpus_meta.get("source")
    labelled = bool(getattr(info.tokenizer, "labels", None))
    if corpus_meta.get("kind") == "text":
        corpus = prepare_corpus(text=source, cache_dir=cache_dir, tokenizer=info.tokenizer, conditioned=labelled)
    else:  # a recipe's corpus meta names its data source; the recipe file is recipe_path
        source = corpus_meta.get("recipe_path") or source
        corpus = prepare_corpus(recipe=source, cache_dir=cache_dir, conditioned=labelled,
                                label_kinds=kinds_of_labels(info.tokenizer))
    if corpus.meta.get("sha256") != corpus_meta.get("sha256"):
        raise CorpusError(f"{source}: the corpus changed since {run} was trained (SHA-256 differs)")
    train_cfg = from_dict(TrainConfig, {**state["train_config"],
                                        **{k: v for k, v in train_overrides.items() if v is not None}},
                          where="resumed train config")
    record = {k: v for k, v in info.training.items() if k == "preset"}
    trainer = Trainer(corpus, info.config, train_cfg, run, callbacks=callbacks, record=record)
    trainer.resume_from(run)
    return trainer


def evaluate_model(model: Model, corpus_val: Any, seq_len: int = 256, device: str = "cpu",
                   dtype: str = "fp32") -> float:
    """Nats per token on ``corpus_val``, the state carried across windows."""
    from genrnn.training.loop import evaluate, pick_device, pick_dtype

    dev = pick_device(device)
    return evaluate(model.module.to(dev), corpus_val, seq_len, dev, pick_dtype(dtype, dev))


# ---------------------------------------------------------------- music
# Event models are primed with notes and run for N seconds of musical time (music.Performance:
# the one loop of `genrnn sample`, the TUI, `eval` and the critic); ABC models write whole tunes.


def is_music_model(model: Model) -> bool:
    """True for models whose samples are music files (MIDI events or ABC tunes)."""
    return model.kind in ("midi_events", "abc")


def read_music_primer(model: Model, path: str | Path, seconds: float | None = 4.0,
                      labels: Sequence[str] = ()) -> music.MusicPrimer:
    """A .mid primer for an event model: its first ``seconds`` (all when None) as a
    ``MusicPrimer``. Wrong kind of model or file, unreadable MIDI, no notes → one-line errors."""
    return music.read_primer(model, path, seconds, labels)


def label_primer(model: Model, labels: Sequence[str]) -> music.MusicPrimer:
    """A ``MusicPrimer`` of START and ``labels`` only: a piece from its labels (one-to-many)."""
    require_kind(model, ("midi_events",), "a label primer")
    return music.empty_primer(model.tokenizer, labels)


def sample_music(model: Model, settings: SampleConfig, primer: music.MusicPrimer | None = None,
                 seconds: float = 30.0, max_tokens: int | None = None, until_end: bool = False) -> music.MusicSample:
    """One piece from an event model: primer (or START) then ``seconds`` of generated music →
    ``MusicSample`` (sequence with the primer-end marker). END is masked unless ``until_end``."""
    return sample_piece(model, settings, primer, seconds, max_tokens, until_end)


def sample_pieces(model: Model, num: int, settings: SampleConfig, seconds: float | Sequence[float],
                  labels: Sequence[Sequence[str]] | None = None,
                  progress: Callable[[int, int], None] | None = None, best_of: int = 1,
                  critic: Any = None) -> list[music.MusicSample]:
    """``num`` pieces (seeds ``settings.seed + n``, END masked), each ``seconds`` long (or
    ``seconds[n]``): what ``eval`` compares with real pieces and the critic judges. Without
    ``labels`` they are unprimed (a conditioned model draws its own labels); with them, piece
    n is given ``labels[n]`` (cycled). ``best_of`` N > 1: each piece is the one of N drawn
    (seeds ``settings.seed + n·N + k``) that ``critic`` (default: the model's own) rates most
    real (``rerank``)."""
    base = settings.seed if settings.seed is not None else 0
    lengths = [float(seconds)] * num if isinstance(seconds, int | float) else [float(s) for s in seconds]
    if len(lengths) != num:
        raise ConfigError(f"{len(lengths)} lengths for {num} pieces")
    out = []
    for n, length in enumerate(lengths):
        primer = label_primer(model, labels[n % len(labels)]) if labels else None
        if best_of > 1:
            critic = critic or model_critic(model)
            cfg = dataclasses.replace(settings, seed=base + n * best_of)
            out.append(rerank(model, cfg, best_of, critic, primer, length).sample)
        else:
            out.append(sample_music(model, dataclasses.replace(settings, seed=base + n), primer, length))
        if progress is not None:
            progress(n + 1, num)
    return out


@dataclass
class Ranked:
    """The piece a critic rated most real among ``best_of`` drawn, with every candidate's score."""

    sample: music.MusicSample
    chosen: int  # which candidate, in the order drawn
    scores: list[float]  # every candidate's P(real), in the order drawn

    @property
    def score(self) -> float:
        """The critic's P(real) of ``sample``."""
        return self.scores[self.chosen]


def load_critic(path: str | Path) -> Any:
    """A critic to rerank with: a feature critic (``inference/feature_critic.py``: NumPy, no
    PyTorch), or a neural critic (``classify train --label real``'s classifier.safetensors,
    which loads PyTorch)."""
    from genrnn.inference.feature_critic import load_feature_critic

    if fileformat.read_header(path).format == fileformat.CLASSIFIER:
        from genrnn.inference.classifier import load_neural_critic

        return load_neural_critic(path)
    return load_feature_critic(path)


def model_critic(model: Model, path: str | Path | None = None) -> Any:
    """The critic that reranks ``model``'s pieces: ``path``, else the model's own
    (``NAME.critic.safetensors`` beside ``NAME.safetensors``), else a CheckpointError that says
    where it looked and how to make one."""
    from genrnn.errors import CheckpointError
    from genrnn.inference.feature_critic import sibling_critic

    require_kind(model, ("midi_events",), "reranking by a critic (best of N)")
    if path is not None:
        return load_critic(path)
    own = sibling_critic(model.path)
    if not own.exists():
        raise CheckpointError(f"{model.path.name}: no critic to rerank with: {own} does not exist; give "
                              f"--critic FILE (a feature_critic.safetensors written by `genrnn classify train "
                              f"--label real --generator {model.path}`), or copy one there")
    return load_critic(own)


def rerank(model: Model, settings: SampleConfig, best_of: int, critic: Any,
           primer: music.MusicPrimer | None = None, seconds: float = 30.0, max_tokens: int | None = None,
           until_end: bool = False, cancelled: Callable[[], bool] = lambda: False,
           progress: Callable[[int, int], None] | None = None) -> Ranked:
    """Draw ``best_of`` pieces (seeds ``settings.seed + k``; each its own random seed when
    None) and keep the one ``critic`` rates most real (P(real) of the whole piece, primer
    included; the first drawn wins a tie). ``cancelled``: stop now (the piece being drawn is
    cut there) and keep the best of those drawn; ``progress(drawn, best_of)`` after each."""
    check_best_of(best_of)
    drawn: list[music.MusicSample] = []
    for k in range(best_of):
        if drawn and cancelled():
            break
        seed = None if settings.seed is None else settings.seed + k
        performance = perform(model, dataclasses.replace(settings, seed=seed), primer, seconds, max_tokens, until_end)
        for _ in performance:
            if cancelled():
                performance.close()
        drawn.append(performance.sample())
        if progress is not None:
            progress(k + 1, best_of)
    scores = [float(p) for p in critic.real_probability([d.sequence for d in drawn])]
    best = max(range(len(drawn)), key=lambda k: (scores[k], -k))
    return Ranked(drawn[best], best, scores)


def performance_messages(performance: music.Performance) -> Any:
    """A ``Performance`` as playback ``TimedMessage``s, made one token at a time as the player
    asks (a program change first): for ``playback.play_stream``."""
    from genrnn.playback.events import note_event_messages

    return note_event_messages((ev.time, ev.pitch, ev.velocity, ev.program, ev.is_drum)
                               for token_events in performance for ev in token_events)


def open_jam(model: Model, settings: SampleConfig, program: int | None = None) -> Any:
    """The model's side of a live jam (``generation.jam.JamVoice``): one stream for the whole
    session, opened from START (a conditioned model draws its labels), warmed up so that the
    first answer is as quick as the rest. ``program``: the answers' instrument, checked here
    (a model with instruments plays only those it heard), not at the first answer."""
    from genrnn.generation.jam import JamVoice

    require_kind(model, ("midi_events",), "a jam")
    asked = (str(program),) if program is not None and getattr(model.tokenizer, "instruments", None) else ()
    warm = open_stream(model, dataclasses.replace(settings, seed=0, instruments=asked))
    warm.take(32)  # the back-end's arrays loaded, every code path of a step run once
    return JamVoice(open_stream(model, settings), model.tokenizer)


def sample_tune(model: Model, settings: SampleConfig, primer_text: str | None = None,
                max_chars: int = 1500, name: str = "tune") -> music.TuneSample:
    """One whole tune from an ABC model → ``TuneSample`` (text, parse error or notes)."""
    return check_tune(write_tune(model, settings, primer_text, max_chars), name)


def evaluate_music(model: Model, recipe: str | Path, samples: int = 0,
                   settings: SampleConfig | None = None, max_seconds: float | None = None,
                   cache_dir: str | Path | None = None, device: str = "cpu",
                   held_out_labels: bool = False, keep_pieces: bool = False) -> dict[str, Any]:
    """Loss on a recipe's held-out split and, for ``samples`` > 0, sampled pieces against
    the held-out real ones: ``metrics.compare`` for event models (both sides of every
    statistic), the share of tunes music21 parses for ABC models. ``held_out_labels``: a
    conditioned event model is given the held-out pieces' labels in turn instead of drawing
    its own, so both sides hold the same mix of keys, modes, rests and voices. ``keep_pieces``:
    the report also holds what was compared under ``pieces`` (not JSON: the copy check and
    the HTML report read it): ``generated`` and ``real`` NoteSequences, or the sampled ABC
    ``tunes`` and the ``real`` held-out tunes' text."""
    import numpy as np

    from genrnn.corpora.recipes import val_labels, val_sequences, val_tunes
    from genrnn.music import metrics

    require_kind(model, ("midi_events", "abc"), "eval --corpus")
    if held_out_labels and model.kind != "midi_events":
        raise ConfigError(f"{model.path.name}: held-out labels are for conditioned event models; this is a {model.kind} model")
    corpus = prepare_corpus(recipe=recipe, cache_dir=cache_dir,
                            conditioned=bool(getattr(model.tokenizer, "labels", None)),
                            label_kinds=kinds_of_labels(model.tokenizer))
    if corpus.tokenizer.to_dict() != model.tokenizer.to_dict():
        raise CorpusError(f"{recipe}: its tokenizer ({corpus.meta.get('kind')}, {corpus.tokenizer.vocab_size} "
                          f"tokens) is not the one {model.path.name} was trained with")
    settings = settings or sample_config(model.kind, seed=0)
    nats = evaluate_model(model, corpus.val, device=device)
    report: dict[str, Any] = {"checkpoint": str(model.path), "recipe": corpus.meta.get("recipe"),
                              "kind": model.kind, "val_tokens": int(len(corpus.val)),
                              "nats_per_token": nats, "samples": samples}
    if samples <= 0:
        return report
    if model.kind == "abc":
        tunes = [sample_tune(model, dataclasses.replace(settings, seed=(settings.seed or 0) + n), name=f"sample {n + 1}")
                 for n in range(samples)]
        real_tunes = val_tunes(corpus)
        report["real_tunes"] = len(real_tunes)
        report["parse_share"] = sum(t.parses for t in tunes) / samples
        report["parse_failures"] = [f"sample {n + 1}: {t.error}" for n, t in enumerate(tunes) if t.error]
        if keep_pieces:
            report["pieces"] = {"tunes": tunes, "real": real_tunes}
        return report
    real = val_sequences(corpus)
    cap = max_seconds or float(np.median([s.end_time for s in real]))  # as long as a typical real piece
    labels = None
    if held_out_labels:
        labels = val_labels(corpus)
        if not any(labels):
            raise ConfigError(f"{model.path.name}: held-out labels need a conditioned model; this one has no labels")
    generated = sample_pieces(model, samples, settings, cap, labels)
    report["seconds_per_sample"] = cap
    report["labels"] = "held-out" if labels else "drawn"
    report["metrics"] = metrics.compare([p.sequence for p in generated], real)
    if keep_pieces:
        report["pieces"] = {"generated": [p.sequence for p in generated], "real": real}
    return report


# ---------------------------------------------------------------- the harmonizer and classifiers
# Many-to-many (a melody in, voices out) and many-to-one (a piece in, a label out): their files and
# answers are genrnn/inference/, their data and training genrnn/training/. They need PyTorch, so
# they load on first use: ``session.load_harmonizer(path)``, ``session.train_classifier(...)``.
_LAZY = {
    "load_harmonizer": ("genrnn.inference.harmonizer", "load_harmonizer"),
    "harmonize_file": ("genrnn.inference.harmonizer", "harmonize_file"),
    "train_harmonizer": ("genrnn.training.harmonizer", "train_harmonizer"),
    "load_classifier": ("genrnn.inference.classifier", "load_classifier"),
    "classify_file": ("genrnn.inference.classifier", "classify_file"),
    "read_piece": ("genrnn.music.notation", "read_piece"),
    "label_data": ("genrnn.training.classifier_data", "label_data"),
    "classifier_config": ("genrnn.training.classifier", "model_config"),
    "train_classifier": ("genrnn.training.classifier", "train_classifier"),
    "train_feature_critic": ("genrnn.training.feature_critic", "train_feature_critic"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'genrnn.session' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)


GENERATION_SEED_STRIDE = 100_000  # critic seed s draws its generated pieces with seeds 100000·s + n


def critic_data(recipe: str | Path, generator: str | Path, seconds: float = 15.0, seed: int = 0,
                cache_dir: str | Path | None = None, val_percent: float | None = None,
                save_dir: str | Path | None = None, on_event: Callable[[dict[str, Any]], None] | None = None,
                augment_real: bool = True, settings: SampleConfig | None = None, best_of: int = 1,
                critic: str | Path | None = None) -> Any:
    """Real excerpts against as many pieces of the same lengths written by ``generator`` the way
    ``genrnn sample`` writes them: ``sample_pieces`` at the model kind's defaults (``settings``
    to change them), labels drawn by the model, END masked. Seed s draws its pieces with seeds
    ``GENERATION_SEED_STRIDE``·s + n, so that two seeds share no piece. ``best_of`` N > 1: as
    ``genrnn sample --best-of N --critic CRITIC`` writes them, each the best of N."""
    from genrnn.training.classifier_data import critic_data as data

    model = load_model(generator)
    require_kind(model, ("midi_events",), "a critic's generator")
    settings = settings or sample_config(model.kind)
    settings = dataclasses.replace(settings, seed=seed * GENERATION_SEED_STRIDE if settings.seed is None else settings.seed)
    judge = model_critic(model, critic) if best_of > 1 else None

    def generate(lengths: Sequence[float]) -> list[Any]:
        def progress(done: int, total: int) -> None:
            if on_event is not None:
                on_event({"phase": "generate", "done": done, "total": total})

        return [p.sequence for p in sample_pieces(model, len(lengths), settings, lengths, progress=progress,
                                                  best_of=best_of, critic=judge)]

    generator_record = {"generator": str(model.path), "generator_sha256": _sha256(model.path),
                        "sampling": dataclasses.asdict(settings)}
    if judge is not None:
        generator_record["best_of"] = {"n": best_of, "critic": str(judge.path), "critic_sha256": _sha256(judge.path)}
    return data(recipe, generate, generator_record, seconds, seed, cache_dir, val_percent, save_dir, on_event,
                augment_real)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
