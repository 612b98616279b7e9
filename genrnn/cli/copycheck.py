"""The copy check's options and lines, shared by ``genrnn sample --check-copies`` and ``genrnn eval``
(the search itself: genrnn/analysis/copies.py)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from rich.table import Table

from genrnn.analysis.copies import MUSIC_LIMIT_BEATS, TEXT_LIMIT_CHARS
from genrnn.cli._common import CACHE_HELP, err
from genrnn.errors import ConfigError

DEFAULT = -1.0  # --check-copies without a value: the model kind's limit

LIMIT_HELP = (f"MIDI-event models: in beats (quarter notes; default {MUSIC_LIMIT_BEATS}, two 4/4 bars), "
              f"transposition-invariant; text and ABC models: in characters (default {TEXT_LIMIT_CHARS}; "
              f"held-out Shakespeare shares up to ~31 of every 1,000 with its training split by chance)")


def add_args(p: argparse.ArgumentParser | Any, flag: bool) -> None:
    """``--check-copies [LIMIT]`` (``flag``, for sample) or ``--copy-limit`` (eval), and ``--train-data``."""
    if flag:
        p.add_argument("--check-copies", nargs="?", type=float, const=DEFAULT, default=None, metavar="LIMIT",
                       help="flag every sample holding a span copied verbatim from the training data longer "
                            "than LIMIT: " + LIMIT_HELP)
    else:
        p.add_argument("--copy-limit", type=float, default=None, metavar="LIMIT",
                       help="with --samples: count the samples whose longest copy from the training split is "
                            "longer than LIMIT: " + LIMIT_HELP)
    p.add_argument("--train-data", metavar="RECIPE|FILE",
                   help="the copy check's training data (default: the recipe or file the checkpoint names; "
                        "an event model's recipe gives its training pieces, a text file its first 90%%)")
    if flag and not any(a.dest == "cache" for a in getattr(p, "_actions", [])):
        p.add_argument("--cache", help=CACHE_HELP)


def open_checker(model: Any, train: str | None, cache: str | None) -> Any:
    """The model's copy check, with a line on stderr saying against what."""
    from genrnn.analysis.copies import copy_checker, training_data

    source = train or training_data(model)
    err.print(f"copy check: reading the training data, {source}")
    checker = copy_checker(model, source, cache)
    if checker.unit == "beats":
        err.print(f"copy check against {len(checker.names)} training pieces ({checker.index.size:,} note links)")
    else:
        err.print(f"copy check against {checker.index.size:,} training characters")
    return checker


def limit_of(checker: Any, given: float | None) -> float:
    limit = checker.default_limit if given is None or given == DEFAULT else given
    if limit <= 0:
        raise ConfigError(f"copy limit {limit:g}: expected a positive number of {checker.unit}")
    return float(limit)


def verdict(row: dict[str, Any], unit: str, limit: float) -> str:
    """One sample's line: its longest copy, and whether it is past the limit."""
    flag = "[bold red]COPIED[/] " if row[unit] > limit else ""
    if unit == "beats":
        if not row["events"]:
            return "copy check: nothing copied"
        return (f"copy check: {flag}longest copy {row['beats']:g} beats ({row['events']} notes) at "
                f"{row['seconds']:.1f} s, from {row['source']} beat {row['source_beat']:g}"
                f" (limit {limit:g})")
    return f"copy check: {flag}longest copy {row['chars']} chars (limit {limit:g}): {escape(repr(row['text']))}"


def tally(rows: list[dict[str, Any]], unit: str, limit: float) -> str:
    over = sum(r[unit] > limit for r in rows)
    return f"copy check: {over} of {len(rows)} samples copy more than {limit:g} {unit} from the training data"


def table(copies: dict[str, Any]) -> Table:
    """eval: the distribution of the longest copies, generated against the real reference."""
    unit, limit = copies["unit"], copies["limit"]
    gen, real = copies["summary"]["generated"], copies["summary"]["real"]
    table = Table(title=f"longest span copied from the training split ({copies['against']})",
                  caption=f"real: {copies['real_what']}; past the limit: more than {limit:g} {unit}"
                          + ("; events: notes, beats: quarter notes, in any key" if unit == "beats" else ""))
    for col in ("", "generated", "real"):
        table.add_column(col, justify="left" if not col else "right")
    for measure in ("beats", "events") if unit == "beats" else ("chars",):
        for stat in ("median", "p90", "max"):
            table.add_row(f"{measure} {stat}", f"{gen[measure][stat]:g}", f"{real[measure][stat]:g}")
    table.add_row("past the limit", f"{gen['over_limit']} of {len(copies['generated'])}",
                  f"{real['over_limit']} of {len(copies['real'])}")
    return table


def check(sample: object, args: argparse.Namespace) -> None:
    """``sample --check-copies``: one sample's longest copy (text or token ids, or the
    generated part of a piece), on stderr; flagged past the limit."""
    if getattr(args, "copy_check", None) is None:
        return
    checker, limit, rows = args.copy_check
    rows.append(checker.check(sample).row())
    err.print(verdict(rows[-1], checker.unit, limit))


def done(args: argparse.Namespace) -> int:
    """The count of samples past the limit, when there were several; 0 (the exit status)."""
    if getattr(args, "copy_check", None) is not None and len(args.copy_check[2]) > 1:
        checker, limit, rows = args.copy_check
        err.print(tally(rows, checker.unit, limit))
    return 0
