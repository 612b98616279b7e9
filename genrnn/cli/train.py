"""``genrnn train``: text or corpus recipe → checkpoints, with a live progress bar."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from genrnn.cli._common import CACHE_HELP, add_device_args, err, out_dir_arg
from genrnn.config import CELLS, DROPOUT_MODES, DTYPES, METRE_PERIOD, PRESETS
from genrnn.errors import ConfigError

MODEL_FLAGS = {"cell": "cell", "hidden": "hidden", "layers": "layers", "embed": "embed",
               "dropout": "dropout", "out_dropout": "out_dropout", "dropout_mode": "dropout_mode"}
TRAIN_FLAGS = {"seq_len": "seq_len", "batch_size": "batch_size", "lr": "lr", "seed": "seed",
               "time_budget": "time_budget", "max_steps": "max_steps", "dtype": "dtype",
               "device": "device", "clip": "clip", "warmup": "warmup_steps",
               "eval_interval": "eval_interval", "log_interval": "log_interval",
               "checkpoint_interval": "checkpoint_interval", "threads": "threads",
               "eval_tokens": "eval_tokens", "weight_decay": "weight_decay", "ema": "ema"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on text or a corpus recipe",
                       description="Train a recurrent language model by truncated BPTT.")
    src = p.add_argument_group("data")
    src.add_argument("--text", help="a UTF-8 text file, or a folder of them (recursive)")
    src.add_argument("--corpus", help="a corpus recipe, e.g. corpora/bach_chorales.toml")
    src.add_argument("--cache", help=CACHE_HELP)
    src.add_argument("--conditioned", action="store_true",
                     help="learn labels that open each piece and are held at every step: mode and key of "
                          "each MIDI piece (analysed with music21), rests=yes|no and voices; a recipe that "
                          "keeps its instruments gets mode, key and which instruments play (bass=yes); "
                          "each file of a --text FOLDER gets file=NAME. Then "
                          "`genrnn sample CKPT --condition mode=minor` or `--instruments piano,bass,drums`")
    p.add_argument("--out", help="run folder for checkpoints and metrics.jsonl")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("--force", action="store_true", help="start afresh in an --out that holds a run")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="named configuration; explicit flags override it (default: music for a "
                        "MIDI-event corpus, else auto: width and dtype chosen for --time-budget from a "
                        "~5 s calibration on this machine, cached, and a fitted loss model)")
    m = p.add_argument_group("model")
    m.add_argument("--cell", choices=CELLS)
    m.add_argument("--hidden", type=int)
    m.add_argument("--layers", type=int)
    m.add_argument("--embed", type=int)
    m.add_argument("--dropout", type=float)
    m.add_argument("--out-dropout", type=float, help="dropout on the top layer's output only (default: --dropout)")
    m.add_argument("--dropout-mode", choices=DROPOUT_MODES,
                   help="standard: a new mask every step; locked: one mask per window, shared by its "
                        "steps (variational dropout), between layers and on the top output (LSTM, GRU, RNN)")
    m.add_argument("--metre", type=int, nargs="?", const=METRE_PERIOD, metavar="PERIOD",
                   help="tell the model where each step falls in the bar: an input of the phase, the time since "
                        "the piece began in grid units modulo PERIOD (default 16: a 4/4 bar of 16ths), read on "
                        "the tick grid the piece keeps; for a quantised MIDI-event corpus (`genrnn info` lists "
                        "its time grids)")
    t = p.add_argument_group("training")
    t.add_argument("--seq-len", type=int, help="TBPTT window length T")
    t.add_argument("--batch-size", type=int, help="streams per process B")
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--warmup", type=int, help="warmup steps")
    t.add_argument("--clip", type=float, help="gradient-norm clip (0 = off)")
    t.add_argument("--ema", type=float, metavar="DECAY",
                   help="validate and save a moving average of the weights, DECAY per step (e.g. 0.999; 0 = off)")
    t.add_argument("--seed", type=int)
    t.add_argument("--time-budget", type=float, metavar="SECONDS")
    t.add_argument("--max-steps", type=int, metavar="N")
    t.add_argument("--dtype", choices=DTYPES)
    t.add_argument("--eval-interval", type=float, metavar="SECONDS")
    t.add_argument("--eval-tokens", type=int, metavar="N",
                   help="validate on the first N tokens of the validation split (default 1,000,000; 0: all of it)")
    t.add_argument("--log-interval", type=int, metavar="STEPS")
    t.add_argument("--checkpoint-interval", type=float, metavar="SECONDS")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    add_device_args(p)
    p.set_defaults(func=run)


class ProgressCallback:
    """rich progress bar: step, loss, val loss, tok/s, ETA (rank 0 only)."""

    MIN_INTERVAL = 0.5  # seconds between redraws, made here between steps (no redraw thread)

    def __init__(self, progress: Progress, task: int) -> None:
        self.progress, self.task = progress, task
        self.val = "-"
        self._last = 0.0

    def on_step(self, info) -> None:  # noqa: ANN001
        now = time.monotonic()
        if now - self._last < self.MIN_INTERVAL and info.progress < 1.0:
            return
        self._last = now
        self.progress.update(self.task, completed=min(info.progress, 1.0) * 1000,
                             step=info.step, loss=f"{info.loss:.3f}", val=self.val,
                             toks=f"{info.tok_s / 1000:.1f}k", gn=f"{info.grad_norm:.2f}")
        self.progress.refresh()  # here, between steps: no redraw thread preempts the trainer's

    def on_eval(self, info) -> None:  # noqa: ANN001
        self.val = f"{info.val_loss:.3f}" + ("*" if info.best else "")

    def on_checkpoint(self, path: Path, kind: str) -> None:
        pass


def _overrides(args: argparse.Namespace, flags: dict[str, str]) -> dict:
    return {field: getattr(args, flag) for flag, field in flags.items()}


def _build_trainer(args: argparse.Namespace, callbacks: list):
    from genrnn import session  # torch loads here, not at `genrnn --help`

    if args.resume:
        return session.resume_trainer(args.resume, _overrides(args, TRAIN_FLAGS), callbacks,
                                      cache_dir=args.cache)
    if not args.out:
        raise ConfigError("--out DIR is required (where checkpoints and metrics.jsonl go)")
    out = out_dir_arg(args.out)
    assert out is not None
    if (out / "last.safetensors").exists() or (out / "metrics.jsonl").exists():
        if not args.force:
            raise ConfigError(f"--out {out}: already holds a run; use --resume {out}, --force, or another folder")
        for name in ("metrics.jsonl", "best.safetensors", "last.safetensors", "last.state.safetensors"):
            (out / name).unlink(missing_ok=True)
    corpus = session.prepare_corpus(text=args.text, recipe=args.corpus, cache_dir=args.cache,
                                    conditioned=args.conditioned)
    preset = args.preset or ("music" if corpus.meta.get("kind") == "midi_events" else "auto")
    return session.make_trainer(corpus, preset, _overrides(args, MODEL_FLAGS),
                                _overrides(args, TRAIN_FLAGS), out, callbacks, cache_dir=args.cache,
                                metre=args.metre or 0)


def run(args: argparse.Namespace) -> int:
    from genrnn.training import distributed

    main_rank = distributed.rank() == 0
    progress = Progress(TextColumn("[bold]train[/]"), BarColumn(), TextColumn("step {task.fields[step]}"),
                        TextColumn("loss {task.fields[loss]}"), TextColumn("val {task.fields[val]}"),
                        TextColumn("|g| {task.fields[gn]}"), TextColumn("{task.fields[toks]} tok/s"),
                        TimeRemainingColumn(), console=err, disable=not main_rank, transient=False,
                        auto_refresh=False)  # redrawn by ProgressCallback between steps
    task = progress.add_task("train", total=1000, step=0, loss="-", val="-", toks="-", gn="-")
    trainer = _build_trainer(args, [ProgressCallback(progress, task)])
    if main_rank:
        auto = trainer.record.get("auto")
        if auto:
            err.print(auto["reason"] + (" [calibration cached]" if auto.get("cached") else ""))
        c, t = trainer.model_cfg, trainer.cfg
        err.print(f"{c.cell} {c.layers}×{c.hidden} emb {c.embed} · {trainer.model_cfg.vocab_size} tokens · "
                  f"B{t.batch_size}×T{t.seq_len} × {trainer.world} proc · {trainer.dtype} on {trainer.device} · "
                  f"{len(trainer.corpus.train):,} train / {len(trainer.corpus.val):,} val tokens")
    try:
        with progress:
            result = trainer.fit()
    finally:
        distributed.shutdown()
    if not main_rank:
        return 0
    best = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "n/a"
    where = result.out_dir / "best.safetensors"
    if result.stopped_early:
        err.print(f"stopped at step {result.steps}: checkpoint saved to {result.out_dir / 'last.safetensors'} "
                  f"(continue with: genrnn train --resume {result.out_dir})")
    else:
        err.print(f"trained {result.steps} steps in {result.elapsed:.1f}s "
                  f"({result.tokens / max(result.elapsed, 1e-9):,.0f} tok/s); best val loss {best} nats/token; "
                  f"model at {where}")
    return 0



