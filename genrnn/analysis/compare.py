"""Cells side by side: the same data, seed and wall-time budget for every cell.

Each cell trains through ``session.make_trainer`` into its own folder of ``out_dir``; the
curves come back from each run's metrics.jsonl. With ``match_params`` every cell's hidden
size is chosen so its parameter count is closest to the first cell's (fair tok/s figures).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from genrnn import session
from genrnn.config import CELLS, ModelConfig, resolve_preset
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError
from genrnn.models.rnn import RNNLanguageModel, count_parameters
from genrnn.training.loop import Callback


@dataclass
class CellRun:
    cell: str
    hidden: int
    parameters: int
    steps: int
    tokens: int
    elapsed: float
    best_val_loss: float | None
    last_val_loss: float | None
    out_dir: Path
    train_curve: list[tuple[float, float]] = field(default_factory=list)
    val_curve: list[tuple[float, float]] = field(default_factory=list)

    @property
    def tok_s(self) -> float:
        return self.tokens / max(self.elapsed, 1e-9)

    def row(self) -> dict[str, Any]:
        return {"cell": self.cell, "hidden": self.hidden, "parameters": self.parameters,
                "steps": self.steps, "tok_s": round(self.tok_s, 1), "elapsed": round(self.elapsed, 2),
                "best_val_loss": self.best_val_loss, "last_val_loss": self.last_val_loss,
                "out_dir": str(self.out_dir)}


def parse_cells(text: str) -> list[str]:
    cells = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in cells if c not in CELLS]
    if not cells or bad:
        raise ConfigError(f"--cells {text!r}: expected a comma-separated list of {', '.join(CELLS)}")
    return cells


def parameter_count(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return count_parameters(RNNLanguageModel(cfg))


def matched_hidden(cfg: ModelConfig, target: int) -> int:
    """The hidden size whose parameter count is closest to ``target`` (bisection)."""
    lo, hi = 1, 16_384
    while lo < hi:
        mid = (lo + hi) // 2
        if parameter_count(replace(cfg, hidden=mid)) < target:
            lo = mid + 1
        else:
            hi = mid
    candidates = [h for h in (lo - 1, lo) if h >= 1]
    return min(candidates, key=lambda h: abs(parameter_count(replace(cfg, hidden=h)) - target))


def read_curves(metrics: Path) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """metrics.jsonl → (train curve, val curve), each [(seconds, nats/token)]."""
    train, val = [], []
    if not metrics.exists():
        return train, val
    for line in metrics.read_text().splitlines():
        row = json.loads(line)
        if row.get("train_loss") is not None:
            train.append((row["time"], row["train_loss"]))
        if row.get("val_loss") is not None:
            val.append((row["time"], row["val_loss"]))
    return train, val


def plan_hidden(corpus: PreparedCorpus, cells: Sequence[str], preset: str,
                model_overrides: dict[str, Any], match_params: bool) -> dict[str, int]:
    """Hidden size per cell: the preset's, or matched to the first cell's parameter count."""
    base, _ = resolve_preset(preset, {**model_overrides, "cell": cells[0]}, {}, corpus.tokenizer.vocab_size)
    if not match_params:
        return {c: base.hidden for c in cells}
    target = parameter_count(base)
    return {c: matched_hidden(replace(base, cell=c), target) for c in cells}


def compare_cells(corpus: PreparedCorpus, cells: Sequence[str], time_budget: float, out_dir: str | Path,
                  preset: str = "small", seed: int = 1337, match_params: bool = False,
                  model_overrides: dict[str, Any] | None = None,
                  train_overrides: dict[str, Any] | None = None,
                  callbacks_for: Callable[[str], list[Callback]] | None = None) -> list[CellRun]:
    """Train every cell for ``time_budget`` seconds on ``corpus``; one folder per cell."""
    if time_budget <= 0:
        raise ConfigError(f"--time-budget {time_budget}: expected a positive number of seconds")
    model_overrides = dict(model_overrides or {})
    hidden = plan_hidden(corpus, cells, preset, model_overrides, match_params)
    runs = []
    for cell in cells:
        train = {"eval_interval": max(time_budget / 5, 1.0), "checkpoint_interval": 1e6,
                 **(train_overrides or {}), "time_budget": time_budget, "seed": seed}
        run_dir = Path(out_dir) / cell
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
        trainer = session.make_trainer(corpus, preset, {**model_overrides, "cell": cell, "hidden": hidden[cell]},
                                       train, run_dir, callbacks_for(cell) if callbacks_for else None)
        result = trainer.fit()
        train_curve, val_curve = read_curves(run_dir / "metrics.jsonl")
        runs.append(CellRun(cell, hidden[cell], result.metrics["parameters"], result.steps, result.tokens,
                            result.elapsed, result.best_val_loss, result.last_val_loss, run_dir,
                            train_curve, val_curve))
    return runs


def plot_runs(runs: Sequence[CellRun], path: str | Path, title: str = "") -> Path:
    from genrnn.analysis.plots import loss_vs_time

    curves = {f"{r.cell} ({r.parameters / 1000:.0f}k)": {"train": r.train_curve, "val": r.val_curve}
              for r in runs}
    return loss_vs_time(curves, path, title)


def train_throughput(cfg: ModelConfig, batch: int, seq_len: int, seconds: float, device: str = "cpu",
                     seed: int = 0) -> float:
    """Training tokens per second (forward, backward, AdamW) on random tokens, no evaluation."""
    import time

    torch.manual_seed(seed)
    model = RNNLanguageModel(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, cfg.vocab_size, (batch, seq_len + 1), device=device)
    steps, start = 0, None
    while start is None or time.perf_counter() - start < seconds:
        logits, _ = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        if start is None:  # the first step warms kernels up; it is not counted
            start = time.perf_counter()
            continue
        steps += 1
    return steps * batch * seq_len / (time.perf_counter() - start)
