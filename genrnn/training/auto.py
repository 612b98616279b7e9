"""``--preset auto``: size the model to the time budget, the corpus and this machine.

Two parts, both measured rather than assumed:

1. **Calibration** (``calibrate``): a few real training steps of every candidate width and
   dtype on this device, timed (≤ ~5 s on a 2-core CPU), cached per machine (CPU model and
   flags, threads, the oneDNN/ATen ISA caps in the environment), device and torch version.
   A candidate that fails (oneDNN has no bf16 LSTM under ``ONEDNN_MAX_CPU_ISA=AVX2``, say) is
   recorded as failed, not chosen. bf16 is a candidate only where the hardware reports it, and
   chosen only where it measured faster (it is slower than fp32 for some widths).
2. **A loss model** (``predict_loss``) fitted to recorded runs (``benchmarks/loss_model.py``;
   data and fit in ``benchmarks/README.md``): validation loss against non-embedding parameters
   N and tokens seen D, with repeated data discounted as in Muennighoff et al. (2023),
   "Scaling Data-Constrained Language Models":

       L = E + A / N^α + B / D'^β + O·(N·R / 100·U)^p
       D' = U + U·R*·(1 − exp(−R/R*)),  R = max(D/U − 1, 0)

   where U is the corpus's training tokens: past the first epoch each further pass is worth
   less (D'), and a model with many parameters per corpus token, passed over it many times,
   overfits (the last term: measured on a 100 k-character corpus, where 2×256 after 40 passes
   ended 0.3 nats worse than after 10). A small corpus favours width, up to that point.

``choose`` predicts each measured candidate's loss for the budget (tokens = measured tok/s ×
the budget × ``BUDGET_EFFICIENCY``) and takes the lowest; the reason, with the table, goes to
the terminal and the run record.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genrnn.config import PRESETS
from genrnn.corpora.base import PreparedCorpus, cache_folder
from genrnn.errors import ConfigError
from genrnn.machine import cpu_flags, cpu_model, keep_freed_memory

# What auto keeps fixed (the `default` preset's calibrated training recipe); it varies the
# width and the dtype.
AUTO_MODEL: dict[str, Any] = PRESETS["auto"]["model"]
AUTO_TRAIN: dict[str, Any] = PRESETS["auto"]["train"]
CPU_WIDTHS = (128, 192, 256, 384, 512)
# Peak learning rate by width: the preset's (6e-3, measured best at 2×256) up to 256 wide, then
# ∝ 1/width as Adam wants for wider hidden layers (2×512 at 6e-3 diverged after ~500 steps).
LR_WIDTH = 256


def auto_lr(hidden: int, base: float | None = None) -> float:
    base = PRESETS["auto"]["train"]["lr"] if base is None else base
    return base * min(1.0, LR_WIDTH / hidden)

GPU_WIDTHS = (256, 512, 768, 1024)
# A run that sees its corpus more than this many times overfits without regularisation: auto
# then adds dropout (between the layers and on the top output) and validates and saves a moving
# average of the weights. Tiny Shakespeare, 900 s, 2×512 bf16 on the 2-core box (13 passes):
# no dropout 1.4832, dropout 0.3 1.4108, + average 0.998 1.4012, + average 0.999 1.3949 (benchmarks/README.md).
LONG_RUN_EPOCHS = 6.0
LONG_RUN_DROPOUT = 0.3
LONG_RUN_EMA = 0.999
CALIBRATION_VERSION = 2  # 2: measured with freed memory kept (machine.keep_freed_memory)
CALIBRATION_SEQ = 64  # timed windows are half a training window: tok/s per step barely differs
# The share of a time budget spent in training steps (the rest: start-up, validation every
# 30 s, checkpoints); measured on Tiny Shakespeare runs of 150 s.
BUDGET_EFFICIENCY = 0.9

# Fitted by benchmarks/loss_model.py to the runs in benchmarks/loss_model_runs.jsonl (Tiny
# Shakespeare, B32×T64, lr 4e-3, widths 128-384, 1-6 M tokens, 0.1 M and 1 M characters; RMSE
# 0.018 nats): benchmarks/README.md, "--preset auto".
LOSS_MODEL: dict[str, float] = {"E": 1.1116, "A": 120.1202, "alpha": 0.4647, "B": 23745.1147, "beta": 0.7917,
                                "R_star": 5.498, "O": 0.10914, "p": 1.889}


# ----------------------------------------------------------------------------- loss model

def count_params(vocab: int, hidden: int, layers: int, embed: int) -> int:
    """Non-embedding parameters of an LSTM language model (recurrent layers and the head)."""
    lstm = sum(4 * hidden * ((embed if k == 0 else hidden) + hidden) + 8 * hidden for k in range(layers))
    return lstm + hidden * vocab + vocab


def effective_tokens(tokens: float, corpus_tokens: float, r_star: float) -> float:
    """D': tokens seen, with passes beyond the first discounted (Muennighoff et al., 2023)."""
    if corpus_tokens <= 0 or tokens <= corpus_tokens:
        return float(tokens)
    repeats = tokens / corpus_tokens - 1.0
    return corpus_tokens + corpus_tokens * r_star * (1.0 - math.exp(-repeats / r_star))


