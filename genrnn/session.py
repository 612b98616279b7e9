"""The facade the CLI and the TUI share: load a checkpoint, open a stream, train, evaluate.

Front ends hold no model code: they call these functions and get plain results, generators
and trainers back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrnn.config import ModelConfig, SampleConfig, TrainConfig, resolve_preset
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError, CorpusError
from genrnn.generation import pieces
from genrnn.generation.conditions import condition_ids, condition_labels, settle_labels  # noqa: F401
from genrnn.generation.stream import Generator, default_primer
from genrnn.models.labels import label_fields
from genrnn.tokenizers.base import label_kinds as kinds_of_labels
from genrnn.training import checkpoint as ckpt
from genrnn.training.loop import Callback, Trainer, evaluate, pick_device, pick_dtype


@dataclass
class Model:
    """A loaded checkpoint, ready to stream from."""

    checkpoint: ckpt.Checkpoint

    @property
    def path(self) -> Path:
        return self.checkpoint.path

    @property
    def tokenizer(self) -> Any:
        return self.checkpoint.tokenizer

    @property
    def kind(self) -> str:
        """'text', 'abc' or 'midi_events'."""
        return str(self.checkpoint.training.get("corpus", {}).get("kind", self.tokenizer.kind))

    @property
    def config(self) -> ModelConfig:
        return self.checkpoint.config

    @property
    def training(self) -> dict[str, Any]:
        return self.checkpoint.training

    def encode_text(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> Any:
        return self.tokenizer.decode(ids)


def load_model(path: str | Path, device: str = "cpu") -> Model:
    return Model(ckpt.load_model(path, device=device))


OTHER_FORMATS = ("genrnn-harmonizer", "genrnn-classifier")  # genrnn files that are not language models


def file_format(path: str | Path) -> str:
    """The ``format`` a genrnn safetensors file declares in its header ("" if none)."""
    from genrnn.models.checkpoint_format import read_numpy, resolve_checkpoint_path

    return str(read_numpy(resolve_checkpoint_path(path), tensors_too=False)[0].get("format", ""))


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    """A language model's config, tokenizer and training record; for a harmonizer or a
    classifier, its own header record (with ``format``)."""
    if file_format(path) in OTHER_FORMATS:
        import json

        from genrnn.models.checkpoint_format import read_numpy, resolve_checkpoint_path

        meta = read_numpy(resolve_checkpoint_path(path), tensors_too=False)[0]
        info: dict[str, Any] = {}
        for k, v in meta.items():
            try:
                info[k] = json.loads(v) if k != "format" else v
            except ValueError:
                info[k] = v
        return info
    return ckpt.read_metadata(path)


def check_model(path: str | Path) -> str:
    """Load a shipped file and use it the way its command does (a language model samples 50
    tokens); a one-line description, or the loader's error."""
    fmt = file_format(path)
    if fmt == "genrnn-harmonizer":
        from genrnn.training.harmonize import load_harmonizer

        params = sum(p.numel() for p in load_harmonizer(path).model.parameters())
        return f"harmonizer, {params:,} parameters: loads"
    if fmt == "genrnn-classifier":
        from genrnn.training.classify import load_classifier

        return f"classifier ({', '.join(load_classifier(path).classes)}): loads"
    model = load_model(path)
    open_stream(model, SampleConfig(seed=0)).take(50)
    return f"{model.kind}, {model.config.cell} {model.config.layers}×{model.config.hidden}: loads and samples"


def open_stream(model: Model, settings: SampleConfig, primer: list[int] | None = None,
                batch: int = 1) -> Generator:
    gen = Generator(model.checkpoint.model, model.tokenizer, settings, batch=batch)
    gen.prime(primer)
    # An event model trained with labels draws those it was not given (a key for mode=minor,
    # all of them for a bare START): pieces from START alone are measurably worse.
    settle_labels(gen, model.tokenizer, list(primer) if primer else default_primer(model.tokenizer))
    return gen


# What ``--conditioned`` adds to a MIDI-event recipe, in this order: mode and key (music21's key
# profiles), whether the piece rests between phrases, and how many voices it has at most
# (music/notation.py; the sampler holds a piece to its drawn ``voices``).
CONDITION_LABELS = ["mode", "key", "rests", "voices"]


