"""Helpers shared by the command modules: consoles, common arguments, checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from genrnn.errors import ConfigError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(payload: Any) -> None:
    """One JSON line on stdout, as written: never through rich, whose markup would eat a
    ``[ce]`` (an ABC chord in a copied span) or raise on a ``[/g]``."""
    print(json.dumps(payload, default=str), flush=True)


CACHE_HELP = "cache root for prepared corpora (default $GENRNN_CACHE, else ~/.cache/genrnn)"


def add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")


def out_dir_arg(value: str | None) -> Path | None:
    """``--out`` must be a folder (created if missing), never an existing file."""
    if value is None:
        return None
    p = Path(value)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out {p}: is a file; expected a folder")
    p.mkdir(parents=True, exist_ok=True)
    return p


def read_text_file(path: str, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {p}: no such file")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {p}: not UTF-8 text (byte offset {exc.start})") from None
