"""The truncated-BPTT trainer.

AdamW, warmup + cosine decay that ends exactly at the time budget or step limit, gradient
clipping with the pre-clip norm recorded every step, bf16 autocast where the hardware has it
(fp32 master weights), periodic validation over the whole validation split, best and last
checkpoints, and resume that continues bit-exactly for step-limited runs.

Front ends observe training through callbacks (``on_step``, ``on_eval``, ``on_checkpoint``)
and stop it with ``request_stop()``; the trainer itself never prints.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from genrnn import __version__, fileformat
from genrnn.config import ModelConfig, TrainConfig, to_dict
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import CheckpointError, ConfigError
from genrnn.machine import cpu_model, keep_freed_memory
from genrnn.models.info import read_info
from genrnn.models.rnn import RNNLanguageModel, State, count_parameters, detach_state
from genrnn.models.weights import load_weights, save_model
from genrnn.training import checkpoint as ckpt
from genrnn.training import distributed as dist_util
from genrnn.training.data import EvalStreams, StreamBatcher
from genrnn.training.schedule import adamw, lr_at, progress, set_lr


@dataclass
class StepInfo:
    step: int
    elapsed: float
    loss: float
    grad_norm: float
    lr: float
    tok_s: float
    progress: float  # 0..1 of the budget
    skipped: bool = False


@dataclass
class EvalInfo:
    step: int
    elapsed: float
    val_loss: float
    best: bool


class Callback(Protocol):
    def on_step(self, info: StepInfo) -> None: ...
    def on_eval(self, info: EvalInfo) -> None: ...
    def on_checkpoint(self, path: Path, kind: str) -> None: ...


@dataclass
class TrainResult:
    steps: int
    elapsed: float
    best_val_loss: float | None
    last_val_loss: float | None
    tokens: int
    stopped_early: bool
    out_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name != "auto":
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device = {name!r}: CUDA is not available on this machine; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", dist_util.local_rank())
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16_lstm_works()
    return False


@functools.cache
def _cpu_bf16_lstm_works() -> bool:
    """The CPU reports bf16 *and* oneDNN builds a bf16 LSTM here. The second can fail where
    the first holds: with ``ONEDNN_MAX_CPU_ISA=AVX2`` (a cap that emulates an older CPU) the
    flag stays true but there is no bf16 LSTM primitive. A 1×1×8 LSTM step tells (~ms)."""
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    try:
        lstm = torch.nn.LSTM(8, 8, batch_first=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, _ = lstm(torch.zeros(1, 2, 8))
        y.float().sum().backward()
    except RuntimeError:
        return False
    return True


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "fp32":
        return torch.float32
    if name == "bf16":
        if not bf16_supported(device):
            raise ConfigError(f"dtype = 'bf16': {device.type} on this machine has no fast bfloat16; use --dtype fp32")
        return torch.bfloat16
    return torch.bfloat16 if bf16_supported(device) else torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)


@torch.inference_mode()
def evaluate(model: RNNLanguageModel, data: np.ndarray, seq_len: int, device: torch.device,
             dtype: torch.dtype, max_tokens: int | None = None, streams: int = 32) -> float:
    """Mean cross-entropy (nats/token) over ``data``, state carried across windows."""
    if max_tokens:
        data = data[: max_tokens + 1]
    if len(data) < 2:
        raise ConfigError("validation split has fewer than 2 tokens")
    was_training = model.training
    model.eval()
    rows = EvalStreams(data, seq_len, streams)
    state: State | None = None
    total, count = 0.0, 0
    win = max(seq_len, 256)
    for s in range(0, rows.length, win):
        window = torch.from_numpy(rows.window(s, min(s + win, rows.length))).to(device)
        x, y = window[:, :-1], window[:, 1:]
        with autocast(device, dtype):
            logits, state = model(x, state)
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                                 reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s parameters (Polyak averaging), as PyTorch's
    ``AveragedModel``. The decay ramps up as (1 + n) / (10 + n) over the first updates (as
    TensorFlow's ExponentialMovingAverage), so the average is not held back by the random start."""

    def ema(averaged: torch.Tensor, current: torch.Tensor, averaged_before: torch.Tensor | int) -> torch.Tensor:
        n = int(averaged_before) + 1  # this update's number; the first one copies
        return averaged.lerp(current, 1.0 - min(decay, (1 + n) / (10 + n)))

    return AveragedModel(model, avg_fn=ema)


