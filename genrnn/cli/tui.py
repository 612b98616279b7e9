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


# The GIL is handed over every 0.5 ms instead of Python's 5 ms. The stream's worker thread
# takes it back after each NumPy call (~20 a token); while the UI thread renders a frame
# (~15 ms of Python), each of those waits could last a whole switch interval.
GIL_SWITCH_INTERVAL = 0.0005


def run_tui(args: argparse.Namespace) -> int:
    import sys

    from genrnn.tui.app import GenrnnApp

    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    GenrnnApp(runs=args.runs, checkpoints=args.checkpoints, save_dir=args.save_dir).run()
    return 0
