"""Long-range memory, measured: recall a token seen k steps earlier, with distractors between.

A sequence of k + 1 tokens holds one *key* (one of ``keys`` symbols) k steps before a final
*query* marker, and distractor symbols everywhere else; the model must name the key at the
query. Only that position is scored, so chance is 1 / ``keys``. The key set and the distractor
set are disjoint, so the key is recognisable when it arrives; the model must hold it.

Training follows a curriculum (fixed seed): the window starts at ``min(k, 10)`` and grows by
half whenever a probe batch at the current length is recalled ≥ 95%; within a window, half the
sequences have a random lag in [1, window] and half the full window. Short windows are cheap
and teach what to store; long ones how long to keep it. Training stops at ``time_budget``
seconds or when a probe at lag k is recalled perfectly; the test always uses lag k exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genrnn.analysis.runtime import torch_threads
from genrnn.config import ModelConfig
from genrnn.errors import ConfigError
from genrnn.models.rnn import RNNLanguageModel


@dataclass(frozen=True)
class RecallTask:
    keys: int = 8
    distractors: int = 8
    batch: int = 32
    hidden: int = 64
    embed: int = 16
    lr: float = 1e-2
    clip: float = 1.0
    eval_size: int = 512

    @property
    def vocab(self) -> int:
        return self.keys + self.distractors + 1  # ids: keys, distractors, query

    @property
    def query(self) -> int:
        return self.keys + self.distractors

    @property
    def chance(self) -> float:
        return 1.0 / self.keys


@dataclass
class RecallResult:
    cell: str
    lag: int
    accuracy: float
    steps: int
    seconds: float
    final_loss: float
    parameters: int

    def row(self) -> dict[str, Any]:
        return {"cell": self.cell, "lag": self.lag, "accuracy": round(self.accuracy, 4), "steps": self.steps,
                "seconds": round(self.seconds, 2), "final_loss": round(self.final_loss, 4),
                "parameters": self.parameters}


def recall_batch(task: RecallTask, lag: int, size: int, gen: torch.Generator,
                 lags: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(size, lag + 1) sequences and their keys; ``lags`` (size,) in [1, lag] or all = ``lag``."""
    x = task.keys + torch.randint(0, task.distractors, (size, lag + 1), generator=gen)
    x[:, -1] = task.query
    keys = torch.randint(0, task.keys, (size,), generator=gen)
    gaps = lags if lags is not None else torch.full((size,), lag)
    x[torch.arange(size), lag - gaps] = keys
    return x, keys


def training_batch(task: RecallTask, lag: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    half = task.batch // 2
    lags = torch.cat([torch.randint(1, lag + 1, (half,), generator=gen), torch.full((task.batch - half,), lag)])
    return recall_batch(task, lag, task.batch, gen, lags)


def build_model(task: RecallTask, cell: str, seed: int) -> RNNLanguageModel:
    torch.manual_seed(seed)
    return RNNLanguageModel(ModelConfig(vocab_size=task.vocab, cell=cell, embed=task.embed,
                                        hidden=task.hidden, layers=1, dropout=0.0))


def last_logits(model: RNNLanguageModel, x: torch.Tensor) -> torch.Tensor:
    logits, _ = model(x)
    return logits[:, -1, : model.config.vocab_size].float()


@torch.no_grad()
def accuracy(model: RNNLanguageModel, task: RecallTask, lag: int, size: int, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    x, keys = recall_batch(task, lag, size, gen)
    was = model.training
    model.eval()
    acc = (last_logits(model, x).argmax(-1) == keys).float().mean().item()
    model.train(was)
    return acc


START_WINDOW = 10
PROBE_EVERY = 25


def _train_step(model: RNNLanguageModel, opt: torch.optim.Optimizer, task: RecallTask, window: int,
                gen: torch.Generator) -> float:
    x, keys = training_batch(task, window, gen)
    loss = F.cross_entropy(last_logits(model, x), keys)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), task.clip)
    opt.step()
    return loss.item()


def train_recall(task: RecallTask, cell: str, lag: int, time_budget: float, seed: int = 0,
                 max_steps: int | None = None) -> RecallResult:
    """Train one cell at one lag for at most ``time_budget`` seconds, then test on fresh sequences."""
    if lag < 1:
        raise ConfigError(f"lag {lag}: expected at least 1")
    model = build_model(task, cell, seed)
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    gen = torch.Generator().manual_seed(seed)
    start, step, loss_v, window = time.perf_counter(), 0, float("nan"), min(lag, START_WINDOW)
    while time.perf_counter() - start < time_budget and (max_steps is None or step < max_steps):
        loss_v = _train_step(model, opt, task, window, gen)
        step += 1
        if step % PROBE_EVERY == 0:
            probe = accuracy(model, task, window, 128, seed + step)
            if window == lag and probe == 1.0:
                break
            if probe >= 0.95:
                window = min(lag, math.ceil(window * 1.5))
    seconds = time.perf_counter() - start
    acc = accuracy(model, task, lag, task.eval_size, seed + 10_000)
    return RecallResult(cell, lag, acc, step, seconds, loss_v, sum(p.numel() for p in model.parameters()))


def memory_benchmark(cells: Sequence[str], lags: Sequence[int], time_per_cell: float,
                     task: RecallTask | None = None, seed: int = 0,
                     on_result: Callable[[RecallResult], None] | None = None,
                     threads: int | None = 1) -> list[RecallResult]:
    """Every cell at every lag; a cell's time is split across its lags in proportion to the lag."""
    task = task or RecallTask()
    total = sum(lags)
    results = []
    for cell in cells:
        for lag in lags:
            with torch_threads(threads):
                res = train_recall(task, cell, lag, time_per_cell * lag / total, seed)
            results.append(res)
            if on_result:
                on_result(res)
    return results


def plot_results(results: Sequence[RecallResult], chance: float, path: Any) -> Any:
    from genrnn.analysis.plots import recall_accuracy

    table: dict[str, dict[int, float]] = {}
    for r in results:
        table.setdefault(r.cell, {})[r.lag] = r.accuracy
    return recall_accuracy(table, chance, path)
