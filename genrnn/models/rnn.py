"""The recurrent language model: embedding → recurrent cell stack → linear head.

One class for every cell (``getattr(nn, "LSTM")`` and friends, after pytorch/examples'
word_language_model). ``cell="none"`` is the one-to-one baseline: the same model with the
recurrence removed, so the next token depends on the current token only. ``cell="mingru"`` is
the parallel-scan cell of models/mingru.py.

State is always a tuple of tensors, each ``(layers, B, H)``: ``(h, c)`` for LSTM, ``(h,)``
for GRU, vanilla RNNs and minGRU, ``()`` for ``none``. It is what a stream carries forward.
A model with labels (``config.cond_ids``, models/labels.py) or a metre input
(``config.metre_period``, models/metre.py) carries one more tensor at the end, the *held*
state ``(1, B, G + M)``: the label in force for each of its G kinds, then the metre's count (t
and a flag per tick grid); the labels' and the phase's embeddings are added to every step's
input.
"""

from __future__ import annotations

import torch
from torch import nn

from genrnn.config import ModelConfig
from genrnn.models.labels import LabelTrack
from genrnn.models.metre import MetreTrack
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
        self.locked = c.dropout_mode == "locked" and c.cell in _TORCH_CELLS
        if c.vocab_size < 1:
            raise ValueError("ModelConfig.vocab_size must be set before building a model")
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.labels = LabelTrack.from_config(c)
        if self.labels is not None:
            # Row 0 is "no label of this kind"; the lookup tables follow the module's device.
            self.cond_embed = nn.Embedding(len(c.cond_ids) + 1, c.embed, padding_idx=0)
            self.register_buffer("_slot_of", torch.from_numpy(self.labels.slot_of), persistent=False)
            self.register_buffer("_group_of", torch.from_numpy(self.labels.group_of), persistent=False)
            self.register_buffer("_is_reset", torch.from_numpy(self.labels.is_reset), persistent=False)
        self.metre = MetreTrack.from_config(c)
        if self.metre is not None:
            self.metre_embed = nn.Embedding(self.metre.phases, c.embed)
            m = self.metre
            for name, table in (("_m_steps", m.steps_of), ("_m_note", m.is_note), ("_m_reset", m.is_reset),
                                ("_m_grids", m.grids)):
                self.register_buffer(name, torch.from_numpy(table), persistent=False)
        self.label_width = self.labels.groups if self.labels is not None else 0
        self.held_width = self.label_width + (self.metre.width if self.metre is not None else 0)
        if c.cell == "none":
            self.rnn: nn.Module = FeedForwardStack(c.embed, c.hidden, c.layers, c.dropout)
        elif c.cell == "mingru":
            self.rnn = MinGRUStack(c.embed, c.hidden, c.layers, c.dropout if c.layers > 1 else 0.0)
        else:
            cls_name, extra = _TORCH_CELLS[c.cell]
            between = c.dropout if c.layers > 1 and not self.locked else 0.0
            self.rnn = getattr(nn, cls_name)(c.embed, c.hidden, c.layers, batch_first=True,
                                             dropout=between, **extra)
            if self.locked:  # shapes only (meta: no memory), never registered: run by functional_call
                self._layer_shapes = tuple(getattr(nn, cls_name)(n_in, c.hidden, 1, batch_first=True,
                                                                 device="meta", **extra)
                                           for n_in in (c.embed, c.hidden))
        self.out_p = c.dropout if c.out_dropout is None else c.out_dropout
        self.drop = nn.Dropout(self.out_p)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        # PyTorch's defaults otherwise; why: benchmarks/README.md ("Initialisation").
        if self.labels is not None:  # labels: a small nudge beside the token embedding
            with torch.no_grad():
                self.cond_embed.weight.normal_(0.0, 0.1)
                self.cond_embed.weight[0].zero_()
        if self.metre is not None:  # the phase: a nudge of the same size
            with torch.no_grad():
                self.metre_embed.weight.normal_(0.0, 0.1)
        if self.config.cell == "rnn_relu":  # 0.5·I recurrent weights: no explosion at the start
            for name, p in self.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    with torch.no_grad():
                        p.copy_(torch.eye(p.shape[0]) * 0.5)

    @property
    def num_rnn_state(self) -> int:
        """State tensors of the recurrence itself (h, c): 2 for LSTM, 0 for ``none``."""
        return {"lstm": 2, "none": 0}.get(self.config.cell, 1)

    @property
    def num_state_tensors(self) -> int:
        return self.num_rnn_state + (self.held_width > 0)

    def init_state(self, batch: int, device: torch.device | str | None = None) -> State:
        c = self.config
        dev = device or self.head.weight.device
        rnn = tuple(torch.zeros(c.layers, batch, c.hidden, device=dev) for _ in range(self.num_rnn_state))
        if not self.held_width:
            return rnn
        held = torch.zeros(1, batch, self.held_width, device=dev)
        if self.metre is not None:
            held[0, :, self.label_width:] = torch.from_numpy(self.metre.empty(batch)).float()
        return (*rnn, held)

    def active_labels(self, tokens: torch.Tensor, carried: torch.Tensor) -> torch.Tensor:
        """tokens (B, T), carried slots (B, G) → the slots in force at every step (B, T, G),
        the token at t included (models/labels.py), in one pass of cumulative maxima."""
        pos = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        none = torch.full_like(pos, -1)
        last_reset = torch.where(self._is_reset[tokens], pos, none).cummax(dim=1).values
        slots = self._slot_of[tokens]
        group = self._group_of[tokens]
        out = []
        for g in range(carried.shape[1]):
            last = torch.where(group == g, pos, none).cummax(dim=1).values
            held = torch.where(last_reset >= 0, torch.zeros_like(pos), carried[:, g: g + 1].expand_as(pos))
            out.append(torch.where(last > last_reset, slots.gather(1, last.clamp(min=0)), held))
        return torch.stack(out, dim=2)

    def active_metre(self, tokens: torch.Tensor, carried: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T), carried metre state (B, 1 + grids) → the phase after each token (B, T)
        and the state after the last (models/metre.py's ``step`` and ``phase``, per window)."""
        pos = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        last_reset = torch.where(self._m_reset[tokens], pos, torch.full_like(pos, -1)).cummax(dim=1).values
        elapsed = self._m_steps[tokens].cumsum(dim=1)
        since = elapsed - elapsed.gather(1, last_reset.clamp(min=0))  # a reset moves no time
        t = torch.where(last_reset >= 0, since, carried[:, :1] + elapsed)  # (B, T)
        on = (t.unsqueeze(2) % self._m_grids) == 0  # (B, T, grids)
        bad = self._m_note[tokens].unsqueeze(2) & ~on
        last_bad = torch.where(bad, pos.unsqueeze(2), torch.full_like(bad, -1, dtype=pos.dtype)).cummax(dim=1).values
        reset = last_reset.unsqueeze(2)
        kept = (last_bad <= reset) & ((reset >= 0) | carried[:, None, 1:].bool())
        fits = kept & on
        grid = self._m_grids[fits.to(torch.uint8).argmax(dim=2)]
        phase = torch.where(fits.any(dim=2), torch.div(t, grid, rounding_mode="floor") % self.metre.period,
                            torch.full_like(t, self.metre.period))
        return phase, torch.cat([t[:, -1:], kept[:, -1].long()], dim=1)

    def _held_inputs(self, tokens: torch.Tensor, held: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The labels' and the phase's embeddings for every step (B, T, E), and the held state
        after the window (B, G + M)."""
        extra = torch.zeros((), device=tokens.device)
        after = []
        held = held.long()
        if self.labels is not None:
            active = self.active_labels(tokens, held[:, :self.label_width])  # (B, T, G)
            extra = extra + self.cond_embed(active).sum(dim=2)
            after.append(active[:, -1])
        if self.metre is not None:
            phase, carried = self.active_metre(tokens, held[:, self.label_width:])
            extra = extra + self.metre_embed(phase)
            after.append(carried)
        return extra, torch.cat(after, dim=1)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens (B, T) → logits (B, T, V), new state."""
        if state is None or len(state) == 0:
            state = self.init_state(tokens.shape[0], tokens.device)
        x = self.embed(tokens)  # (B, T, E)
        label_state: tuple[torch.Tensor, ...] = ()
        if self.held_width:
            extra, after = self._held_inputs(tokens, state[-1][0])
            x = x + extra
            label_state = (after.to(state[-1].dtype).unsqueeze(0),)
            state = state[:-1]
        if self.config.cell == "none":
            y, new_state = self.rnn(x)
        else:
            hx = state if self.config.cell == "lstm" else state[0]
            hx = tuple(s.to(x.dtype) for s in hx) if isinstance(hx, tuple) else hx.to(x.dtype)
            if self.locked and self.training:
                y, new_state = self._locked_layers(x, hx)
            else:
                y, out = self.rnn(x, hx)  # y: (B, T, H)
                new_state = tuple(out) if isinstance(out, tuple) else (out,)
        y = locked_dropout(y, self.out_p) if self.locked and self.training else self.drop(y)
        logits = self.head(y)  # (B, T, V)
        return logits, (*new_state, *label_state)

    def _locked_layers(self, x: torch.Tensor, hx: torch.Tensor | tuple[torch.Tensor, ...]
                       ) -> tuple[torch.Tensor, State]:
        """The stack a layer at a time (one fused call each, the stack's own weights), with a
        locked dropout mask between layers: what nn.LSTM's ``dropout`` does, but one mask per
        window instead of one per step."""
        lstm = self.config.cell == "lstm"
        parts: list[State] = []
        for k in range(self.config.layers):
            shape = self._layer_shapes[min(k, 1)]
            weights = {name: getattr(self.rnn, name[:-1] + str(k)) for name, _ in shape.named_parameters()}
            h0 = (hx[0][k:k + 1], hx[1][k:k + 1]) if lstm else hx[k:k + 1]
            x, out = torch.func.functional_call(shape, weights, (x, h0))
            parts.append(tuple(out) if lstm else (out,))
            if k < self.config.layers - 1:
                x = locked_dropout(x, self.config.dropout)
        return x, tuple(torch.cat(group) for group in zip(*parts, strict=True))

    def step(self, token: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One token per stream, (B,) → logits (B, V): O(1) work, the state carried."""
        logits, state = self.forward(token.view(-1, 1), state)
        return logits[:, -1], state


def locked_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout of x (B, T, H) with one mask per stream, the same at every step."""
    if p <= 0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p).div_(1 - p)
    return x * mask


def detach_state(state: State) -> State:
    return tuple(s.detach() for s in state)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
