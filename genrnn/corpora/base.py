"""What every corpus source produces: train/val token arrays plus the tokenizer that made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrnn.tokenizers.base import Tokenizer


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
