"""Tiny Shakespeare, character level: genrnn's default preset against a plain reference loop.

Runs, on one machine in one go:
  (a) ``genrnn train`` with no preset, i.e. ``auto`` (the real CLI code path, in a child process)
  (b) a plain PyTorch reference loop written out below (nn.Embedding 64 → nn.LSTM 256×2,
      dropout 0.1 → Linear; B32×T128; AdamW 3e-3, cosine to 10% over the budget; clip 1; fp32)
each for the same wall budget, then measures both on the same 90/10 split with the same
evaluation function (whole validation split, hidden state carried), plus sampling speed,
per-token latency at positions 10 and 10,000, throughput at the reference's exact size and
dtype, big corpora (peak RSS, time to first step), and the terminal app's text rate against
the CLI's (benchmarks/tui_rate.py). The comparison (a, b and the throughput) runs twice: natively
and in a child with ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``, which emulates a CPU
without AVX-512/AMX (and so without a bf16 LSTM); both margins go in the JSON line.

    python benchmarks/text_shakespeare.py --corpus ../shared/data/tinyshakespeare.txt --big-mb 1000 5000

The last line printed is one JSON object (issue 17's keys: margin_native, margin_avx2,
ref_size_tok_s_ratio_native, ref_size_tok_s_ratio_avx2, tui_vs_cli_ratio,
big_corpus_peak_rss_mb, big_corpus_first_step_s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrnn.machine import cpu_facts, cpu_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data

def load_split(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The same encoding genrnn uses (sorted chars of the whole file + its separator)."""
    from genrnn.corpora.text import prepare_text

    corpus = prepare_text(path)
    return np.asarray(corpus.train, dtype=np.int64), np.asarray(corpus.val, dtype=np.int64), corpus.tokenizer.vocab_size


@torch.inference_mode()
def plain_eval(model: nn.Module, val: np.ndarray, streams: int = 32, window: int = 256) -> float:
    """Mean nats/char over the whole validation split, state carried (same for both sides)."""
    model.eval()
    length = (len(val) - 1) // streams
    idx = np.arange(streams)[:, None] * length + np.arange(length + 1)[None, :]
    rows = torch.from_numpy(val[idx])
    state, total, count = None, 0.0, 0
    for s in range(0, length, window):
        e = min(s + window, length)
        logits, state = model(rows[:, s:e], state)
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), rows[:, s + 1:e + 1].reshape(-1),
                                 reduction="sum").item()
        count += (e - s) * streams
    return total / count


# ----------------------------------------------------------------------------- reference

class RefLM(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 64)
        self.lstm = nn.LSTM(64, 256, 2, batch_first=True, dropout=0.1)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(256, vocab)

    def forward(self, x, state=None):  # noqa: ANN001, ANN201
        y, state = self.lstm(self.emb(x), state)
        return self.head(self.drop(y)), state


def reference_loop(train: np.ndarray, vocab: int, budget: float, seed: int = 1337) -> tuple[RefLM, dict]:
    """Stateful TBPTT in the style of pytorch/examples word_language_model."""
    torch.manual_seed(seed)
    B, T = 32, 128
    model = RefLM(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    L = len(train) // B
    data = torch.from_numpy(train[: L * B].reshape(B, L))
    state, step, tokens, pos = None, 0, 0, 0
    t0 = time.perf_counter()
    times, ends = [], []
    while True:
        el = time.perf_counter() - t0
        if el >= budget:
            break
        lr = 3e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * el / budget)))
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + T + 1 > L:
            pos, state = 0, None
        x, y = data[:, pos:pos + T], data[:, pos + 1:pos + T + 1]
        ts = time.perf_counter()
        model.train()
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - ts)
        ends.append(time.perf_counter())
        pos += T
        step += 1
        tokens += B * T
    wall = time.perf_counter() - t0
    steady = statistics.median(times[5:]) if len(times) > 10 else statistics.median(times)
    # The whole loop over windows of 5 steps, the way genrnn's log lines count theirs
    # (`--log-interval 5`): data, schedule and bookkeeping included on both sides.
    windows = [5 * B * T / (ends[i + 5] - ends[i]) for i in range(5, len(ends) - 5, 5)]
    return model, {"steps": step, "wall": wall, "tok_s": tokens / wall, "steady_tok_s": B * T / steady,
                   "loop_tok_s": statistics.median(windows) if windows else tokens / wall}