def prepare_corpus(text: str | Path | None = None, recipe: str | Path | None = None,
                   cache_dir: str | Path | None = None, tokenizer: Any = None,
                   strict: bool = False, conditioned: bool = False,
                   label_kinds: Sequence[str] | None = None) -> PreparedCorpus:
    """A text file/folder (``text``) or a corpus recipe (``recipe``) → token arrays.
    ``conditioned``: label tokens open each piece (``label_kinds``, by default mode and key,
    analysed with music21's key profiles, and rests, unless the recipe names its own
    ``labels``) or each file of a text folder (``file=NAME``), for one-to-many sampling with
    ``--condition``."""
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
            overrides = {"labels": list(label_kinds or CONDITION_LABELS)}
    return prepare(recipe, cache_dir=cache_dir, strict=strict, overrides=overrides)


def make_trainer(corpus: PreparedCorpus, preset: str, model_overrides: dict[str, Any],
                 train_overrides: dict[str, Any], out_dir: str | Path,
                 callbacks: list[Callback] | None = None) -> Trainer:
    model_cfg, train_cfg = resolve_preset(preset, model_overrides, train_overrides,
                                          corpus.tokenizer.vocab_size)
    # A tokenizer with labels (--conditioned): the model holds them at every step.
    model_cfg = dataclasses.replace(model_cfg, **label_fields(corpus.tokenizer))
    record = {"preset": preset}
    return Trainer(corpus, model_cfg, train_cfg, out_dir, callbacks=callbacks, record=record)


def resume_trainer(run_dir: str | Path, train_overrides: dict[str, Any],
                   callbacks: list[Callback] | None = None, cache_dir: str | Path | None = None) -> Trainer:
    """Rebuild the trainer of ``run_dir`` from its last checkpoint and continue."""
    from genrnn.config import from_dict

    run = Path(run_dir)
    model_path = run / "last.safetensors"
    meta = ckpt.read_metadata(model_path)
    _, info = ckpt.load_train_state(ckpt.state_path(model_path))
    corpus_meta = meta["training"].get("corpus", {})
    source = corpus_meta.get("source")
    loaded = ckpt.load_model(model_path)
    labelled = bool(getattr(loaded.tokenizer, "labels", None))
    if corpus_meta.get("kind") == "text":
        corpus = prepare_corpus(text=source, cache_dir=cache_dir, tokenizer=loaded.tokenizer, conditioned=labelled)
    else:  # a recipe's corpus meta names its data source; the recipe file is recipe_path
        source = corpus_meta.get("recipe_path") or source
        corpus = prepare_corpus(recipe=source, cache_dir=cache_dir, conditioned=labelled,
                                label_kinds=kinds_of_labels(loaded.tokenizer))
    if corpus.meta.get("sha256") != corpus_meta.get("sha256"):
        raise CorpusError(f"{source}: the corpus changed since {run} was trained (SHA-256 differs)")
    train_cfg = from_dict(TrainConfig, {**info["train_config"],
                                        **{k: v for k, v in train_overrides.items() if v is not None}},
                          where="resumed train config")
    model_cfg = from_dict(ModelConfig, info["model_config"], where="resumed model config")
    record = {k: v for k, v in meta["training"].items() if k == "preset"}
    trainer = Trainer(corpus, model_cfg, train_cfg, run, callbacks=callbacks, record=record)
    trainer.resume_from(run)
    return trainer


def evaluate_model(model: Model, corpus_val: Any, seq_len: int = 256, device: str = "cpu",
                   dtype: str = "fp32") -> float:
    dev = pick_device(device)
    model.checkpoint.model.to(dev)
    return evaluate(model.checkpoint.model, corpus_val, seq_len, dev, pick_dtype(dtype, dev))


# ---------------------------------------------------------------- music (issue 4)
# Event models are primed with notes and run for N seconds of musical time; ABC models write
# whole tunes. The CLI and the TUI share these; the model-facing work is generation/music.py.



def is_music_model(model: Model) -> bool:
    """True for models whose samples are music files (MIDI events or ABC tunes)."""
    return model.kind in ("midi_events", "abc")


def _require_kind(model: Model, kinds: tuple[str, ...], what: str) -> None:
    pieces.require_kind(model, kinds, what)


