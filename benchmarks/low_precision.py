"""Lower-precision weights for the one-token step (issue 17): what they give the CLI's sampler.

The shipped Shakespeare model (LSTM 768×2) reads ~29 MB of fp32 weights per generated
character, so batch-1 sampling is bound by memory bandwidth, not arithmetic. This measures the
same LSTM step with the weights stored as

- ``numpy-fp32``: today's CLI back-end (genrnn/models/numpy_lstm.py);
- ``torch-fp32``: the same step as torch matmuls (the dispatch cost of torch, no change of data);
- ``torch-bf16``: weights in bfloat16, activations cast to bf16 for each matmul, the gates
  and the state kept in fp32 (half the bytes; native on CPUs with AVX-512 BF16/AMX);
- ``torch-int8``: weights int8 with one scale per output column (a quarter of the bytes),
  through ``torch.ao.quantization``'s dynamic quantized Linear (fbgemm), state in fp32.

For each: batch-1 tok/s (median of 5 × 2,000 steps, one thread and two), the validation loss
through that very step (32 streams over the whole held-out split), and how many of 2,000
sampled characters match the fp32 text (same seed, same uniforms).

    python benchmarks/low_precision.py --corpus ../shared/data/tinyshakespeare.txt
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.ao.nn.quantized.dynamic import Linear as QLinear

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(f"[low-precision] {msg}", file=sys.stderr, flush=True)


class TorchLstmStep:
    """The NumPy step's algebra in torch, with the matrices in ``kind`` precision."""

    def __init__(self, arrays, kind: str) -> None:  # noqa: ANN001
        self.kind = kind
        self.hidden = arrays.w_hh0.shape[0]
        self.table0 = torch.from_numpy(arrays.table0)
        self.b = [torch.from_numpy(b) for b in arrays.b]
        self.head_b = torch.from_numpy(arrays.head_b)
        mats = [arrays.w_hh0] + arrays.w_cat[1:] + [arrays.head_w]
        self.mats = [self._store(torch.from_numpy(np.ascontiguousarray(m))) for m in mats]

    def _store(self, w: torch.Tensor):  # noqa: ANN202  (in, out) matrix
        if self.kind == "fp32":
            return w
        if self.kind == "bf16":
            return w.to(torch.bfloat16)
        q = QLinear(w.shape[0], w.shape[1], bias_=False, dtype=torch.qint8)
        scale = w.abs().amax(dim=0).clamp(min=1e-8) / 127.0  # per output column
        qw = torch.quantize_per_channel(w.t().contiguous(), scale.double(), torch.zeros(w.shape[1], dtype=torch.long),
                                        0, torch.qint8)
        q.set_weight_bias(qw, None)
        return q

    def _mm(self, x: torch.Tensor, i: int) -> torch.Tensor:
        w = self.mats[i]
        if self.kind == "fp32":
            return x @ w
        if self.kind == "bf16":
            return (x.to(torch.bfloat16) @ w).float()
        return w(x)

    @torch.inference_mode()
    def __call__(self, ids: np.ndarray, h: torch.Tensor, c: torch.Tensor):  # noqa: ANN204
        H = self.hidden
        hs, cs = torch.empty_like(h), torch.empty_like(c)
        x = h[0]
        for layer in range(h.shape[0]):
            if layer == 0:
                gates = self.table0[torch.from_numpy(ids)] + self._mm(h[0], 0)
            else:
                gates = self._mm(torch.cat([x, h[layer]], dim=1), layer) + self.b[layer]
            sig = torch.sigmoid(gates[:, : 3 * H])
            cs[layer] = sig[:, H: 2 * H] * c[layer] + sig[:, :H] * torch.tanh(gates[:, 3 * H:])
            x = hs[layer] = sig[:, 2 * H:] * torch.tanh(cs[layer])
        return self._mm(x, len(self.mats) - 1) + self.head_b, hs, cs


def numpy_step(arrays):  # noqa: ANN001, ANN201
    from genrnn.models.numpy_lstm import lstm_step

    def step(ids, h, c):  # noqa: ANN001, ANN202
        return lstm_step(arrays, ids, h, c)
    return step


def as_backend(kind: str, arrays):  # noqa: ANN001, ANN201
    """(step, zeros(layers, B, H) → state, to_numpy) for one precision."""
    if kind == "numpy-fp32":
        return numpy_step(arrays), (lambda shape: np.zeros(shape, np.float32)), (lambda a: a)
    step = TorchLstmStep(arrays, kind.split("-")[1])
    return step, (lambda shape: torch.zeros(shape)), (lambda t: t.numpy())