# ----------------------------------------------------------------------------- genrnn

def run_genrnn(corpus: Path, out: Path, extra: list[str], watch_memory: bool = True) -> tuple[dict, float]:
    """``genrnn train`` in a child process; returns its summary and peak RSS (MB, 0 unless
    ``watch_memory``: the throughput runs are not watched, so no poller wakes beside them)."""
    cmd = [sys.executable, "-m", "genrnn.cli", "train", "--text", str(corpus), "--out", str(out),
           "--force", *extra]
    log(" ".join(cmd[2:]))
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errfile, text=True)
        # The child's own peak: its VmHWM, polled until it exits. wait4's ru_maxrss would not do:
        # Linux carries the forking parent's peak (this process, ~500 MB) into the child's.
        peak_kb = 0
        while watch_memory and proc.poll() is None:
            with contextlib.suppress(OSError, AttributeError):
                status_text = Path(f"/proc/{proc.pid}/status").read_text()
                peak_kb = max(peak_kb, int(re.search(r"VmHWM:\s+(\d+) kB", status_text).group(1)))
            time.sleep(0.05)
        proc.wait()
        if proc.returncode != 0:
            errfile.seek(0)
            raise SystemExit(f"genrnn train failed:\n{errfile.read()[-2000:]}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in rows if r.get("event") == "first_step")
    tok_s = [r["tok_s"] for r in rows if r.get("tok_s")]
    summary = {"first_step_s": first["unix_time"] - t0, "wall": time.time() - t0,
               "steady_tok_s": statistics.median(tok_s) if tok_s else None, "rows": rows}
    return summary, peak_kb / 1024


def load_genrnn(out: Path):  # noqa: ANN201
    from genrnn.session import load_model

    return load_model(out / "last.safetensors")


# ----------------------------------------------------------------------------- sampling

def sampling_figures(model) -> dict:  # noqa: ANN001
    from genrnn.config import SampleConfig
    from genrnn.session import open_stream

    torch.set_num_threads(1)
    gen = open_stream(model, SampleConfig(temperature=0.8, seed=1))
    n = 10_200
    times = []
    t0 = time.perf_counter()
    for _ in range(n):
        ts = time.perf_counter()
        next(gen)
        times.append(time.perf_counter() - ts)
    total = time.perf_counter() - t0
    torch.set_num_threads(os.cpu_count() or 1)
    return {"sample_tok_s": n / total,
            "latency_pos10_us": statistics.median(times[10:110]) * 1e6,
            "latency_pos10000_us": statistics.median(times[10_000:10_100]) * 1e6}


# ----------------------------------------------------------------------------- big corpus

def make_big_corpus(src: Path, dst: Path, mb: int, seed: int = 0) -> None:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    rng = random.Random(seed)
    target = mb * 1_000_000
    with dst.open("w", encoding="utf-8") as fh:
        written = 0
        while written < target:
            rng.shuffle(lines)
            chunk = "".join(lines)
            fh.write(chunk)
            written += len(chunk.encode("utf-8"))


AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def comparison(args: argparse.Namespace, train: np.ndarray, val: np.ndarray, vocab: int, work: Path) -> dict:
    """(a) genrnn, (b) the reference, same budget; then both at the reference's size."""
    result: dict = {}
    if "genrnn" not in args.skip:
        run_dir = work / "genrnn"
        preset = ["--preset", args.preset] if args.preset else []
        summary, rss = run_genrnn(args.corpus, run_dir, [*preset, "--time-budget", str(args.budget),
                                                         *args.genrnn_args.split()])
        ckpt = load_genrnn(run_dir)
        auto = ckpt.training.get("auto")
        result.update({"genrnn_val_loss": round(plain_eval(ckpt.module, val), 4),
                       "genrnn_tok_s": round(summary["steady_tok_s"] or 0), "genrnn_peak_rss_mb": round(rss),
                       "genrnn_steps": ckpt.training.get("steps"), "genrnn_dtype": ckpt.training.get("dtype"),
                       "genrnn_preset": ckpt.training.get("preset"),
                       "genrnn_auto": auto["reason"] if auto else None,
                       "genrnn_config": ckpt.training.get("train_config", {}) | {"model": ckpt.config.__dict__}})
        log(f"genrnn val {result['genrnn_val_loss']}")
        if "sampling" not in args.skip:
            result.update({k: round(v, 1) for k, v in sampling_figures(ckpt).items()})
            log(f"sampling {result['sample_tok_s']} tok/s")
    if "reference" not in args.skip:
        model, info = reference_loop(train, vocab, args.budget)
        result.update({"reference_val_loss": round(plain_eval(model, val), 4), "reference_tok_s": round(info["tok_s"]),
                       "reference_steady_tok_s": round(info["steady_tok_s"]), "reference_steps": info["steps"]})
        log(f"reference val {result['reference_val_loss']}")
    if "genrnn_val_loss" in result and "reference_val_loss" in result:
        result["improvement_nats"] = round(result["reference_val_loss"] - result["genrnn_val_loss"], 4)
    if "throughput" not in args.skip:
        # Alternate the two and keep each one's best: on a shared VM a single pair is at the
        # mercy of whatever else the host runs in those seconds. Both count the whole loop over
        # windows of 5 steps.
        ours, theirs = [], []
        for _ in range(args.throughput_pairs):
            summary, _ = run_genrnn(args.corpus, work / "ref-size", [
                "--preset", "reference", "--time-budget", str(args.throughput_budget),
                "--eval-interval", "1e6", "--log-interval", "5"], watch_memory=False)
            ours.append(summary["steady_tok_s"])
            theirs.append(reference_loop(train, vocab, args.throughput_budget)[1]["loop_tok_s"])
        ours, theirs = [x or 0.0 for x in ours], [x or 0.0 for x in theirs]  # None: too few steps to time
        result.update({"genrnn_ref_size_fp32_tok_s": round(max(ours)),
                       "reference_ref_size_fp32_tok_s": round(max(theirs)),
                       "ref_size_tok_s_ratio": round(max(ours) / max(theirs), 3) if max(theirs) else None,
                       "ref_size_runs": {"genrnn": [round(x) for x in ours], "reference": [round(x) for x in theirs]}})
    return result


def tui_ratio(runs: int) -> dict:
    """benchmarks/tui_rate.py in a child: tmux 120×36, the shipped model, 8,000 characters,
    ``runs`` alternating pairs (a fresh process each: on this VM one process's rate differs from
    the next one's by up to ±15 %, so a few pairs decide little)."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tui_rate.py"), "--runs", str(runs)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"tui_vs_cli_ratio": None, "tui_error": proc.stderr[-500:]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"tui_vs_cli_ratio": row["ratio_of_means"], "tui_tok_s": row["tui_tok_s"], "cli_tok_s": row["cli_tok_s"]}


def big_corpora(args: argparse.Namespace, work: Path) -> dict:
    """Each size: a shuffled-lines corpus of that many MB, trained 20 steps from a cold cache:
    peak RSS of the whole process and the time from launch to its first step."""
    rss, first = {}, {}
    for mb in args.big_mb:
        big = work / f"big{mb}.txt"
        make_big_corpus(args.corpus, big, mb)
        cache = work / f"cache-big{mb}"
        os.environ["GENRNN_CACHE"], saved = str(cache), os.environ["GENRNN_CACHE"]
        try:
            summary, peak = run_genrnn(big, work / f"big{mb}", ["--preset", "default", "--max-steps", "20",
                                                                "--eval-tokens", "20000"])
        finally:
            os.environ["GENRNN_CACHE"] = saved
        rss[str(mb)], first[str(mb)] = round(peak), round(summary["first_step_s"], 1)
        log(f"{mb} MB corpus: first step after {first[str(mb)]} s, peak RSS {rss[str(mb)]} MB")
        big.unlink()
        shutil.rmtree(cache, ignore_errors=True)
    return {"big_corpus_peak_rss_mb": rss, "big_corpus_first_step_s": first}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--budget", type=float, default=150.0, help="wall seconds for each of (a) and (b)")
    ap.add_argument("--preset", default=None, help="genrnn's preset (default: none given, i.e. auto)")
    ap.add_argument("--throughput-budget", type=float, default=20.0)
    ap.add_argument("--throughput-pairs", type=int, default=2)
    ap.add_argument("--big-mb", type=int, nargs="*", default=[100])
    ap.add_argument("--tui-runs", type=int, default=5, help="CLI/TUI pairs for the terminal app's ratio")
    ap.add_argument("--legs", nargs="+", default=["native", "avx2"], choices=["native", "avx2"])
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["reference", "big", "throughput", "genrnn", "sampling", "tui"])
    ap.add_argument("--genrnn-args", default="", help="extra flags for genrnn train (experiments)")
    args = ap.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus}: not found (Tiny Shakespeare; pass --corpus FILE)")
    os.environ.setdefault("GENRNN_CACHE", tempfile.mkdtemp(prefix="genrnn-bench-cache-"))
    train, val, vocab = load_split(args.corpus)
    result: dict = {"machine": f"{platform.node()}, {cpu_model()}, {os.cpu_count()} cpus, torch {torch.__version__}",
                    **cpu_facts(),
                    "corpus": str(args.corpus), "budget_s": args.budget, "preset": args.preset or "auto",
                    "val_chars": int(len(val))}
    work = Path(tempfile.mkdtemp(prefix="genrnn-bench-"))
    if "native" in args.legs:
        native = comparison(args, train, val, vocab, work)
        result.update(native)
        result["margin_native"] = native.get("improvement_nats")
        result["ref_size_tok_s_ratio_native"] = native.get("ref_size_tok_s_ratio")
    if "avx2" in args.legs:
        # The same comparison in a child whose oneDNN and ATen stop at AVX2.
        cmd = [sys.executable, str(Path(__file__).resolve()), "--corpus", str(args.corpus), "--budget", str(args.budget),
               "--throughput-budget", str(args.throughput_budget), "--throughput-pairs", str(args.throughput_pairs),
               "--legs", "native", "--skip", "big", "tui", "sampling", *[x for x in args.skip if x not in ("big", "tui",
                                                                                                            "sampling")],
               "--genrnn-args", args.genrnn_args, *(["--preset", args.preset] if args.preset else [])]
        log("AVX2 leg: " + " ".join(f"{k}={v}" for k, v in AVX2_ENV.items()))
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **AVX2_ENV})
        if proc.returncode != 0:
            raise SystemExit(f"AVX2 leg failed:\n{proc.stderr[-3000:]}")
        sys.stderr.write(proc.stderr)
        avx2 = json.loads(proc.stdout.strip().splitlines()[-1])
        keep = ("genrnn_val_loss", "genrnn_tok_s", "genrnn_steps", "genrnn_dtype", "genrnn_auto", "reference_val_loss",
                "reference_tok_s", "reference_steps", "improvement_nats", "genrnn_ref_size_fp32_tok_s",
                "reference_ref_size_fp32_tok_s", "ref_size_runs")
        result["avx2"] = {k: avx2[k] for k in keep if k in avx2}
        result["margin_avx2"] = avx2.get("margin_native")
        result["ref_size_tok_s_ratio_avx2"] = avx2.get("ref_size_tok_s_ratio_native")
    if "tui" not in args.skip:
        result.update(tui_ratio(args.tui_runs))
    if "big" not in args.skip:
        result.update(big_corpora(args, work))
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
