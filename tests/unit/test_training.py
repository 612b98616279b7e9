import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genrnn import fileformat, session
from genrnn.errors import CheckpointError, ConfigError, CorpusError
from genrnn.training.loop import lr_at


def _train(corpus, out, **train):
    trainer = session.make_trainer(corpus, "tiny", {"hidden": 32, "dropout": 0.1},
                                   {"seed": 5, "dtype": "fp32", **train}, out)
    return trainer


class StopAt:
    """A callback that stops ``trainer`` after ``step`` (as Ctrl-C would)."""

    def __init__(self, trainer, step):
        self.trainer, self.step = trainer, step

    def on_step(self, info):
        if info.step == self.step:
            self.trainer.request_stop()

    def on_eval(self, info):
        pass

    def on_checkpoint(self, path, kind):
        pass


def test_loss_falls_and_files_are_written(text_file, tmp_path):
    corpus = session.prepare_corpus(text=text_file)
    result = _train(corpus, tmp_path, max_steps=120).fit()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logs = [r for r in rows if r.get("train_loss") is not None]
    assert logs[0]["train_loss"] > logs[-1]["train_loss"] + 0.5
    for key in ("step", "time", "train_loss", "val_loss", "grad_norm", "lr", "tok_s"):
        assert key in logs[0]
    # The pre-clip gradient norm of every step is recorded.
    assert sum(len(r["grad_norms"]) for r in logs) == result.steps
    assert rows[-1]["val_loss"] is not None and result.best_val_loss <= result.last_val_loss
    assert (tmp_path / "best.safetensors").exists() and (tmp_path / "last.state.safetensors").exists()
    assert any(r.get("event") == "first_step" for r in rows)


def test_schedule_warms_up_and_ends_at_min_lr():
    from genrnn.config import TrainConfig

    cfg = TrainConfig(lr=1e-2, warmup_steps=10, min_lr_frac=0.1, max_steps=100)
    assert lr_at(cfg, 0, 0.0) == pytest.approx(1e-3)
    assert lr_at(cfg, 50, 0.5) == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5))
    assert lr_at(cfg, 100, 1.0) == pytest.approx(1e-3)


def test_resume_is_bit_exact(text_file, tmp_path):
    corpus = session.prepare_corpus(text=text_file)
    _train(corpus, tmp_path / "one", max_steps=40, eval_interval=0.001).fit()

    trainer = _train(corpus, tmp_path / "two", max_steps=40, eval_interval=0.001)
    trainer.callbacks.append(StopAt(trainer, 25))
    assert trainer.fit().steps == 25
    resumed = session.resume_trainer(tmp_path / "two", {})
    assert resumed.step == 25
    assert resumed.fit().steps == 40
    a = load_file(str(tmp_path / "one" / "last.safetensors"))
    b = load_file(str(tmp_path / "two" / "last.safetensors"))
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_weight_average_is_validated_saved_and_resumed_bit_exactly(text_file, tmp_path):
    """--ema: the checkpoints hold the averaged weights (the ones validated), training goes on
    from the raw ones, and a stopped run resumes to the same average as an unbroken one."""
    from genrnn.models.weights import load_weights
    from genrnn.training.loop import evaluate

    corpus = session.prepare_corpus(text=text_file)
    whole = _train(corpus, tmp_path / "one", max_steps=40, eval_interval=1e6, ema=0.9)
    result = whole.fit()
    saved = load_file(str(tmp_path / "one" / "last.safetensors"))
    raw = dict(whole.model.named_parameters())
    assert any(not torch.equal(saved[name], raw[name].detach()) for name in raw)  # the average, not the raw
    averaged = _train(corpus, tmp_path / "probe", max_steps=1).model
    load_weights(fileformat.read_header(tmp_path / "one" / "last.safetensors"), averaged)
    val = evaluate(averaged, corpus.val, whole.cfg.seq_len, torch.device("cpu"), torch.float32,
                   whole.cfg.eval_tokens)
    assert val == pytest.approx(result.last_val_loss, abs=1e-6)  # what was validated is what was saved

    trainer = _train(corpus, tmp_path / "two", max_steps=40, eval_interval=1e6, ema=0.9)
    trainer.callbacks.append(StopAt(trainer, 25))
    assert trainer.fit().steps == 25
    assert session.resume_trainer(tmp_path / "two", {}).fit().steps == 40
    again = load_file(str(tmp_path / "two" / "last.safetensors"))
    for name in saved:
        assert torch.equal(saved[name], again[name]), name
    # A run saved without an average cannot continue as one (nothing to average from).
    _train(corpus, tmp_path / "plain", max_steps=5).fit()
    with pytest.raises(CheckpointError, match="raw weights"):
        _train(corpus, tmp_path / "x", max_steps=10, ema=0.9).resume_from(tmp_path / "plain")


def test_corpus_shorter_than_one_batch(tmp_path):
    p = tmp_path / "short.txt"
    p.write_text("abcdefghij" * 5)
    corpus = session.prepare_corpus(text=p)
    with pytest.raises(CorpusError, match="shorter than one batch"):
        _train(corpus, tmp_path / "run", max_steps=5)


def test_needs_a_budget(text_file, tmp_path):
    corpus = session.prepare_corpus(text=text_file)
    with pytest.raises(ConfigError, match="--time-budget"):
        session.make_trainer(corpus, "tiny", {}, {}, tmp_path)


def test_time_budget_ends_the_run(text_file, tmp_path):
    corpus = session.prepare_corpus(text=text_file)
    result = _train(corpus, tmp_path, time_budget=2.0).fit()
    assert 1.9 <= result.elapsed < 6.0


def test_exploding_steps_are_skipped_not_fatal(text_file, tmp_path):
    corpus = session.prepare_corpus(text=text_file)
    trainer = _train(corpus, tmp_path, max_steps=10)
    with torch.no_grad():
        trainer.model.head.weight.fill_(float("inf"))
    result = trainer.fit()
    assert result.metrics["skipped_steps"] == 10
    assert np.isfinite(1.0)