def speed(kind: str, arrays, layers: int, threads: int, steps: int = 2000) -> float:  # noqa: ANN001
    torch.set_num_threads(threads)
    step, zeros, _ = as_backend(kind, arrays)
    H = arrays.w_hh0.shape[0]
    h, c = zeros((layers, 1, H)), zeros((layers, 1, H))
    ids = np.array([5])
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(steps):
            _, h, c = step(ids, h, c)
        runs.append(steps / (time.perf_counter() - t0))
    return statistics.median(runs)


def val_loss(kind: str, arrays, layers: int, val: np.ndarray, streams: int = 32) -> float:  # noqa: ANN001
    torch.set_num_threads(os.cpu_count() or 1)
    step, zeros, to_np = as_backend(kind, arrays)
    H = arrays.w_hh0.shape[0]
    length = (len(val) - 1) // streams
    rows = val[np.arange(streams)[:, None] * length + np.arange(length + 1)[None, :]].astype(np.int64)
    h, c = zeros((layers, streams, H)), zeros((layers, streams, H))
    total = 0.0
    for t in range(length):
        logits, h, c = step(rows[:, t], h, c)
        z = to_np(logits).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        total -= logp[np.arange(streams), rows[:, t + 1]].sum()
    return total / (length * streams)


def sample(kind: str, arrays, layers: int, n: int = 2000, temperature: float = 0.8, seed: int = 1) -> np.ndarray:  # noqa: ANN001
    step, zeros, to_np = as_backend(kind, arrays)
    H = arrays.w_hh0.shape[0]
    h, c = zeros((layers, 1, H)), zeros((layers, 1, H))
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    ids = np.array([0])
    for i in range(n):
        logits, h, c = step(ids, h, c)
        z = to_np(logits)[0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        cdf = np.cumsum(p / p.sum())
        ids = np.array([min(int(np.searchsorted(cdf, rng.random())), len(cdf) - 1)])
        out[i] = ids[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "checkpoints" / "shakespeare.safetensors")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "tinyshakespeare.txt")
    ap.add_argument("--kinds", nargs="+", default=["numpy-fp32", "torch-fp32", "torch-bf16", "torch-int8"])
    args = ap.parse_args()
    from genrnn.corpora.text import prepare_text
    from genrnn.machine import cpu_facts
    from genrnn.models.numpy_lstm import LstmArrays
    from genrnn.session import load_model

    model = load_model(args.model)
    state = {k: v.detach().float().numpy() for k, v in model.module.state_dict().items()}
    layers = model.config.layers
    arrays = LstmArrays.from_weights(state, layers)
    val = np.asarray(prepare_text(args.corpus, tokenizer=model.tokenizer).val, dtype=np.int64)
    reference_text = None
    rows = {}
    for kind in args.kinds:
        row = {"tok_s_1_thread": round(speed(kind, arrays, layers, 1)),
               "tok_s_2_threads": round(speed(kind, arrays, layers, 2))}
        log(f"{kind}: {row}")
        row["val_loss"] = round(val_loss(kind, arrays, layers, val), 4)
        text = sample(kind, arrays, layers)
        if reference_text is None:
            reference_text = text
        same = np.flatnonzero(text != reference_text)
        row["same_prefix_chars"] = int(same[0]) if len(same) else len(text)
        row["weight_mb"] = round(sum((m.numel() * m.element_size()) if isinstance(m, torch.Tensor) else
                                     m.weight().numel() for m in TorchLstmStep(arrays, kind.split("-")[1]).mats)
                                 / 1e6, 1)
        log(f"{kind}: {row}")
        rows[kind] = row
    base = rows[args.kinds[0]]
    for row in rows.values():
        row["speedup"] = round(row["tok_s_1_thread"] / base["tok_s_1_thread"], 2)
        row["loss_change"] = round(row["val_loss"] - base["val_loss"], 4)
    print(json.dumps({"model": args.model.name, **cpu_facts(), "torch": torch.__version__,
                      "isa": {k: os.environ.get(k, "") for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")},
                      "platform": platform.machine(), "kinds": rows, "nats_to_bits": 1 / math.log(2)}))


if __name__ == "__main__":
    main()
