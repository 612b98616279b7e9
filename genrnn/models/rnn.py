"""The recurrent language model: embedding → recurrent cell stack → linear head.

One class for every cell (``getattr(nn, "LSTM")`` and friends, after pytorch/examples'
word_language_model). ``cell="none"`` is the one-to-one baseline: the same model with the
recurrence removed, so the next token depends on the current token only. ``cell="mingru"`` is
the parallel-scan cell of models/mingru.py.

State is always a tuple of tensors, each ``(layers, B, H)``: ``(h, c)`` for LSTM, ``(h,)``
for GRU, vanilla RNNs and minGRU, ``()`` for ``none``. It is what the Generator carries forward.
"""

from __future__ import annotations

import torch
from torch import nn

from genrnn.config import ModelConfig
from genrnn.models.mingru import MinGRUStack

State = tuple[torch.Tensor, ...]

_TORCH_CELLS = {"lstm": ("LSTM", {}), "gru": ("GRU", {}),
                "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
                "rnn_relu": ("RNN", {"nonlinearity": "relu"})}


class FeedForwardStack(nn.Module):
    """The 'none' cell: per-position MLP, no memory. Same interface as nn.LSTM/GRU/RNN."""

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        dims = [input_size] + [hidden] * layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state: object = None) -> tuple[torch.Tensor, State]:
        for i, layer in enumerate(self.layers):
            x = torch.tanh(layer(x))
            if i < len(self.layers) - 1:
                x = self.drop(x)
        return x, ()


class RNNLanguageModel(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.vocab_size < 1:
            raise ValueError("ModelConfig.vocab_size must be set before building a model")
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        if c.cell == "none":
            self.rnn: nn.Module = FeedForwardStack(c.embed, c.hidden, c.layers, c.dropout)
        elif c.cell == "mingru":
            self.rnn = MinGRUStack(c.embed, c.hidden, c.layers, c.dropout if c.layers > 1 else 0.0)
        else:
            cls_name, extra = _TORCH_CELLS[c.cell]
            self.rnn = getattr(nn, cls_name)(c.embed, c.hidden, c.layers, batch_first=True,
                                             dropout=c.dropout if c.layers > 1 else 0.0, **extra)
        self.drop = nn.Dropout(c.dropout if c.out_dropout is None else c.out_dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        # PyTorch's defaults otherwise. Measured on Tiny Shakespeare (150 steps, reference
        # config): a forget-gate bias of 1 or a narrower embedding each cost ~0.1 nats/char in
        # short budgets, so neither is used.
        if self.config.cell == "rnn_relu":
            # Identity recurrent init keeps ReLU RNNs from exploding at the start (Le et al., 2015).
            for name, p in self.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    with torch.no_grad():
                        p.copy_(torch.eye(p.shape[0]) * 0.5)

    @property
    def num_state_tensors(self) -> int:
        return {"lstm": 2, "none": 0}.get(self.config.cell, 1)

    def init_state(self, batch: int, device: torch.device | str | None = None) -> State:
        c = self.config
        dev = device or self.head.weight.device
        return tuple(torch.zeros(c.layers, batch, c.hidden, device=dev) for _ in range(self.num_state_tensors))

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens (B, T) → logits (B, T, V), new state."""
        x = self.embed(tokens)  # (B, T, E)
        if self.config.cell == "none":
            y, new_state = self.rnn(x)
        else:
            if state is None or len(state) == 0:
                state = self.init_state(tokens.shape[0], tokens.device)
            hx = state if self.config.cell == "lstm" else state[0]
            hx = tuple(s.to(x.dtype) for s in hx) if isinstance(hx, tuple) else hx.to(x.dtype)
            y, out = self.rnn(x, hx)  # y: (B, T, H)
            new_state = tuple(out) if isinstance(out, tuple) else (out,)
        logits = self.head(self.drop(y))  # (B, T, V)
        return logits, new_state

    def step(self, token: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One token per stream, (B,) → logits (B, V): O(1) work, the state carried."""
        logits, state = self.forward(token.view(-1, 1), state)
        return logits[:, -1], state


def detach_state(state: State) -> State:
    return tuple(s.detach() for s in state)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
