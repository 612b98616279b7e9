"""The facade the CLI and the TUI share: load a checkpoint, open a stream, train, evaluate.

Front ends hold no model code: they call these functions and get plain results, generators
and trainers back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrnn.config import ModelConfig, SampleConfig, TrainConfig, resolve_preset
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError, CorpusError
from genrnn.generation.stream import Generator
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

    def encode_text(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> Any:
        return self.tokenizer.decode(ids)


def load_model(path: str | Path, device: str = "cpu") -> Model:
    return Model(ckpt.load_model(path, device=device))


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    return ckpt.read_metadata(path)


def open_stream(model: Model, settings: SampleConfig, primer: list[int] | None = None,
                batch: int = 1) -> Generator:
    gen = Generator(model.checkpoint.model, model.tokenizer, settings, batch=batch)
    gen.prime(primer)
    return gen


def prepare_corpus(text: str | Path | None = None, recipe: str | Path | None = None,
                   cache_dir: str | Path | None = None, tokenizer: Any = None,
                   strict: bool = False) -> PreparedCorpus:
    """A text file/folder (``text``) or a corpus recipe (``recipe``) → token arrays."""
    if (text is None) == (recipe is None):
        raise ConfigError("give exactly one of --text FILE|FOLDER or --corpus RECIPE.toml")
    if text is not None:
        from genrnn.corpora.text import prepare_text

        return prepare_text(text, cache_dir=cache_dir, tokenizer=tokenizer)
    try:
        from genrnn.corpora.recipes import prepare
    except ModuleNotFoundError as exc:  # pragma: no cover - lands with the music issue
        raise CorpusError(f"corpus recipes are not available in this build ({exc})") from None
    return prepare(recipe, cache_dir=cache_dir, strict=strict)


def make_trainer(corpus: PreparedCorpus, preset: str, model_overrides: dict[str, Any],
                 train_overrides: dict[str, Any], out_dir: str | Path,
                 callbacks: list[Callback] | None = None) -> Trainer:
    model_cfg, train_cfg = resolve_preset(preset, model_overrides, train_overrides,
                                          corpus.tokenizer.vocab_size)
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
    if corpus_meta.get("kind") == "text":
        corpus = prepare_corpus(text=source, cache_dir=cache_dir, tokenizer=loaded.tokenizer)
    else:
        corpus = prepare_corpus(recipe=source, cache_dir=cache_dir)
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