class Trainer:
    def __init__(self, corpus: PreparedCorpus, model_cfg: ModelConfig, train_cfg: TrainConfig,
                 out_dir: str | Path, *, callbacks: list[Callback] | None = None,
                 record: dict[str, Any] | None = None) -> None:
        if train_cfg.time_budget is None and train_cfg.max_steps is None:
            raise ConfigError("give --time-budget SECONDS or --max-steps N (the schedule ends there)")
        self.corpus = corpus
        self.cfg = train_cfg
        self.model_cfg = model_cfg
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ConfigError(f"--out {self.out_dir}: is a file; expected a folder")
        self.callbacks = list(callbacks or [])
        self.record = dict(record or {})
        self._stop = threading.Event()
        self.rank, self.world = dist_util.rank(), dist_util.world_size()
        self.device = pick_device(train_cfg.device)
        self.dtype = pick_dtype(train_cfg.dtype, self.device)
        if train_cfg.threads:
            torch.set_num_threads(train_cfg.threads)
        if self.device.type == "cpu":
            keep_freed_memory()  # no page faults a step
        torch.manual_seed(train_cfg.seed)
        self.model = RNNLanguageModel(model_cfg).to(self.device)
        self.ddp_model = dist_util.wrap(self.model, self.device)
        self.opt = adamw(self.model, train_cfg, self.device)
        self.batcher = StreamBatcher(corpus.train, train_cfg.batch_size, train_cfg.seq_len,
                                     first_stream=self.rank * train_cfg.batch_size,
                                     total_streams=self.world * train_cfg.batch_size,
                                     name=str(corpus.meta.get("source", "corpus")))
        self.step = 0
        self.elapsed_before = 0.0  # wall time of earlier runs (resume)
        self.best_val: float | None = None
        self.last_val: float | None = None
        self.state: State = self.model.init_state(train_cfg.batch_size, self.device)
        self.tokens_seen = 0
        self.average = weight_average(self.model, train_cfg.ema) if train_cfg.ema > 0 else None
        # What is validated and saved: the average when there is one (training goes on from the raw).
        self.kept_model: RNNLanguageModel = self.average.module if self.average is not None else self.model

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Finish the current step, checkpoint, and return (thread- and signal-safe)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _progress(self, elapsed: float) -> float:
        return progress(self.step, elapsed, self.cfg.max_steps, self.cfg.time_budget)

    # ------------------------------------------------------------------ one step
    def _train_step(self, lr: float) -> tuple[float, float, bool]:
        x, y, epoch_start = self.batcher.window(self.step)
        if epoch_start:
            self.state = self.model.init_state(self.cfg.batch_size, self.device)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        set_lr(self.opt, lr)
        with autocast(self.device, self.dtype):
            logits, state = self.ddp_model(x, self.state)  # (B, T, V)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.state = detach_state(state)
        clip = self.cfg.clip if self.cfg.clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip).item()
        ok = math.isfinite(norm)
        if ok:
            self.opt.step()
            if self.average is not None:
                self.average.update_parameters(self.model)
        else:  # an exploding step: skip the update, keep the weights finite
            self.opt.zero_grad(set_to_none=True)
            self.state = self.model.init_state(self.cfg.batch_size, self.device)
        self.step += 1
        self.tokens_seen += x.numel() * self.world
        return loss.item(), norm, not ok

    # ------------------------------------------------------------------ the loop
    def fit(self) -> TrainResult:
        self.model.train()
        cfg = self.cfg
        start = time.perf_counter() - self.elapsed_before
        last_eval = last_ckpt = time.perf_counter()
        window_losses: list[float] = []
        window_norms: list[float] = []
        window_start, window_tokens = time.perf_counter(), self.tokens_seen
        skipped_total = 0
        first = True
        with self._signals():
            while True:
                elapsed = time.perf_counter() - start
                progress = self._progress(elapsed)
                stop = progress >= 1.0 or self.stop_requested
                if dist_util.any_rank(stop, self.device):
                    break
                lr = lr_at(cfg, self.step, progress)
                loss, norm, skipped = self._train_step(lr)
                skipped_total += skipped
                if first:
                    self._event({"event": "first_step", "step": self.step, "unix_time": time.time()})
                    first = False
                window_losses.append(loss)
                window_norms.append(norm)
                now = time.perf_counter()
                tok_s = (self.tokens_seen - window_tokens) / max(now - window_start, 1e-9)
                info = StepInfo(self.step, now - start, loss, norm, lr, tok_s,
                                self._progress(now - start), skipped)
                for cb in self.callbacks:
                    cb.on_step(info)
                evaluated = now - last_eval >= cfg.eval_interval
                if evaluated:
                    self._validate(now - start)
                    last_eval = time.perf_counter()
                if self.step % cfg.log_interval == 0 or evaluated:
                    self._log(info, window_losses, window_norms, tok_s, evaluated)
                    window_losses, window_norms = [], []
                    window_start, window_tokens = time.perf_counter(), self.tokens_seen
                if time.perf_counter() - last_ckpt >= cfg.checkpoint_interval:
                    self.save("last", time.perf_counter() - start)
                    last_ckpt = time.perf_counter()
        elapsed = time.perf_counter() - start
        if self.step > 0:
            self._validate(elapsed)
            end = StepInfo(self.step, elapsed, float("nan"), float("nan"),
                           lr_at(cfg, self.step, self._progress(elapsed)), 0.0, 1.0)
            self._log(end, window_losses, window_norms, None, True)
        self.save("last", elapsed)
        dist_util.barrier()
        return TrainResult(self.step, elapsed, self.best_val, self.last_val, self.tokens_seen,
                           self.stop_requested, self.out_dir,
                           {"skipped_steps": skipped_total, "dtype": str(self.dtype).replace("torch.", ""),
                            "device": str(self.device), "parameters": count_parameters(self.model)})

    def _validate(self, elapsed: float) -> None:
        if self.rank != 0:
            return
        val = evaluate(self.kept_model, self.corpus.val, self.cfg.seq_len, self.device, self.dtype,
                       self.cfg.eval_tokens)
        self.last_val = val
        best = self.best_val is None or val < self.best_val
        if best:
            self.best_val = val
            self.save("best", elapsed, with_state=False)
        for cb in self.callbacks:
            cb.on_eval(EvalInfo(self.step, elapsed, val, best))

    def _event(self, row: dict[str, Any]) -> None:
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")

    def _log(self, info: StepInfo, losses: list[float], norms: list[float], tok_s: float | None,
             evaluated: bool) -> None:
        if self.rank != 0:
            return
        finite = [n for n in norms if math.isfinite(n)]
        row = {"step": self.step, "time": round(info.elapsed, 3),
               "train_loss": round(sum(losses) / len(losses), 5) if losses else None,
               "val_loss": round(self.last_val, 5) if evaluated and self.last_val is not None else None,
               "grad_norm": round(norms[-1], 5) if norms and math.isfinite(norms[-1]) else None,
               "grad_norm_max": round(max(finite), 5) if finite else None,
               "grad_norms": [round(n, 4) if math.isfinite(n) else None for n in norms],
               "clipped": sum(n > self.cfg.clip for n in finite) if self.cfg.clip > 0 else 0,
               "lr": info.lr, "tok_s": round(tok_s, 1) if tok_s is not None else None}
        self._event(row)

    # ------------------------------------------------------------------ checkpoints
    def training_record(self, elapsed: float) -> dict[str, Any]:
        return {**self.record, "corpus": self.corpus.meta, "steps": self.step,
                "tokens": self.tokens_seen, "wall_time": round(elapsed, 2),
                "val_loss": self.last_val, "best_val_loss": self.best_val,
                "train_config": to_dict(self.cfg), "dtype": str(self.dtype).replace("torch.", ""),
                "world_size": self.world, "machine": self.machine(), "genrnn_version": __version__,
                "torch_version": torch.__version__}

    def machine(self) -> str:
        where = f"{cpu_model()}, {os.cpu_count()} CPUs ({torch.get_num_threads()} threads)"
        if self.device.type == "cuda":
            where = f"{torch.cuda.get_device_name(self.device)} × {self.world}, " + where
        return where

    def save(self, kind: str, elapsed: float, with_state: bool = True) -> None:
        gathered = dist_util.gather_state(self.state) if with_state else None
        if self.rank != 0:
            return
        path = self.out_dir / f"{kind}.safetensors"
        save_model(path, self.kept_model, self.corpus.tokenizer, self.training_record(elapsed))
        if with_state:
            self._save_state(ckpt.state_path(path), elapsed, gathered)
        for cb in self.callbacks:
            cb.on_checkpoint(path, kind)

    def _save_state(self, path: Path, elapsed: float, hidden: State | None) -> None:
        tensors, opt_info = ckpt.optimizer_to_tensors(self.opt)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        for i, s in enumerate(hidden or ()):
            tensors[f"hidden.{i}"] = s.float()
        if self.average is not None:  # the model file holds the average; training goes on from these
            tensors.update({f"raw.{name}": p.detach() for name, p in self.model.named_parameters()})
        info = {"step": self.step, "elapsed": elapsed, "tokens": self.tokens_seen,
                "best_val": self.best_val, "last_val": self.last_val, "optimizer": opt_info,
                "ema_updates": int(self.average.n_averaged) if self.average is not None else 0,
                "world_size": self.world, "train_config": to_dict(self.cfg),
                "model_config": to_dict(self.model_cfg)}
        ckpt.save_train_state(path, tensors, info)

    def resume_from(self, run_dir: str | Path) -> None:
        """Load last.safetensors + last.state.safetensors from ``run_dir``."""
        fileformat.remove_stale_temps(run_dir)  # what a killed run was writing when it died
        model_path = Path(run_dir) / "last.safetensors"
        if read_info(model_path).config != self.model_cfg:
            raise CheckpointError(f"{model_path}: model config differs from the one asked for")
        load_weights(fileformat.read_header(model_path), self.kept_model)
        tensors, info = ckpt.load_train_state(ckpt.state_path(model_path))
        if self.average is not None:
            missing = [name for name, _ in self.model.named_parameters() if f"raw.{name}" not in tensors]
            if missing:
                raise CheckpointError(f"{ckpt.state_path(model_path)}: no raw weights to continue a weight-averaged "
                                      f"run from (missing raw.{missing[0]}); it was saved without --ema")
            self.average.n_averaged.fill_(int(info.get("ema_updates", 0)))
            with torch.no_grad():
                for name, p in self.model.named_parameters():
                    p.copy_(tensors[f"raw.{name}"])
        if info.get("world_size", 1) != self.world:
            raise CheckpointError(f"{model_path}: saved with {info.get('world_size')} processes, resuming with {self.world}")
        ckpt.optimizer_from_tensors(self.opt, tensors, info["optimizer"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        hidden = [tensors[f"hidden.{i}"] for i in range(self.model.num_state_tensors)]
        b = self.cfg.batch_size
        self.state = tuple(h[:, self.rank * b:(self.rank + 1) * b].to(self.device) for h in hidden)
        self.step = int(info["step"])
        self.elapsed_before = float(info["elapsed"])
        self.tokens_seen = int(info["tokens"])
        self.best_val, self.last_val = info.get("best_val"), info.get("last_val")

    # ------------------------------------------------------------------ signals
    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM → finish the step, checkpoint, return. Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handler: Callable[[int, Any], None] = lambda signum, frame: self.request_stop()  # noqa: E731
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)
