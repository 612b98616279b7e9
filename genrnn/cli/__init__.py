"""``genrnn`` command line: one module per command family, each with ``register(subparsers)``.

This package and ``tui/`` are the only places that print or exit. Every ``GenrnnError`` becomes
one line on stderr and exit code 2; Ctrl-C becomes exit 130 without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from genrnn import __version__
from genrnn.errors import GenrnnError

# Command modules, in the order ``genrnn --help`` lists them. A module that is missing (a
# command family not built yet) is skipped, so each can land on its own.
COMMAND_MODULES = (
    "genrnn.cli.train",
    "genrnn.cli.sample",
    "genrnn.cli.evaluate",
    "genrnn.cli.corpus",
    "genrnn.cli.play",
    "genrnn.cli.jam",
    "genrnn.cli.features",
    "genrnn.cli.classify",
    "genrnn.cli.harmonize",
    "genrnn.cli.doctor",
    "genrnn.cli.tui",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genrnn",
        description="Train recurrent language models on text and MIDI; sample, play and save.",
    )
    parser.add_argument("--version", action="version", version=f"genrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    missing = []
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a command family not built yet
            if exc.name and exc.name.split(".")[0] == "genrnn":
                raise
            # A third-party package is missing (a partial install): the other commands work.
            missing.append(f"{name.rsplit('.', 1)[-1]} (needs the Python package {exc.name!r})")
            continue
        module.register(sub)
    if missing:
        parser.epilog = "unavailable here: " + "; ".join(missing) + ". Run `make setup`."
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GenrnnError as exc:
        print(f"genrnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `genrnn sample ... | head`: the reader went away; that is not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