def _streams(model: Model) -> pieces.OpenStream:
    """``open_stream`` bound to ``model``, as generation/pieces.py takes it."""
    return lambda settings, ids: open_stream(model, settings, ids)


def read_music_primer(model: Model, path: str | Path, seconds: float | None = 4.0,
                      labels: Sequence[str] = ()) -> Any:
    """A .mid primer for an event model: its first ``seconds`` (all when None) as a
    ``MusicPrimer``. Wrong kind of model or file, unreadable MIDI, no notes → one-line errors."""
    return pieces.read_primer(model, path, seconds, labels)


def label_primer(model: Model, labels: Sequence[str]) -> Any:
    """A ``MusicPrimer`` of START and ``labels`` only: a piece from its labels (one-to-many)."""
    from genrnn.generation import music

    _require_kind(model, ("midi_events",), "a label primer")
    return music.empty_primer(model.tokenizer, labels)


def music_primer_from_sequence(model: Model, seq: Any, seconds: float | None = None) -> Any:
    """A NoteSequence (e.g. from the TUI) → ``MusicPrimer`` for an event model."""
    from genrnn.generation import music

    _require_kind(model, ("midi_events",), "a note primer")
    return music.primer_from_sequence(model.tokenizer, seq, seconds)


def sample_music(model: Model, settings: SampleConfig, primer: Any = None, seconds: float = 30.0,
                 max_tokens: int | None = None, until_end: bool = False) -> Any:
    """One piece from an event model: primer (a ``MusicPrimer`` or None) then ``seconds`` of
    generated music → ``MusicSample`` (sequence with the primer-end marker). The model's END
    is masked unless ``until_end``, which lets it finish the piece before ``seconds``."""
    return pieces.sample_piece(model, _streams(model), settings, primer, seconds, max_tokens, until_end)


def music_events(stream: Generator, seconds: float | None = None, start_time: float = 0.0,
                 record: list[int] | None = None, until_end: bool = False) -> Any:
    """Iterator of ``NoteEvent(time, pitch, velocity)`` (velocity 0 = off, ``.is_on``) from an
    event model's open stream, decoded one token at a time: for live playback and piano rolls.
    Runs ``seconds`` of music (for ever when None); END only stops it with ``until_end``."""
    from genrnn.generation import music

    return music.note_events(stream, seconds, start_time, record, allow_end=until_end)


def music_messages(stream: Generator, seconds: float | None = None, start_time: float = 0.0,
                   record: list[int] | None = None, channel: int = 0, program: int | None = 0,
                   until_end: bool = False) -> Any:
    """``music_events`` as playback ``TimedMessage``s (a program change first), ready for
    ``playback.play_stream``."""
    import mido

    from genrnn.playback.events import TimedMessage

    if program is not None:
        yield TimedMessage(start_time, mido.Message("program_change", channel=channel, program=program))
    for ev in music_events(stream, seconds, start_time, record, until_end):
        kind = "note_on" if ev.is_on else "note_off"
        yield TimedMessage(ev.time, mido.Message(kind, channel=channel, note=ev.pitch, velocity=ev.velocity))


def finish_music_sample(model: Model, primer: Any, tokens: list[int], seconds: float,
                        seed: int = 0) -> Any:
    """Tokens recorded while streaming (``music_events(record=...)``) → ``MusicSample``."""
    from genrnn.generation import music
    from genrnn.tokenizers.midi_events import END

    primer = primer or music.empty_primer(model.tokenizer)
    ended = bool(tokens) and tokens[-1] == END
    return music.build_sample(model.tokenizer, primer, tokens, seconds, ended, seed)


def save_music(sample: Any, path: str | Path, musicxml: bool = False) -> list[Path]:
    """Write a ``MusicSample`` as .mid (the primer-end marker included), plus .musicxml."""
    return pieces.save_piece(sample, path, musicxml)


def abc_primer_ids(model: Model, text: str | None) -> tuple[str, list[int]]:
    """(head text, primer ids) for an ABC model: the tune separator, then the user's primer."""
    return pieces.abc_primer_ids(model, text)


