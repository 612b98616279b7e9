"""One LSTM step in NumPy, on weights laid out for it (no PyTorch needed).

Layout (built by ``LstmArrays.from_weights`` from the ``nn.LSTM`` weights, or by ``FusedStep``
from live parameters): gate columns reordered from PyTorch's [i, f, g, o] to [i, f, o, g] so
one tanh-based sigmoid covers 3H columns; layer 0's input projection precomputed for every
token (a (V, 4H) table: the input costs a row lookup); deeper layers take ``[x, h] @ W_cat``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gate_order(hidden: int) -> np.ndarray:
    """Column order [i, f, o, g] from PyTorch's [i, f, g, o]."""
    return np.concatenate([np.arange(0, 2 * hidden), np.arange(3 * hidden, 4 * hidden),
                           np.arange(2 * hidden, 3 * hidden)])


@dataclass
class LstmArrays:
    table0: np.ndarray  # (V, 4H): embedding @ W_ih0ᵀ + b_ih0 + b_hh0
    w_hh0: np.ndarray  # (H, 4H)
    w_cat: list[np.ndarray]  # per layer (in + H, 4H); entry 0 unused
    b: list[np.ndarray]  # per layer (4H,)
    head_w: np.ndarray  # (H, V)
    head_b: np.ndarray  # (V,)
    # Held labels (models/labels.py): each label's share of layer 0's input, cond_embed @ W_ih0ᵀ
    # without bias, (labels + 1, 4H); row 0 (no label of a kind) is zero. None without labels.
    cond: np.ndarray | None = None
    # The metre input (models/metre.py): each phase's share of layer 0's input, likewise
    # (phases, 4H). None without one.
    metre: np.ndarray | None = None

    @classmethod
    def from_weights(cls, w: dict[str, np.ndarray], layers: int) -> LstmArrays:
        """From a state dict's arrays (``embed.weight``, ``rnn.weight_ih_l0``, …, ``head.*``)."""
        f32 = {k: np.asarray(v, dtype=np.float32) for k, v in w.items()}
        hidden = f32["rnn.weight_hh_l0"].shape[1]
        order = gate_order(hidden)
        w_cat, b = [], []
        for layer in range(layers):
            w_ih, w_hh = f32[f"rnn.weight_ih_l{layer}"], f32[f"rnn.weight_hh_l{layer}"]
            w_cat.append(np.ascontiguousarray(np.concatenate([w_ih, w_hh], axis=1).T[:, order]))
            b.append((f32[f"rnn.bias_ih_l{layer}"] + f32[f"rnn.bias_hh_l{layer}"])[order])
        emb_in = f32["embed.weight"].shape[1]
        table0 = f32["embed.weight"] @ w_cat[0][:emb_in] + b[0]
        def share(name: str) -> np.ndarray | None:
            rows = f32.get(name)
            return None if rows is None else np.ascontiguousarray(rows @ w_cat[0][:emb_in])

        return cls(np.ascontiguousarray(table0), np.ascontiguousarray(w_cat[0][emb_in:]), w_cat, b,
                   np.ascontiguousarray(f32["head.weight"].T), f32["head.bias"],
                   share("cond_embed.weight"), share("metre_embed.weight"))


def lstm_step(a: LstmArrays, ids: np.ndarray, h: np.ndarray, c: np.ndarray, slots: np.ndarray | None = None,
              phase: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids (B,), h and c (L, B, H) → logits (B, V), new h, new c. ``slots`` (B, G): the labels
    in force (models/labels.py), whose rows of ``a.cond`` join layer 0's input; ``phase`` (B,):
    the metre's phase (models/metre.py), whose row of ``a.metre`` joins it too."""
    hidden = h.shape[2]
    hs, cs = np.empty_like(h), np.empty_like(c)
    x = h[0]
    for layer in range(h.shape[0]):
        if layer == 0:
            gates = a.table0[ids] + h[0] @ a.w_hh0
            if slots is not None:
                gates += a.cond[slots].sum(axis=1)
            if phase is not None:
                gates += a.metre[phase]
        else:
            gates = np.concatenate([x, h[layer]], axis=1) @ a.w_cat[layer] + a.b[layer]
        sig = np.tanh(gates[:, : 3 * hidden] * 0.5) * 0.5 + 0.5  # σ(v) = ½ tanh(½v) + ½
        cs[layer] = sig[:, hidden: 2 * hidden] * c[layer] + sig[:, :hidden] * np.tanh(gates[:, 3 * hidden:])
        x = hs[layer] = sig[:, 2 * hidden:] * np.tanh(cs[layer])
    return x @ a.head_w + a.head_b, hs, cs
