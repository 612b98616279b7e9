"""Batches for stateful truncated BPTT: B contiguous streams walking through the corpus.

Stream b owns ``data[b*L : (b+1)*L]``; window i of every stream is the next T tokens, so the
hidden state at the end of one window is the right start for the next. Rows are gathered
from the (memory-mapped) array with one fancy index per window: nothing is copied up front.
"""

from __future__ import annotations

import numpy as np
import torch

from genrnn.errors import CorpusError


def check_batchable(tokens: int, streams: int, seq_len: int, name: str = "corpus") -> None:
    """Raise unless ``tokens`` make at least one window of ``streams`` × ``seq_len`` (+1)."""
    if tokens // max(streams, 1) < seq_len + 1:
        raise CorpusError(
            f"{name}: {tokens} tokens is shorter than one batch "
            f"({streams} streams × {seq_len + 1} tokens = {streams * (seq_len + 1)}); "
            f"use a smaller --batch-size or --seq-len, or more text")


class StreamBatcher:
    def __init__(self, data: np.ndarray, streams: int, seq_len: int, *, first_stream: int = 0,
                 total_streams: int | None = None, name: str = "corpus") -> None:
        total = total_streams or streams
        self.data = data
        self.seq_len = seq_len
        check_batchable(len(data), total, seq_len, name)
        self.stream_len = len(data) // total
        self.starts = (np.arange(first_stream, first_stream + streams) * self.stream_len)[:, None]
        self.windows_per_epoch = (self.stream_len - 1) // seq_len
        self._offsets = np.arange(seq_len + 1)[None, :]

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Window ``index`` (global step): inputs (B, T), targets (B, T), epoch_start flag."""
        i = index % self.windows_per_epoch
        rows = np.asarray(self.data[self.starts + i * self.seq_len + self._offsets], dtype=np.int64)
        t = torch.from_numpy(rows)
        return t[:, :-1], t[:, 1:], i == 0


class EvalStreams:
    """A validation array as equal contiguous streams, read a window at a time (a large split
    is never materialised: memory stays at one window whatever the corpus)."""

    def __init__(self, data: np.ndarray, seq_len: int, streams: int = 32) -> None:
        self.data = data
        self.streams = max(1, min(streams, (len(data) - 1) // max(seq_len, 1)))
        self.length = (len(data) - 1) // self.streams  # each stream also needs its next token
        self._starts = (np.arange(self.streams) * self.length)[:, None]

    def window(self, start: int, end: int) -> np.ndarray:
        """Tokens ``start .. end`` (inclusive: the last is the final target) of every stream, (B, end-start+1)."""
        return np.asarray(self.data[self._starts + np.arange(start, end + 1)[None, :]], dtype=np.int64)
