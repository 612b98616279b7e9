"""The copy check's options and lines, shared by ``genrnn sample --check-copies`` and ``genrnn eval``
(the search itself: genrnn/analysis/copies.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

from genrnn.cli._common import CACHE_HELP, err
from genrnn.config import MUSIC_LIMIT_BEATS, TEXT_LIMIT_CHARS
from genrnn.errors import ConfigError

DEFAULT = -1.0  # --check-copies without a value: the model kind's limit

LIMIT_HELP = (f"MIDI-event models: in beats (quarter notes; default {MUSIC_LIMIT_BEATS}, two 4/4 bars), "
              f"transposition-invariant; text and ABC models: in characters (default {TEXT_LIMIT_CHARS}; "
              f"held-out Shakespeare shares up to ~31 of every 1,000 with its training split by chance)")


def _train_data_arg(p: argparse.ArgumentParser | Any) -> None:
    p.add_argument("--train-data", metavar="RECIPE|FILE",
                   help="the copy check's training data (default: the recipe or file the checkpoint names; "
                        "an event model's recipe gives its training pieces, a text file its first 90%%)")


def add_sample_args(p: argparse.ArgumentParser | Any) -> None:
    """``sample --check-copies [LIMIT]``, ``--train-data`` and the cache they read."""
    p.add_argument("--check-copies", nargs="?", type=float, const=DEFAULT, default=None, metavar="LIMIT",
                   help="flag every sample holding a span copied verbatim from the training data longer "
                        "than LIMIT: " + LIMIT_HELP)
    _train_data_arg(p)
    p.add_argument("--cache", help=CACHE_HELP)


def add_eval_args(p: argparse.ArgumentParser | Any) -> None:
    """``eval --copy-limit LIMIT`` and ``--train-data`` (eval has its own ``--cache``)."""
    p.add_argument("--copy-limit", type=float, default=None, metavar="LIMIT",
                   help="with --samples: count the samples whose longest copy from the training split is "
                        "longer than LIMIT: " + LIMIT_HELP)
    _train_data_arg(p)


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


@dataclass
class CopyCheck:
    """``sample --check-copies``: each sample's longest copy on stderr, flagged past the limit,
    and the count at the end."""

    checker: Any
    limit: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    def check(self, sample: object) -> None:
        """One sample (text or token ids, or the generated part of a piece)."""
        self.rows.append(self.checker.check(sample).row())
        err.print(verdict(self.rows[-1], self.checker.unit, self.limit))

    def done(self) -> None:
        """The count of samples past the limit, when there were several."""
        if len(self.rows) > 1:
            err.print(tally(self.rows, self.checker.unit, self.limit))


def check(sample: object, args: argparse.Namespace) -> None:
    """``CopyCheck.check`` when ``sample`` was asked for ``--check-copies``."""
    if args.copy_check is not None:
        args.copy_check.check(sample)
