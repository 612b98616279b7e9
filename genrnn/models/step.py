"""A fast single-token step for generation, with the same numbers as ``model.step``.

Calling ``nn.LSTM`` on a sequence of length one pays for a whole sequence kernel's set-up
(≈0.8 ms on a 2-core CPU with oneDNN). Generation only ever needs one step, so this module
precomputes, once per stream:

- layer 0's input projection for every token (``embed @ W_ih0ᵀ + b``): a (V, G·H) table, so
  the first layer's input costs a row lookup;
- for deeper layers, ``[W_ih; W_hh]ᵀ`` fused into one matrix, so each layer is one ``addmm``
  (GRU keeps the two halves apart, as its candidate gate needs ``r ⊙ (W_hn h + b_hn)``).

minGRU (models/mingru.py) has no hidden-to-hidden weights: its step is a row lookup (layer 0)
or one ``addmm`` (deeper layers) and a lerp.

The work per token is a fixed handful of small matrix-vector products: O(1), whatever the
position. Weights are snapshotted: build a new FusedStep after the model changes.

``TorchStep`` wraps it as the stream's PyTorch back-end (generation/stream.py): the model's
state on its device, primed through the whole model in one call, then one step per token. An
LSTM on the CPU takes the NumPy back-end instead (generation/light.py): each PyTorch op costs a
few microseconds of dispatch, NumPy's well under one, and a one-token step is ~20 tiny ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genrnn.models.mingru import sequential_step
from genrnn.models.rnn import RNNLanguageModel, State


class FusedStep:
    def __init__(self, model: RNNLanguageModel) -> None:
        self.model = model
        self.cell = model.config.cell
        self.layers = model.config.layers
        with torch.no_grad():
            self._build()

    def _weights(self, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        rnn = self.model.rnn
        return (getattr(rnn, f"weight_ih_l{layer}").detach().float(), getattr(rnn, f"weight_hh_l{layer}").detach().float(),
                getattr(rnn, f"bias_ih_l{layer}").detach().float(), getattr(rnn, f"bias_hh_l{layer}").detach().float())

    def _build(self) -> None:
        self.track = self.model.labels  # labels held at every step (models/labels.py), or None
        self.metre = self.model.metre  # the metre input (models/metre.py), or None
        self._extra: torch.Tensor | None = None  # this step's label rows for layer 0's input
        emb = self.model.embed.weight.detach().float()  # (V, E)
        self.head_w = self.model.head.weight.detach().float().t().contiguous()  # (H, V)
        self.head_b = self.model.head.bias.detach().float()
        self.emb = emb
        if self.cell == "none":
            return
        if self.cell == "mingru":
            self._build_mingru()
            return
        self.w_hh: list[torch.Tensor] = []
        self.w_cat: list[torch.Tensor] = []
        self.b: list[torch.Tensor] = []
        self.w_ih: list[torch.Tensor] = []
        self.b_ih: list[torch.Tensor] = []
        self.b_hh: list[torch.Tensor] = []
        for layer in range(self.layers):
            w_ih, w_hh, b_ih, b_hh = self._weights(layer)
            self.w_ih.append(w_ih.t().contiguous())
            self.w_hh.append(w_hh.t().contiguous())
            self.b_ih.append(b_ih)
            self.b_hh.append(b_hh)
            self.w_cat.append(torch.cat([w_ih, w_hh], dim=1).t().contiguous())  # (in+H, G·H)
            self.b.append(b_ih + b_hh)
        if self.cell == "lstm":
            # Reorder gate columns from torch's [i, f, g, o] to [i, f, o, g]: one sigmoid over
            # the first 3H columns and one tanh over the last H per layer.
            h = self.model.config.hidden
            order = torch.cat([torch.arange(0, 2 * h), torch.arange(3 * h, 4 * h), torch.arange(2 * h, 3 * h)])
            self.w_hh = [w[:, order].contiguous() for w in self.w_hh]
            self.w_ih = [w[:, order].contiguous() for w in self.w_ih]
            self.w_cat = [w[:, order].contiguous() for w in self.w_cat]
            self.b = [b[order] for b in self.b]
        if self.cell == "gru":
            self.table0 = emb @ self.w_ih[0] + self.b_ih[0]  # (V, 3H)
        else:
            self.table0 = emb @ self.w_ih[0] + self.b[0]  # (V, G·H)
        self._build_labels()

    def _build_mingru(self) -> None:
        projs = self.model.rnn.proj
        self.w_ih = [p.weight.detach().float().t().contiguous() for p in projs]  # (in, 2H)
        self.b_ih = [p.bias.detach().float() for p in projs]
        self.table0 = self.emb @ self.w_ih[0] + self.b_ih[0]  # (V, 2H)
        self._build_labels()

    def _build_labels(self) -> None:
        if self.track is not None:  # each label's share of layer 0's input projection, no bias
            self.cond_table = self.model.cond_embed.weight.detach().float() @ self.w_ih[0]  # (K+1, G·H)
        if self.metre is not None:  # each phase's share, likewise
            self.metre_table = self.model.metre_embed.weight.detach().float() @ self.w_ih[0]  # (P+1, G·H)

    def _row0(self, tokens: torch.Tensor) -> torch.Tensor:
        """Layer 0's input projection for ``tokens``, with the labels in force added."""
        return self.table0[tokens] if self._extra is None else self.table0[tokens] + self._extra

    def __call__(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """tokens (B,) → logits (B, V), new state."""
        if not self.model.held_width or self.cell == "none":
            return self._call(tokens, state)
        held = state[-1][0].cpu().numpy().astype(np.int64)  # (B, G + M)
        ids = tokens.cpu().numpy()
        dev = self.table0.device
        parts, extra = [], torch.zeros((), device=dev)
        if self.track is not None:
            slots = self.track.step(held[:, :self.model.label_width], ids)  # (B, G)
            extra = extra + self.cond_table[torch.from_numpy(slots).to(dev)].sum(dim=1)
            parts.append(slots)
        if self.metre is not None:
            count = self.metre.step(held[:, self.model.label_width:], ids)  # (B, M)
            extra = extra + self.metre_table[torch.from_numpy(self.metre.phase(count)).to(dev)]
            parts.append(count)
        self._extra = extra
        logits, new = self._call(tokens, state[:-1])
        return logits, (*new, torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32)[None]).to(dev))

    def _call(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        with torch.inference_mode():
            return self._torch_step(tokens, state)

    def _torch_step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        if self.cell == "none":
            return self.model.step(tokens, state)
        if self.cell == "lstm":
            h_out, c_out = self._lstm(tokens, state[0], state[1])
            new: State = (h_out, c_out)
        elif self.cell == "gru":
            new = (self._gru(tokens, state[0]),)
        elif self.cell == "mingru":
            new = (self._mingru(tokens, state[0]),)
        else:
            new = (self._rnn(tokens, state[0]),)
        top = new[0][-1]  # (B, H)
        return torch.addmm(self.head_b, top, self.head_w), new

    def _lstm(self, tokens: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hs, cs = [], []
        x = None
        for layer in range(self.layers):
            if layer == 0:
                gates = torch.addmm(self._row0(tokens), h[0].float(), self.w_hh[0])
            else:
                gates = torch.addmm(self.b[layer], torch.cat([x, h[layer].float()], dim=1), self.w_cat[layer])
            hidden = gates.shape[1] // 4
            sig = torch.sigmoid(gates[:, : 3 * hidden])
            i, f, o = sig.chunk(3, dim=1)
            c_new = torch.addcmul(f * c[layer], i, torch.tanh(gates[:, 3 * hidden:]))
            x = o * torch.tanh(c_new)
            hs.append(x)
            cs.append(c_new)
        return torch.stack(hs), torch.stack(cs)

    def _gru(self, tokens: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        hs = []
        x = None
        for layer in range(self.layers):
            hl = h[layer].float()
            gi = self._row0(tokens) if layer == 0 else torch.addmm(self.b_ih[layer], x, self.w_ih[layer])
            gh = torch.addmm(self.b_hh[layer], hl, self.w_hh[layer])
            i_r, i_z, i_n = gi.chunk(3, dim=1)
            h_r, h_z, h_n = gh.chunk(3, dim=1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            x = (1 - z) * n + z * hl
            hs.append(x)
        return torch.stack(hs)

    def _mingru(self, tokens: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        hs = []
        x = None
        for layer in range(self.layers):
            pre = self._row0(tokens) if layer == 0 else torch.addmm(self.b_ih[layer], x, self.w_ih[layer])
            k, pre_h = pre.chunk(2, dim=1)
            x = sequential_step(k, pre_h, h[layer].float())
            hs.append(x)
        return torch.stack(hs)

    def _rnn(self, tokens: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        act = torch.tanh if self.cell == "rnn_tanh" else torch.relu
        hs = []
        x = None
        for layer in range(self.layers):
            hl = h[layer].float()
            if layer == 0:
                pre = torch.addmm(self._row0(tokens), hl, self.w_hh[0])
            else:
                pre = torch.addmm(self.b[layer], torch.cat([x, hl], dim=1), self.w_cat[layer])
            x = act(pre)
            hs.append(x)
        return torch.stack(hs)


class TorchStep:
    """``stream.Backend`` in PyTorch: a model's state on its device, one ``FusedStep`` per token."""

    def __init__(self, model: RNNLanguageModel, batch: int = 1, fused: FusedStep | None = None) -> None:
        self.model = model.eval()
        self.batch = batch
        self.device = next(model.parameters()).device
        self._step = fused or FusedStep(model)
        self.state: State = model.init_state(batch, self.device)

    @torch.inference_mode()
    def prime(self, ids: Sequence[int]) -> np.ndarray:
        x = torch.tensor(list(ids), dtype=torch.long, device=self.device).unsqueeze(0).expand(self.batch, -1)
        logits, self.state = self.model(x, self.state)  # (B, T, V)
        return logits[:, -1].float().cpu().numpy()

    def step(self, tokens: np.ndarray) -> np.ndarray:
        ids = torch.from_numpy(np.asarray(tokens, dtype=np.int64)).to(self.device)
        logits, self.state = self._step(ids, self.state)
        return logits.float().cpu().numpy()

    def fresh(self) -> TorchStep:
        return TorchStep(self.model, self.batch, self._step)
