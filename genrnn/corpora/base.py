"""What every corpus source shares: the prepared token arrays, the held-out split by piece, and
the cache folder.

``$GENRNN_CACHE`` is the one cache root (default ``$XDG_CACHE_HOME/genrnn``, else
``~/.cache/genrnn``); each kind of prepared data has a folder of its own under it: ``corpora``
(recipes), ``text`` (text files and folders), ``downloads`` (text recipes' sources), ``calibration`` (``--preset auto``'s measurements),
``chorale-grids`` (the harmonizer's chorales). A ``--cache DIR`` option names another root.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.tokenizers.base import Tokenizer

CACHE_ENV = "GENRNN_CACHE"
CACHE_KINDS = ("corpora", "text", "downloads", "chorale-grids", "calibration")


@dataclass
class PreparedCorpus:
    """Token arrays ready for training.

    ``train`` and ``val`` are 1-D integer arrays, normally ``np.memmap`` views of cached .npy
    files (never Python lists), so a 100 MB corpus costs little resident memory.
    ``meta`` is JSON-able and lands in the checkpoint: at least ``source`` (file, folder or
    recipe path), ``sha256`` of the source contents, and ``kind`` ("text", "midi_events", "abc").
    """

    train: np.ndarray
    val: np.ndarray
    tokenizer: Tokenizer
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        return int(len(self.train) + len(self.val))


def cache_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root`` when given, else ``$GENRNN_CACHE``, else the user's cache folder's ``genrnn``."""
    if root is None:
        root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genrnn"
    return Path(root).expanduser()


def cache_folder(kind: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of one ``kind`` of prepared data under the cache root (``cache_root``)."""
    if kind not in CACHE_KINDS:
        raise ValueError(f"cache kind {kind!r}: expected one of {CACHE_KINDS}")
    return cache_root(root) / kind


def _name_hash(salt: str, name: str) -> str:
    return hashlib.sha256(f"{salt}:{name}".encode()).hexdigest()


def is_held_out(name: str, val_percent: float, salt: str = "genrnn") -> bool:
    """The fixed held-out split by piece: a salted hash of the piece's name, so the split is
    stable as pieces come and go, and every model trained on a source holds out the same ones."""
    return (int(_name_hash(salt, name)[:8], 16) % 10_000) < val_percent * 100


def held_out_names(names: Sequence[str], val_percent: float, salt: str = "genrnn") -> set[str]:
    """The held-out names (``is_held_out``); with two or more pieces there is at least one on
    each side (the piece whose hash comes lowest is held out if the percentage picked none)."""
    val = {n for n in names if is_held_out(n, val_percent, salt)}
    if len(names) >= 2 and val_percent > 0 and not val:
        val = {min(names, key=lambda n: _name_hash(salt, n))}
    if len(names) >= 2 and len(val) == len(names):
        val.discard(max(names, key=lambda n: _name_hash(salt, n)))
    return val
