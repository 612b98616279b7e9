"""``genrnn eval`` and ``genrnn info``."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
from rich.table import Table

from genrnn import session
from genrnn.cli._common import add_device_args, out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="loss of a checkpoint on a text file (nats and bits per char)")
    p.add_argument("checkpoint")
    p.add_argument("--text", required=True, help="a UTF-8 text file or folder")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    add_device_args(p)
    p.set_defaults(func=run_eval)

    q = sub.add_parser("info", help="config, vocabulary, parameters and training record of a checkpoint")
    q.add_argument("checkpoint")
    q.add_argument("--json", action="store_true", help="print one JSON line")
    q.set_defaults(func=run_info)


def run_eval(args: argparse.Namespace) -> int:
    model = session.load_model(args.checkpoint, device=args.device or "cpu")
    corpus = session.prepare_corpus(text=args.text, tokenizer=model.tokenizer)
    data = np.load(corpus.meta["cache"], mmap_mode="r")
    nats = session.evaluate_model(model, data, seq_len=args.seq_len, device=args.device or "cpu")
    row = {"file": args.text, "tokens": int(len(data)), "nats_per_token": round(nats, 5),
           "bits_per_token": round(nats / math.log(2), 5)}
    if args.json:
        out.print(json.dumps(row))
    else:
        out.print(f"{args.text}: {row['nats_per_token']:.4f} nats/char, {row['bits_per_token']:.4f} bits/char "
                  f"over {row['tokens']:,} chars")
    return 0


def run_info(args: argparse.Namespace) -> int:
    info = session.checkpoint_info(args.checkpoint)
    if args.json:
        out.print(json.dumps(info, default=str))
        return 0
    cfg, tr = info["model_config"], info["training"]
    table = Table(title=str(args.checkpoint), show_header=False)
    rows = [("kind", tr.get("corpus", {}).get("kind", info["tokenizer"].get("kind"))),
            ("cell", cfg["cell"]), ("layers × hidden", f"{cfg['layers']} × {cfg['hidden']}"),
            ("embedding", cfg["embed"]), ("dropout", cfg["dropout"]),
            ("vocabulary", f"{cfg['vocab_size']} tokens ({info['tokenizer'].get('kind')})"),
            ("parameters", f"{info['parameters']:,}"), ("training steps", tr.get("steps")),
            ("tokens seen", f"{tr.get('tokens', 0):,}"), ("wall time", f"{tr.get('wall_time')} s"),
            ("val loss", tr.get("val_loss")), ("best val loss", tr.get("best_val_loss")),
            ("preset", tr.get("preset")), ("corpus", tr.get("corpus", {}).get("source")),
            ("corpus sha256", (tr.get("corpus", {}).get("sha256") or "")[:16]),
            ("machine", tr.get("machine")), ("genrnn", info.get("genrnn_version"))]
    for k, v in rows:
        table.add_row(k, str(v))
    out.print(table)
    return 0