def predict_loss(params: float, tokens: float, corpus_tokens: float, model: dict[str, float] | None = None) -> float:
    m = model or LOSS_MODEL
    d = effective_tokens(tokens, corpus_tokens, m["R_star"])
    repeats = max(tokens / max(corpus_tokens, 1.0) - 1.0, 0.0)
    overfit = m.get("O", 0.0) * (params * repeats / (100.0 * max(corpus_tokens, 1.0))) ** m.get("p", 1.0)
    return m["E"] + m["A"] / params ** m["alpha"] + m["B"] / max(d, 1.0) ** m["beta"] + overfit


def fit_loss_model(rows: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Least squares (Huber, on log loss, as Hoffmann et al. 2022 fit theirs) over recorded runs:
    each row needs ``params``, ``tokens``, ``corpus_tokens``, ``val_loss``. L-BFGS from a grid of
    starts; returns the constants, the residuals and the data size."""
    if len(rows) < 8:
        raise ConfigError(f"loss model: {len(rows)} recorded runs; the fit needs at least 8")
    torch.manual_seed(seed)
    n = torch.tensor([float(r["params"]) for r in rows], dtype=torch.float64)
    d = torch.tensor([float(r["tokens"]) for r in rows], dtype=torch.float64)
    u = torch.tensor([float(r["corpus_tokens"]) for r in rows], dtype=torch.float64)
    y = torch.tensor([float(r["val_loss"]) for r in rows], dtype=torch.float64)

    def predict(p: torch.Tensor) -> torch.Tensor:
        e, log_a, alpha, log_b, beta, log_r, log_o, power = p
        r_star = log_r.exp()
        repeats = (d / u - 1.0).clamp(min=0.0)
        d_eff = torch.where(d > u, u + u * r_star * (1 - torch.exp(-repeats / r_star)), d)
        x = (n * repeats / (100.0 * u)).clamp(min=1e-12)
        return (e + torch.exp(log_a - alpha * n.log()) + torch.exp(log_b - beta * d_eff.log())
                + torch.exp(log_o + power * x.log()))

    def fit_from(p0: list[float]) -> torch.Tensor:
        p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([p], max_iter=150, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.huber_loss(predict(p).clamp(min=1e-6).log(), y.log(), delta=1e-3, reduction="sum")
            loss.backward()
            return loss

        opt.step(closure)
        return p.detach()

    best: tuple[float, torch.Tensor] | None = None
    for e0 in (0.9, 1.3):
        for alpha0 in (0.25, 0.6):
            for beta0 in (0.25, 0.6):
                try:
                    p = fit_from([e0, math.log(10.0) + alpha0 * 10, alpha0, math.log(10.0) + beta0 * 13, beta0,
                                  math.log(5.0), math.log(0.1), 2.0])
                except RuntimeError:
                    continue
                with torch.no_grad():
                    pred = predict(p)
                if not torch.isfinite(pred).all() or float(p[0]) < 0:
                    continue
                err = float(((pred - y) ** 2).mean())
                if best is None or err < best[0]:
                    best = (err, p)
    if best is None:
        raise ConfigError("loss model: the fit did not converge from any start")
    err, p = best
    e, log_a, alpha, log_b, beta, log_r, log_o, power = (float(v) for v in p)
    model = {"E": round(e, 4), "A": round(math.exp(log_a), 4), "alpha": round(alpha, 4),
             "B": round(math.exp(log_b), 4), "beta": round(beta, 4), "R_star": round(math.exp(log_r), 3),
             "O": round(math.exp(log_o), 5), "p": round(power, 3)}
    residuals = [round(float(r["val_loss"]) - predict_loss(r["params"], r["tokens"], r["corpus_tokens"], model), 4)
                 for r in rows]
    return {"loss_model": model, "rmse": round(math.sqrt(err), 4), "runs": len(rows), "residuals": residuals}


# ----------------------------------------------------------------------------- calibration

@dataclass
class Measurement:
    hidden: int
    dtype: str  # "fp32" | "bf16"
    tok_s: float | None  # None: the candidate failed here, or there was no time left for it
    note: str = ""


def machine_key(device: torch.device) -> dict[str, Any]:
    """What a calibration depends on: a different CPU (or ISA cap), device, thread count or
    torch measures again."""
    key: dict[str, Any] = {"version": CALIBRATION_VERSION, "torch": torch.__version__, "device": device.type,
                           "cpu": cpu_model(), "flags": " ".join(cpu_flags()), "cpus": os.cpu_count(),
                           "threads": torch.get_num_threads(),
                           "isa": {k: os.environ.get(k, "") for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}}
    if device.type == "cuda":
        key["gpu"] = torch.cuda.get_device_name(device)
    return key


def _time_candidate(vocab: int, hidden: int, dtype: str, device: torch.device, batch: int,
                    deadline: float, cell: str) -> float:
    """tok/s of real training steps (forward, loss, backward, clip, AdamW) at this width."""
    from genrnn.config import ModelConfig, OptimConfig
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.training.schedule import adamw

    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=vocab, hidden=hidden, cell=cell, **AUTO_MODEL)).to(device)
    opt = adamw(model, OptimConfig(lr=1e-3, weight_decay=0.1), device)
    x = torch.randint(0, vocab, (batch, CALIBRATION_SEQ), device=device)
    y = torch.randint(0, vocab, (batch, CALIBRATION_SEQ), device=device)
    times: list[float] = []
    for i in range(4):
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
            logits, _ = model(x, None)
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync(device)
        times.append(time.perf_counter() - t0)
        if i >= 2 and time.perf_counter() > deadline:
            break
    return batch * CALIBRATION_SEQ / min(times[1:])  # the first step builds oneDNN's primitives


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def calibrate(vocab: int, device: torch.device, dtypes: Sequence[str], *, cell: str = "lstm",
              seconds: float = 5.0, cache_dir: str | Path | None = None) -> tuple[list[Measurement], bool]:
    """Measure (or read back) every candidate's training tok/s; returns (measurements, cached)."""
    key = machine_key(device) | {"vocab_bucket": 1 << max(vocab - 1, 1).bit_length(), "dtypes": list(dtypes),
                                 "cell": cell}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    path = cache_folder("calibration", cache_dir) / f"{digest}.json"
    if path.exists():
        try:
            rows = json.loads(path.read_text())["measurements"]
            return [Measurement(**r) for r in rows], True
        except (ValueError, KeyError, TypeError):
            pass  # a damaged record: measure again
    if device.type == "cpu":
        keep_freed_memory()  # as the trainer will run
    widths = GPU_WIDTHS if device.type == "cuda" else CPU_WIDTHS
    batch = 128 if device.type == "cuda" else AUTO_TRAIN["batch_size"]
    deadline = time.perf_counter() + seconds
    out: list[Measurement] = []
    for hidden in widths:
        for dtype in dtypes:
            if time.perf_counter() > deadline:
                out.append(Measurement(hidden, dtype, None, "not measured: the calibration's time was up"))
                continue
            try:
                out.append(Measurement(hidden, dtype, round(_time_candidate(vocab, hidden, dtype, device, batch,
                                                                              deadline, cell), 1)))
            except RuntimeError as exc:  # e.g. no oneDNN primitive for this dtype on this ISA
                out.append(Measurement(hidden, dtype, None, f"failed: {str(exc).splitlines()[0][:160]}"))
    if _busy():  # measured while something else ran: use it for this run, do not keep it
        for m in out:
            m.note = (m.note + "; " if m.note else "") + f"measured under load {os.getloadavg()[0]:.1f}: not cached"
        return out, False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "measurements": [asdict(m) for m in out]}, indent=1))
    os.replace(tmp, path)
    return out, False


