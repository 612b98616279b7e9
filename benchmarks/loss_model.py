"""Recorded runs for ``--preset auto``'s loss model, and the fit (issue 17).

Each run trains genrnn's real loop (``Trainer``) for a fixed number of tokens ``D`` (cosine
schedule to the end, so the last validation is a finished run's loss), at one width ``N``, on
the first ``U`` characters of Tiny Shakespeare's training split, and validates on the whole
held-out split (the same 111 k characters for every run, so runs on a subset are comparable).
Loss against tokens does not depend on the machine's speed, so the runs may share the box;
only the calibration in ``genrnn/training/auto.py`` needs it quiet.

    python benchmarks/loss_model.py --corpus ../shared/data/tinyshakespeare.txt --records benchmarks/loss_model_runs.jsonl
    python benchmarks/loss_model.py --records benchmarks/loss_model_runs.jsonl --fit-only

The fit (``genrnn.training.auto.fit_loss_model``) is printed as the last line, one JSON object,
ready to paste into ``genrnn/training/auto.py``'s ``LOSS_MODEL``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

# (hidden, tokens seen, training characters). Full split = 1,003,854 characters.
GRID = [
    (128, 1_000_000, None), (256, 1_000_000, None), (384, 1_000_000, None),
    (128, 4_000_000, None), (256, 4_000_000, None), (192, 2_000_000, None), (192, 6_000_000, None),
    (128, 4_000_000, 100_000), (256, 1_000_000, 100_000), (256, 4_000_000, 100_000),
]


def log(msg: str) -> None:
    print(f"[loss-model] {msg}", file=sys.stderr, flush=True)


def run_one(corpus, hidden: int, tokens: int, chars: int | None, threads: int | None,  # noqa: ANN001
            train_overrides: dict | None = None) -> dict:
    from genrnn.corpora.base import PreparedCorpus
    from genrnn.session import make_trainer
    from genrnn.training.auto import AUTO_TRAIN, count_params

    train = corpus.train if chars is None else corpus.train[:chars]
    sub = PreparedCorpus(train=train, val=corpus.val, tokenizer=corpus.tokenizer, meta=dict(corpus.meta))
    train_cfg = {**AUTO_TRAIN, **(train_overrides or {})}
    steps = max(1, tokens // (train_cfg["batch_size"] * train_cfg["seq_len"]))
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(sub, "default", {"hidden": hidden, "layers": 2, "embed": 64, "dropout": 0.0},
                               {**train_cfg, "max_steps": steps,
                                "eval_interval": 1e8, "checkpoint_interval": 1e8, "eval_tokens": 0,
                                "threads": threads}, out)
        t0 = time.perf_counter()
        result = trainer.fit()
    if result.stopped_early:  # stopped mid-schedule (Ctrl-C): not a finished run's loss
        raise SystemExit(f"stopped at step {result.steps} of {steps}; nothing recorded")
    return {"hidden": hidden, "layers": 2, "params": count_params(len(corpus.tokenizer.chars), hidden, 2, 64),
            "tokens": result.tokens, "corpus_tokens": int(len(train)), "val_loss": round(result.last_val_loss, 4),
            "steps": result.steps, "train": train_overrides or {}, "dtype": result.metrics.get("dtype"), "wall_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--records", type=Path, required=True, help="JSON lines, one per finished run (appended)")
    ap.add_argument("--fit-only", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--part", default="0/1", help="K/M: run every M-th grid entry from K (two queues side by side)")
    ap.add_argument("--try", dest="trial", metavar="JSON",
                    help='one experiment instead of the grid, e.g. {"hidden": 256, "tokens": 2e6, "seq_len": 64}')
    args = ap.parse_args()
    if args.trial:
        from genrnn.corpora.text import prepare_text

        spec = json.loads(args.trial)
        hidden, tokens, chars = int(spec.pop("hidden")), int(spec.pop("tokens")), spec.pop("chars", None)
        row = run_one(prepare_text(args.corpus), hidden, tokens, chars, args.threads, spec)
        row.update(tokens_asked=tokens, chars_asked=chars, trial=True)
        with args.records.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row))
        return
    from genrnn.training.auto import fit_loss_model

    if not args.fit_only:
        from genrnn.corpora.text import prepare_text

        corpus = prepare_text(args.corpus)
        done = set()
        if args.records.exists():
            for line in args.records.read_text().splitlines():
                r = json.loads(line)
                done.add((r["hidden"], r["tokens_asked"], r["chars_asked"]))
        k, m = (int(x) for x in args.part.split("/"))
        for i, (hidden, tokens, chars) in enumerate(GRID):
            if i % m != k or (hidden, tokens, chars) in done:
                continue
            log(f"hidden {hidden}, {tokens:,} tokens, {chars or 'all'} chars")
            row = run_one(corpus, hidden, tokens, chars, args.threads)
            row.update(tokens_asked=tokens, chars_asked=chars)
            log(json.dumps(row))
            with args.records.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in args.records.read_text().splitlines()]
    print(json.dumps(fit_loss_model(rows)))


if __name__ == "__main__":
    main()
