"""The ideas behind RNNs as commands: ``compare``, ``diagnose gradients``, ``bench memory``,
``inspect neurons``.

This module parses arguments and prints; the measuring lives in ``genrnn.analysis``. Each
command prints a rich table (or, with ``--json``, one JSON line on stdout) and writes a PNG or
HTML file. Room is left for the music-side families (``classify``, ``harmonize``): add a
``_register_*`` function and call it from ``register``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from genrnn.cli._common import CACHE_HELP, add_device_args, emit_json, err, out, read_text_file
from genrnn.errors import ConfigError

RUNS = Path("runs")
SPIKE = 100.0  # a pre-clip gradient norm above this in training is reported as exploding


def register(sub: argparse._SubParsersAction) -> None:
    _register_compare(sub)
    _register_diagnose(sub)
    _register_bench(sub)
    _register_inspect(sub)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)



def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", help="a UTF-8 text file or folder")
    p.add_argument("--corpus", help="a corpus recipe (TOML)")
    p.add_argument("--cache", help=CACHE_HELP)


# ------------------------------------------------------------------ compare

def _register_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="train several cells for the same wall time and compare them",
                       description="Same data, same seed, same wall time per cell: parameters, tok/s, "
                                   "val loss, and a loss-vs-time PNG.")
    p.add_argument("--cells", default="lstm,gru,rnn_tanh,rnn_relu,none,mingru")
    _data_args(p)
    p.add_argument("--time-budget", type=float, required=True, metavar="SECONDS", help="per cell")
    p.add_argument("--preset", default="small")
    p.add_argument("--hidden", type=int, help="hidden size for every cell (overrides the preset)")
    p.add_argument("--match-params", action="store_true",
                   help="choose each cell's hidden size so its parameter count matches the first cell's")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, help="torch CPU threads per run (1 is steadier on a busy CPU)")
    p.add_argument("--dtype", choices=("auto", "fp32", "bf16"))
    p.add_argument("--out", default=str(RUNS / "compare"), help="folder: one run per cell + loss_vs_time.png")
    p.add_argument("--json", action="store_true", help="one JSON line on stdout instead of the table")
    add_device_args(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from genrnn import session
    from genrnn.analysis import compare

    cells = compare.parse_cells(args.cells)
    corpus = session.prepare_corpus(text=args.text, recipe=args.corpus, cache_dir=args.cache)
    train = {"threads": args.threads, "dtype": args.dtype, "device": args.device}
    train = {k: v for k, v in train.items() if v is not None}
    if not args.json:
        err.print(f"compare: {', '.join(cells)} · {args.time_budget:g} s each · preset {args.preset} · seed {args.seed}")
    runs = []
    for cell in cells:
        if not args.json:
            err.print(f"  training {cell} …")
        runs += compare.compare_cells(corpus, [cell], args.time_budget, args.out, args.preset, args.seed,
                                      False, {"hidden": _hidden_for(args, corpus, cells, cell)}, train)
    plot = compare.plot_runs(runs, Path(args.out) / "loss_vs_time.png",
                             f"{corpus.meta.get('source', '')}: {args.time_budget:g} s per cell")
    if args.json:
        emit_json({"command": "compare", "time_budget": args.time_budget, "preset": args.preset,
                   "seed": args.seed, "runs": [r.row() for r in runs], "plot": str(plot)})
        return 0
    table = Table(title=f"cells side by side ({args.time_budget:g} s each, same data and seed)")
    for col in ("cell", "hidden", "parameters", "steps", "tok/s", "best val loss", "vs none"):
        table.add_column(col, justify="left" if col == "cell" else "right")
    none = next((r.best_val_loss for r in runs if r.cell == "none"), None)
    for r in runs:
        gain = none - r.best_val_loss if none is not None and r.best_val_loss is not None and r.cell != "none" else None
        table.add_row(r.cell, str(r.hidden), f"{r.parameters:,}", str(r.steps), f"{r.tok_s:,.0f}",
                      _fmt(r.best_val_loss, ".4f"), _fmt(gain, "+.3f"))
    out.print(table)
    out.print(f"loss-vs-time plot: {plot}")
    return 0


def _hidden_for(args: argparse.Namespace, corpus: Any, cells: list[str], cell: str) -> int | None:
    from genrnn.analysis import compare

    overrides = {"hidden": args.hidden} if args.hidden else {}
    if not args.match_params:
        return args.hidden
    return compare.plan_hidden(corpus, cells, args.preset, overrides, True)[cell]


# ------------------------------------------------------------------ diagnose gradients

def _register_diagnose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="diagnostics of how a recurrent network learns")
    dsub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    g = dsub.add_parser("gradients", help="‖∂ loss_t / ∂ h_(t−k)‖ against k: vanishing and exploding gradients",
                        description="Norm of the loss gradient with respect to the hidden state k steps "
                                    "back, at initialisation and after a short training with and without "
                                    "clipping (or for a checkpoint beside a fresh model).")
    g.add_argument("checkpoint", nargs="?", help="a checkpoint or run folder (optional)")
    g.add_argument("--cells", default="lstm,gru,rnn_tanh")
    _data_args(g)
    g.add_argument("--steps", type=int, default=200, help="training steps per cell and clip setting (0 = init only)")
    g.add_argument("--window", type=int, default=100, help="largest k")
    g.add_argument("--preset", default="small")
    g.add_argument("--lr", type=float, help="learning rate for the short trainings")
    g.add_argument("--seed", type=int, default=1337)
    g.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's choice)")
    g.add_argument("--plot", default=str(RUNS / "diagnose" / "gradients.png"))
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=run_gradients)


def _gradient_profiles(args: argparse.Namespace) -> list[Any]:
    from genrnn import session
    from genrnn.analysis import compare, gradients

    if args.checkpoint:
        model = session.load_model(args.checkpoint)
        text = args.text or model.training.get("corpus", {}).get("source")
        if not text:
            raise ConfigError("give --text FILE: the checkpoint does not name the text it was trained on")
        corpus = session.prepare_corpus(text=text, cache_dir=args.cache, tokenizer=model.tokenizer)
        return gradients.diagnose_checkpoint(model.module, corpus.val, args.window, seed=args.seed)
    cells = compare.parse_cells(args.cells)
    if args.text is None and args.corpus is None:
        raise ConfigError("give --text FILE or --corpus RECIPE (data to measure on), or a checkpoint")
    corpus = session.prepare_corpus(text=args.text, recipe=args.corpus, cache_dir=args.cache)
    return gradients.diagnose_cells(corpus, cells, args.preset, args.steps, args.window, seed=args.seed, lr=args.lr,
                                     threads=args.threads)


def run_gradients(args: argparse.Namespace) -> int:
    from genrnn.analysis import gradients

    if args.window < 2:
        raise ConfigError(f"--window {args.window}: expected at least 2")
    if not args.json:
        err.print("measuring gradients (unrolled one step at a time) …")
    profiles = _gradient_profiles(args)
    plot = gradients.plot_profiles(profiles, args.plot)
    if args.json:
        emit_json({"command": "diagnose gradients", "window": args.window, "steps": args.steps,
                   "profiles": [p.row() for p in profiles], "plot": str(plot)})
        return 0
    table = Table(title="‖∂ loss_t / ∂ h_(t−k)‖: decay per 10 steps back (1 = no decay)")
    for col in ("cell", "phase", "decay/10", "k=10/k=1", "k=50/k=1", "max ‖g‖", "note"):
        table.add_column(col, justify="left" if col in ("cell", "phase", "note") else "right")
    for p in profiles:
        note = "EXPLODED (non-finite loss or gradient)" if p.exploded else ""
        if (p.training.get("max_grad_norm") or 0) > SPIKE:
            note += f"gradient spikes in training (max ‖g‖ {p.training['max_grad_norm']:.3g})"
        if p.training.get("skipped_steps"):
            note += f" {p.training['skipped_steps']} step(s) skipped in training"
        table.add_row(p.cell, p.phase, _fmt(p.decay_per_10(), ".3g"), _fmt(p.ratio(10), ".2e"),
                      _fmt(p.ratio(50), ".2e"), _fmt(p.training.get("max_grad_norm"), ".3g"), note.strip())
    out.print(table)
    out.print(f"plot: {plot}")
    return 0


# ------------------------------------------------------------------ bench memory

def _register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks of what recurrent cells can do")
    bsub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    m = bsub.add_parser("memory", help="recall a token seen k steps earlier: accuracy per cell and lag",
                        description="Synthetic recall task: a key token, k−1 distractors, a query marker; "
                                    "the model must name the key. Chance is 1/keys.")
    m.add_argument("--lags", default="10,100,300")
    m.add_argument("--cells", default="lstm,gru,rnn_tanh")
    m.add_argument("--time-per-cell", type=float, default=60.0, metavar="SECONDS",
                   help="split across the lags in proportion to the lag")
    m.add_argument("--keys", type=int, default=8, help="number of key symbols (chance = 1/keys)")
    m.add_argument("--hidden", type=int, default=64)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's choice)")
    m.add_argument("--plot", default=str(RUNS / "bench" / "memory.png"))
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=run_memory)


def _parse_lags(text: str) -> list[int]:
    try:
        lags = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        lags = []
    if not lags or min(lags) < 1:
        raise ConfigError(f"--lags {text!r}: expected positive integers, e.g. 10,100,300")
    return lags


def run_memory(args: argparse.Namespace) -> int:
    from genrnn.analysis import compare, memory

    cells, lags = compare.parse_cells(args.cells), _parse_lags(args.lags)
    if args.time_per_cell <= 0 or args.keys < 2:
        raise ConfigError("--time-per-cell must be positive and --keys at least 2")
    task = memory.RecallTask(keys=args.keys, hidden=args.hidden)

    def report(r: Any) -> None:
        if not args.json:
            err.print(f"  {r.cell:8} lag {r.lag:4}: {r.accuracy:6.1%} after {r.steps} steps, {r.seconds:.1f} s")

    results = memory.memory_benchmark(cells, lags, args.time_per_cell, task, args.seed, report,
                                      args.threads)
    plot = memory.plot_results(results, task.chance, args.plot)
    if args.json:
        emit_json({"command": "bench memory", "chance": task.chance, "time_per_cell": args.time_per_cell,
                   "results": [r.row() for r in results], "plot": str(plot)})
        return 0
    table = Table(title=f"recall accuracy (chance {task.chance:.1%}; {args.time_per_cell:g} s per cell)")
    table.add_column("cell")
    for lag in lags:
        table.add_column(f"lag {lag}", justify="right")
    for cell in cells:
        row = {r.lag: r for r in results if r.cell == cell}
        table.add_row(cell, *[f"{row[lag].accuracy:.1%}" for lag in lags])
    out.print(table)
    out.print(f"plot: {plot}")
    return 0


# ------------------------------------------------------------------ inspect neurons

def _register_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="look inside a trained model")
    isub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    n = isub.add_parser("neurons", help="hidden units that track quotes, brackets, line position …",
                        description="Correlate every hidden unit with readable features of the text and "
                                    "draw the text coloured by the best units' activations.")
    n.add_argument("checkpoint")
    n.add_argument("--text", required=True, help="a UTF-8 text file to read")
    n.add_argument("--top", type=int, default=3, help="units per feature")
    n.add_argument("--chars", type=int, default=5000, help="characters of the text to read")
    n.add_argument("--html", default=str(RUNS / "inspect" / "neurons.html"))
    n.add_argument("--show", type=int, default=240, help="characters drawn per unit in the terminal (0 = none)")
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=run_neurons)


def run_neurons(args: argparse.Namespace) -> int:
    from genrnn import session
    from genrnn.analysis import neurons

    if args.top < 1 or args.chars < 1:
        raise ConfigError("--top and --chars must be at least 1")
    model = session.load_model(args.checkpoint)
    text = read_text_file(args.text, "--text")
    report = neurons.inspect_text(model.module, model.tokenizer, text, args.top, args.chars)
    page = neurons.html_report(report, args.html)
    if args.json:
        emit_json({"command": "inspect neurons", "checkpoint": str(model.path), "cell": model.config.cell,
                   "units": len(report.activations.names), "matches": [m.row() for m in report.matches],
                   "skipped_features": report.skipped, "html": str(page)})
        return 0
    _print_neuron_table(report)
    if args.show > 0:
        _print_neuron_text(report, args.show)
    out.print(f"HTML: {page}")
    return 0


def _print_neuron_table(report: Any) -> None:
    table = Table(title=f"units that track readable features ({len(report.activations.names)} units, "
                        f"{len(report.activations.text)} characters)")
    for col in ("feature", "unit", "r"):
        table.add_column(col, justify="right" if col == "r" else "left")
    for m in report.matches:
        table.add_row(m.feature, m.unit, f"{m.correlation:+.3f}")
    out.print(table)
    if report.skipped:
        out.print(f"not in this text: {', '.join(report.skipped)}")


def _print_neuron_text(report: Any, chars: int) -> None:
    from genrnn.analysis.neurons import colour, scaled

    acts, seen = report.activations, set()
    for m in report.matches:
        if m.feature in seen:
            continue  # the best unit per feature only
        seen.add(m.feature)
        values = scaled(acts, m.index)
        line = Text()
        for ch, v in zip(acts.text[:chars], values[:chars], strict=False):
            line.append("⏎\n" if ch == "\n" else ch, style=f"black on {colour(float(v))}")
        out.print(Text(f"\n{m.feature}: {m.unit} (r = {m.correlation:+.2f})", style="bold"))
        out.print(line)
