"""The ideas of issue 7 as figures: long-range memory, cells side by side, minGRU throughput.

    python benchmarks/seed_ideas.py --corpus ../shared/data/tinyshakespeare.txt --budget 120

(1) memory: recall a token 100 steps back (8 keys, chance 12.5%), LSTM and tanh RNN, at most
    --memory-time seconds each; (2) compare: every cell for --budget seconds on the corpus,
    same seed, hidden sizes matched to the LSTM's parameter count (preset --preset), val loss
    of each recurrent cell against `none`; (3) minGRU against LSTM training tok/s at equal
    parameter count, from the compare runs and from a clean forward+backward loop.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from genrnn.config import CONDITION_GUIDANCE, sample_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu", "mingru", "none"]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def memory_figures(seconds: float) -> dict:
    from genrnn.analysis import memory

    task = memory.RecallTask()
    res = memory.memory_benchmark(["lstm", "rnn_tanh"], [100], seconds, task, seed=0, threads=1,
                                  on_result=lambda r: log(f"memory {r.cell} lag 100: {r.accuracy:.1%} ({r.steps} steps)"))
    by = {r.cell: r for r in res}
    return {"lag": 100, "chance": task.chance, "time_per_cell_s": seconds,
            "lstm_recall": by["lstm"].accuracy, "rnn_tanh_recall": by["rnn_tanh"].accuracy,
            "lstm_steps": by["lstm"].steps, "rnn_tanh_steps": by["rnn_tanh"].steps,
            "lstm_at_least_95": by["lstm"].accuracy >= 0.95}


def compare_figures(corpus_path: Path, budget: float, preset: str, out: Path, threads: int | None) -> dict:
    from genrnn import session
    from genrnn.analysis import compare

    corpus = session.prepare_corpus(text=corpus_path)
    train = {"threads": threads} if threads else {}
    runs = []
    hidden = compare.plan_hidden(corpus, CELLS, preset, {}, True)
    for cell in CELLS:
        log(f"compare: {cell} (hidden {hidden[cell]}) for {budget:g} s")
        runs += compare.compare_cells(corpus, [cell], budget, out, preset, 1337, False,
                                      {"hidden": hidden[cell]}, train)
        log(f"  {cell}: best val {runs[-1].best_val_loss:.4f}, {runs[-1].tok_s:,.0f} tok/s, {runs[-1].steps} steps")
    plot = compare.plot_runs(runs, out / "loss_vs_time.png", f"{corpus_path.name}: {budget:g} s per cell")
    by = {r.cell: r for r in runs}
    none = by["none"].best_val_loss
    gains = {c: round(none - r.best_val_loss, 4) for c, r in by.items() if c != "none"}
    return {"budget_s": budget, "preset": preset, "parameters_matched_to": "lstm", "runs": [r.row() for r in runs],
            "gain_over_none_nats": gains, "all_recurrent_beat_none_by_0.5": min(gains.values()) >= 0.5,
            "mingru_over_lstm_tok_s_in_compare": round(by["mingru"].tok_s / by["lstm"].tok_s, 3), "plot": str(plot)}


def throughput_figures(preset: str, seconds: float, threads: int | None, device: str) -> dict:
    from genrnn.analysis import compare
    from genrnn.config import resolve_preset

    lstm, train = resolve_preset(preset, {"cell": "lstm"}, {}, 65)
    ming = replace(lstm, cell="mingru", hidden=compare.matched_hidden(replace(lstm, cell="mingru"),
                                                                       compare.parameter_count(lstm)))
    rows = {}
    if threads and device == "cpu":
        torch.set_num_threads(threads)
    for seq in (train.seq_len, 4 * train.seq_len):
        tl = compare.train_throughput(lstm, train.batch_size, seq, seconds, device)
        tm = compare.train_throughput(ming, train.batch_size, seq, seconds, device)
        rows[str(seq)] = {"lstm_tok_s": round(tl), "mingru_tok_s": round(tm), "ratio": round(tm / tl, 3)}
        log(f"throughput T={seq}: lstm {tl:,.0f} tok/s, mingru {tm:,.0f} tok/s")
    return {"device": device, "lstm_hidden": lstm.hidden, "mingru_hidden": ming.hidden,
            "parameters": compare.parameter_count(lstm), "batch": train.batch_size, "by_seq_len": rows}


def conditioning_figures(checkpoint: Path, per_mode: int, seconds: float, guidance: float = 1.0) -> dict:
    """Chorales generated from `mode=major` / `mode=minor` alone; share analysed in that mode."""
    from genrnn import session
    from genrnn.analysis.conditioning import mode_match

    model = session.load_model(checkpoint)
    res = mode_match(model, per_mode, seconds, sample_config("midi_events", seed=0, guidance=guidance))
    res["guidance"] = guidance
    for mode, row in res["per_mode"].items():
        log(f"conditioning mode={mode}: {row['match']}/{row['samples']} analysed as {mode}")
    res["checkpoint"] = str(checkpoint)
    res["target"] = 0.8
    res["passes"] = res["mode_match"] >= 0.8
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--budget", type=float, default=120.0, help="seconds per cell in compare")
    ap.add_argument("--memory-time", type=float, default=60.0, help="seconds per cell, memory task")
    ap.add_argument("--throughput-time", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's choice)")
    ap.add_argument("--device", default="cpu", help="device for the throughput loop")
    ap.add_argument("--out", type=Path, default=None, help="folder for the compare runs (default: temp)")
    ap.add_argument("--conditioned", type=Path, default=None,
                    help="a chorale model trained with --conditioned: mode-match figure")
    ap.add_argument("--cond-samples", type=int, default=20, help="pieces per mode (default 20)")
    ap.add_argument("--cond-seconds", type=float, default=20.0, help="seconds per piece (default 20)")
    ap.add_argument("--cond-guidance", type=float, default=CONDITION_GUIDANCE,
                    help=f"classifier-free guidance W (1 = off; default {CONDITION_GUIDANCE:g}, as `genrnn sample --condition`)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: memory,compare,throughput")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    start = time.time()
    result: dict = {"benchmark": "seed_ideas", "machine": f"{platform.node()} {platform.machine()}",
                    "torch": torch.__version__, "threads": args.threads, "corpus": str(args.corpus)}
    if "memory" not in skip:
        result["memory"] = memory_figures(args.memory_time)
    if "compare" not in skip:
        with tempfile.TemporaryDirectory(prefix="genrnn-compare-") as tmp:
            out = args.out or Path(tmp)
            result["compare"] = compare_figures(args.corpus, args.budget, args.preset, out, args.threads or None)
    if "throughput" not in skip:
        result["throughput"] = throughput_figures(args.preset, args.throughput_time, args.threads or None, args.device)
    if args.conditioned is not None:
        result["conditioning"] = conditioning_figures(args.conditioned, args.cond_samples, args.cond_seconds,
                                                     args.cond_guidance)
    result["wall_s"] = round(time.time() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
