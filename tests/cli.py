"""What the CLI tests share: genrnn run in this process, a tiny classifier's flags, and the small
recipes they train on."""

from __future__ import annotations

import contextlib
import io

from genrnn.cli import main

# A classifier small enough to train in seconds.
TINY = ["--hidden", "16", "--embed", "8", "--window", "64", "--batch", "8", "--threads", "1"]

# 40 of O'Neill's tunes (music21's ABC corpus), a fifth held out: an ABC model trains on it.
FEW_TUNES = ('source = "music21-abc"\ntokenizer = "chars"\ncollections = ["oneills1850"]\n'
             'limit = 40\nval_percent = 20\n')


def chorale_recipe(transpose: tuple[int, int] = (-1, 1)) -> str:
    """8 real chorales from music21's corpus, half held out, transposed within ``transpose``."""
    return ('source = "music21-chorales"\ntokenizer = "midi_events"\nlimit = 8\n'
            f'val_percent = 50\nsplit_salt = "genrnn"\ntranspose = [{transpose[0]}, {transpose[1]}]\n')


def run_cli(*args: object) -> tuple[int, str, str]:
    """``genrnn ARGS`` in this process: (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help and usage errors
            code = int(exc.code or 0)
    return code, stdout.getvalue(), stderr.getvalue()
