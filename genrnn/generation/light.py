"""The NumPy back-end of the stream: an LSTM on the CPU with no PyTorch at all.

Importing PyTorch takes ~1.3 s on the 2-core box; reading a 15 MB bfloat16 checkpoint into
NumPy and priming it takes ~0.1 s. So an LSTM on the CPU (text, ABC tunes or MIDI events, with
or without labels) streams through ``NumpyLstm``, and the first characters, or the first .mid,
appear in a fraction of a second: the RNN's promise (constant work per step, state carried
forward) kept from the very first token. The maths is ``models/numpy_lstm.py``'s step, the
held labels ``models/labels.py``'s track; ``stream.Stream`` does the rest (grammar, guidance,
draw) for this back-end and the PyTorch one alike. The primer is fed one step at a time, so a
seed gives the same output here on every run, though not always bit-for-bit what the PyTorch
back-end's ``nn.LSTM`` priming would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrnn import fileformat
from genrnn.config import ModelConfig
from genrnn.models.info import ModelInfo
from genrnn.models.labels import LabelTrack
from genrnn.models.metre import MetreTrack
from genrnn.models.numpy_lstm import LstmArrays, lstm_step


def lstm_arrays(info: ModelInfo) -> LstmArrays:
    """An LSTM file's weights laid out for the NumPy step (shapes were checked by read_info)."""
    header = fileformat.read_header(info.path)
    tensors = fileformat.read_tensors(header)
    fileformat.check_finite(header.path, tensors)
    return LstmArrays.from_weights(tensors, info.config.layers)


class NumpyLstm:
    """``stream.Backend`` for an LSTM in NumPy arrays: h and c (L, B, H), the held labels and
    the metre's count."""

    def __init__(self, arrays: LstmArrays, config: ModelConfig, batch: int = 1) -> None:
        self.arrays = arrays
        self.config = config
        self.batch = batch
        self.track = LabelTrack.from_config(config)
        self.metre = MetreTrack.from_config(config)
        self.h = np.zeros((config.layers, batch, config.hidden), np.float32)
        self.c = np.zeros((config.layers, batch, config.hidden), np.float32)
        self.slots = self.track.empty(batch) if self.track is not None else None
        self.count = self.metre.empty(batch) if self.metre is not None else None

    @property
    def state(self) -> Any:
        """(h, c), then the held labels' slots (B, G) and the metre's count (B, M), where the
        model has them."""
        return (self.h, self.c, *(s for s in (self.slots, self.count) if s is not None))

    def step(self, tokens: np.ndarray) -> np.ndarray:
        ids = np.asarray(tokens, dtype=np.int64)
        if self.track is not None:
            self.slots = self.track.step(self.slots, ids)
        phase = None
        if self.metre is not None:
            self.count = self.metre.step(self.count, ids)
            phase = self.metre.phase(self.count)
        logits, self.h, self.c = lstm_step(self.arrays, ids, self.h, self.c, self.slots, phase)
        return logits

    def prime(self, ids: Sequence[int]) -> np.ndarray:
        logits = None
        for t in ids:
            logits = self.step(np.full(self.batch, int(t), dtype=np.int64))
        assert logits is not None, "a primer has at least one token"
        return logits

    def fresh(self) -> NumpyLstm:
        return NumpyLstm(self.arrays, self.config, self.batch)