def _busy() -> bool:
    """Another process kept the CPUs busy (1-minute load ≥ half the cores beyond our own)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return load - 1.0 >= 0.5 * (os.cpu_count() or 1)


# ----------------------------------------------------------------------------- the choice

@dataclass
class Choice:
    hidden: int
    dtype: str
    lr: float
    batch_size: int
    seq_len: int
    predicted_loss: float
    tok_s: float
    reason: str
    table: list[dict[str, Any]]
    cached: bool = False
    dropout: float = 0.0  # LONG_RUN_DROPOUT when the run sees its corpus > LONG_RUN_EPOCHS times
    ema: float = 0.0

    def record(self) -> dict[str, Any]:
        return asdict(self)


def choose(measurements: Sequence[Measurement], vocab: int, corpus_tokens: int, *,
           time_budget: float | None, max_steps: int | None, batch: int, seq_len: int,
           cell: str = "lstm", loss_model: dict[str, float] | None = None, cached: bool = False) -> Choice:
    """The measured candidate with the lowest predicted validation loss for this budget."""
    table: list[dict[str, Any]] = []
    for m in measurements:
        if m.tok_s is None:
            continue
        params = count_params(vocab, m.hidden, AUTO_MODEL["layers"], AUTO_MODEL["embed"])
        if max_steps is not None and (time_budget is None or max_steps * batch * seq_len < m.tok_s * time_budget):
            tokens = float(max_steps * batch * seq_len)
        else:
            assert time_budget is not None
            tokens = m.tok_s * time_budget * BUDGET_EFFICIENCY
        table.append({"hidden": m.hidden, "dtype": m.dtype, "tok_s": m.tok_s, "params": params,
                      "tokens": round(tokens), "epochs": round(tokens / max(corpus_tokens, 1), 2),
                      "predicted_loss": round(predict_loss(params, tokens, corpus_tokens, loss_model), 4)})
    if not table:
        raise ConfigError("--preset auto: no candidate could be measured on this device "
                          f"({'; '.join(f'{m.hidden} {m.dtype}: {m.note}' for m in measurements)})")
    # Lowest predicted loss; among equals (within 0.002), the faster one.
    table.sort(key=lambda r: (r["predicted_loss"], -r["tok_s"]))
    best = table[0]
    for row in table[1:]:
        if row["predicted_loss"] - best["predicted_loss"] <= 0.002 and row["tok_s"] > best["tok_s"]:
            best = row
    other_dtype = [r for r in table if r["hidden"] == best["hidden"] and r["dtype"] != best["dtype"]]
    dtype_note = ""
    if other_dtype:
        dtype_note = f"; {best['dtype']} measured {best['tok_s'] / other_dtype[0]['tok_s']:.2f}× {other_dtype[0]['dtype']}"
    failed = [m for m in measurements if m.tok_s is None and m.note.startswith("failed")]
    if failed:
        dtype_note += f"; {len(failed)} candidate(s) failed here ({failed[0].dtype}: {failed[0].note[8:60]}…)"
    budget = f"{time_budget:g} s" if time_budget is not None else f"{max_steps} steps"
    reason = (f"auto: {cell.upper()} 2×{best['hidden']} {best['dtype']} — {best['tok_s']:,.0f} tok/s measured here → "
              f"{best['tokens'] / 1e6:.1f} M tokens ({best['epochs']:g} epochs of {corpus_tokens:,}) in {budget}, "
              f"predicted val loss {best['predicted_loss']:.3f} (next best: "
              + ", ".join(f"{r['hidden']} {r['dtype']} {r['predicted_loss']:.3f}" for r in [r for r in table
                                                                                             if r is not best][:2])
              + f"){dtype_note}")
    reason += f"; lr {auto_lr(best['hidden']):g}"
    long_run = best["epochs"] > LONG_RUN_EPOCHS
    if long_run:
        reason += (f"; {best['epochs']:g} passes > {LONG_RUN_EPOCHS:g}: dropout {LONG_RUN_DROPOUT:g} "
                   f"and a weight average ({LONG_RUN_EMA:g})")
    return Choice(best["hidden"], best["dtype"], auto_lr(best["hidden"]), batch, seq_len, best["predicted_loss"],
                  best["tok_s"], reason, table, cached,
                  dropout=LONG_RUN_DROPOUT if long_run else 0.0, ema=LONG_RUN_EMA if long_run else 0.0)


def choose_for(corpus: PreparedCorpus, model_overrides: dict[str, Any], train_overrides: dict[str, Any],
               cache_dir: str | Path | None = None) -> Choice:
    """``--preset auto`` for a corpus: calibrate (or read the cached calibration) on the run's
    device and pick the width and dtype with the lowest predicted validation loss for its budget.
    Flags given by hand narrow the candidates: ``--dtype`` to that dtype, ``--hidden`` to the
    nearest measured width."""
    from genrnn.training.data import check_batchable
    from genrnn.training.loop import bf16_supported, pick_device

    train = {**AUTO_TRAIN, **{k: v for k, v in train_overrides.items() if v is not None}}
    if train.get("time_budget") is None and train.get("max_steps") is None:
        raise ConfigError("--preset auto sizes the model to the budget: give --time-budget SECONDS or --max-steps N")
    # What would fail in the trainer anyway fails before the calibration's seconds are spent.
    check_batchable(len(corpus.train), int(train["batch_size"]), int(train["seq_len"]),
                    str(corpus.meta.get("source", "corpus")))
    device = pick_device(train.get("device", "auto"))
    if train.get("threads"):
        torch.set_num_threads(int(train["threads"]))
    asked = train.get("dtype", "auto")
    dtypes = [d for d in ("fp32", "bf16") if asked in ("auto", d) and (d == "fp32" or bf16_supported(device))]
    if not dtypes:
        raise ConfigError(f"dtype = 'bf16': {device.type} on this machine has no fast bfloat16; use --dtype fp32")
    cell = model_overrides.get("cell") or "lstm"
    vocab = corpus.tokenizer.vocab_size
    measurements, cached = calibrate(vocab, device, dtypes, cell=cell, cache_dir=cache_dir)
    hidden = model_overrides.get("hidden")
    if hidden is not None:
        nearest = min({m.hidden for m in measurements}, key=lambda h: abs(h - hidden))
        measurements = [m for m in measurements if m.hidden == nearest]
    return choose(measurements, vocab, len(corpus.train), time_budget=train.get("time_budget"),
                  max_steps=train.get("max_steps"), batch=int(train["batch_size"]), seq_len=int(train["seq_len"]),
                  cell=cell, cached=cached)
