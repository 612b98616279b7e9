"""minGRU: a recurrent cell trained with a parallel scan ("Were RNNs All We Needed?", Feng et al., 2024).

Per layer, the gate and the candidate depend on the input only, never on the previous state::

    z_t  = σ(W_z x_t + b_z)
    h̃_t  = g(W_h x_t + b_h)          g(v) = v + ½ for v ≥ 0, σ(v) otherwise (always > 0)
    h_t  = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t

so h_t = A_t h_0 + Σ_{s≤t} (A_t / A_s) z_s h̃_s with A_t = Π_{s≤t} (1 − z_s). Training computes
that sum for a whole window at once in log space (``cumsum`` + ``logcumsumexp``: O(log T) depth
instead of T dependent steps); sampling runs the recurrence one token at a time with O(1) state.
Both give the same numbers (up to float rounding). The state is ``((layers, B, H),)`` like GRU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def g(v: torch.Tensor) -> torch.Tensor:
    """The positive candidate activation of minGRU."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def parallel_scan(k: torch.Tensor, pre_h: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """k, pre_h (B, T, H) gate and candidate pre-activations, h0 (B, H) → h (B, T, H).

    log A_t = Σ log(1 − z_s); the input part sums exp(log z_s + log h̃_s − log A_s) stably in
    log space. h0 enters linearly, so a zero (or any sign) initial state is exact.
    """
    log_coeff = -F.softplus(k)  # log(1 − z)
    log_values = -F.softplus(-k) + log_g(pre_h)  # log z + log h̃
    a_star = torch.cumsum(log_coeff, dim=1)  # (B, T, H)
    log_h = a_star + torch.logcumsumexp(log_values - a_star, dim=1)
    return torch.exp(log_h) + torch.exp(a_star) * h0.unsqueeze(1)


def sequential_step(k: torch.Tensor, pre_h: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One step of the recurrence: k, pre_h, h (B, H) → h (B, H)."""
    z = torch.sigmoid(k)
    return torch.lerp(h, g(pre_h), z)


class MinGRUStack(nn.Module):
    """Stacked minGRU layers with the interface of ``nn.GRU(batch_first=True)``."""

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        dims = [input_size] + [hidden] * layers
        # One linear per layer: columns [0, H) are the gate, [H, 2H) the candidate.
        self.proj = nn.ModuleList(nn.Linear(a, 2 * hidden) for a in dims[:-1])
        self.drop = nn.Dropout(dropout)
        self.hidden = hidden

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                parallel: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, E), h0 (layers, B, H) → y (B, T, H), h_T (layers, B, H).

        ``parallel=None`` scans in parallel for windows longer than one token.
        """
        b, t, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(len(self.proj), b, self.hidden)
        use_scan = t > 1 if parallel is None else parallel
        finals = []
        for i, proj in enumerate(self.proj):
            k, pre_h = proj(x).float().chunk(2, dim=-1)  # (B, T, H) each, fp32 for the scan
            h_init = h0[i].float()
            y = parallel_scan(k, pre_h, h_init) if use_scan else self._loop(k, pre_h, h_init)
            finals.append(y[:, -1])
            x = self.drop(y) if i < len(self.proj) - 1 else y
        return x, torch.stack(finals)

    @staticmethod
    def _loop(k: torch.Tensor, pre_h: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        outs = []
        for t in range(k.shape[1]):
            h = sequential_step(k[:, t], pre_h[:, t], h)
            outs.append(h)
        return torch.stack(outs, dim=1)