def sample_tune(model: Model, settings: SampleConfig, primer_text: str | None = None,
                max_chars: int = 1500, name: str = "tune") -> Any:
    """One whole tune from an ABC model → ``TuneSample`` (text, parse error or notes)."""
    return pieces.check_tune(pieces.write_tune(model, _streams(model), settings, primer_text, max_chars), name)


def save_tune(tune: Any, path: str | Path) -> list[Path]:
    """Write a ``TuneSample`` as .abc (always) and .mid (when it parses)."""
    return pieces.save_tune(tune, path)


def sample_pieces(model: Model, num: int, settings: SampleConfig, seconds: float,
                  labels: Sequence[Sequence[str]] | None = None) -> list[Any]:
    """``num`` pieces of ``seconds`` each (seeds ``settings.seed + n``, END masked): the samples
    that ``evaluate_music`` compares with real pieces. Without ``labels`` they are unprimed
    (a conditioned model draws its own labels); with them, piece n is given ``labels[n]``
    (cycled)."""
    base = settings.seed if settings.seed is not None else 0
    return [sample_music(model, SampleConfig(**{**settings.__dict__, "seed": base + n}),
                         label_primer(model, labels[n % len(labels)]) if labels else None, seconds)
            for n in range(num)]


def evaluate_music(model: Model, recipe: str | Path, samples: int = 0,
                   settings: SampleConfig | None = None, max_seconds: float | None = None,
                   cache_dir: str | Path | None = None, device: str = "cpu",
                   held_out_labels: bool = False) -> dict[str, Any]:
    """Loss on a recipe's held-out split and, for ``samples`` > 0, sampled pieces against
    the held-out real ones: ``metrics.compare`` for event models (both sides of every
    statistic), the share of tunes music21 parses for ABC models. ``held_out_labels``: a
    conditioned event model is given the held-out pieces' labels in turn instead of drawing
    its own, so both sides hold the same mix of keys, modes, rests and voices."""
    import numpy as np

    from genrnn.corpora.recipes import val_labels, val_sequences, val_tunes
    from genrnn.music import metrics

    _require_kind(model, ("midi_events", "abc"), "eval --corpus")
    if held_out_labels and model.kind != "midi_events":
        raise ConfigError(f"{model.path.name}: held-out labels are for conditioned event models; this is a {model.kind} model")
    corpus = prepare_corpus(recipe=recipe, cache_dir=cache_dir,
                            conditioned=bool(getattr(model.tokenizer, "labels", None)),
                            label_kinds=kinds_of_labels(model.tokenizer))
    if corpus.tokenizer.to_dict() != model.tokenizer.to_dict():
        raise CorpusError(f"{recipe}: its tokenizer ({corpus.meta.get('kind')}, {corpus.tokenizer.vocab_size} "
                          f"tokens) is not the one {model.path.name} was trained with")
    settings = settings or SampleConfig(seed=0)
    nats = evaluate_model(model, corpus.val, device=device)
    report: dict[str, Any] = {"checkpoint": str(model.path), "recipe": corpus.meta.get("recipe"),
                              "kind": model.kind, "val_tokens": int(len(corpus.val)),
                              "nats_per_token": nats, "samples": samples}
    if samples <= 0:
        return report
    if model.kind == "abc":
        tunes = [sample_tune(model, SampleConfig(**{**settings.__dict__, "seed": (settings.seed or 0) + n}),
                             name=f"sample {n + 1}") for n in range(samples)]
        report["real_tunes"] = len(val_tunes(corpus))
        report["parse_share"] = sum(t.parses for t in tunes) / samples
        report["parse_failures"] = [f"sample {n + 1}: {t.error}" for n, t in enumerate(tunes) if t.error]
        return report
    real = val_sequences(corpus)
    cap = max_seconds or float(np.median([s.end_time for s in real]))  # as long as a typical real piece
    labels = None
    if held_out_labels:
        labels = val_labels(corpus)
        if not any(labels):
            raise ConfigError(f"{model.path.name}: held-out labels need a conditioned model; this one has no labels")
    pieces = sample_pieces(model, samples, settings, cap, labels)
    report["seconds_per_sample"] = cap
    report["labels"] = "held-out" if labels else "drawn"
    report["metrics"] = metrics.compare([p.sequence for p in pieces], real)
    return report
