"""``genrnn tui``: the terminal app (the same as ``python tui.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tui", help="the terminal app: generate, steer, play, save and train")
    p.add_argument("--runs", type=Path, action="append", metavar="DIR",
                   help="folder of training runs to list and to train into (repeatable; default ./runs "
                        "and $GENRNN_RUNS)")
    p.add_argument("--checkpoints", type=Path, metavar="DIR", help="shipped checkpoints (default ./checkpoints)")
    p.add_argument("--save-dir", type=Path, metavar="DIR", help="where takes are saved (default ./takes)")
    p.set_defaults(func=run_tui)


def run_tui(args: argparse.Namespace) -> int:
    from genrnn.tui.app import GenrnnApp

    GenrnnApp(runs=args.runs, checkpoints=args.checkpoints, save_dir=args.save_dir).run()
    return 0
