"""Vanishing and exploding gradients, measured: ‖∂ loss_t / ∂ h_(t−k)‖ against k.

The model is unrolled one token at a time over a window, keeping every step's state tensor;
``torch.autograd.grad`` of the last position's loss with respect to all of them gives, for
each k, how strongly the prediction at t still depends on the state k steps back. k = 1 is the
state the last token was read into. Non-finite losses or gradients (an exploding cell) are
recorded as ``exploded``, never raised.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrnn import session
from genrnn.analysis.runtime import torch_threads
from genrnn.corpora.base import PreparedCorpus
from genrnn.errors import ConfigError
from genrnn.models.rnn import RNNLanguageModel
from genrnn.training.loop import EvalInfo, StepInfo


@dataclass
class GradientProfile:
    cell: str
    phase: str  # "init", "trained, clip 1", "trained, no clip", "checkpoint"
    norms: list[float | None]  # index k; norms[0] is None (the loss reads y_t, not the state)
    exploded: bool = False
    training: dict[str, Any] = field(default_factory=dict)  # steps, max grad norm, skipped steps

    def at(self, k: int) -> float | None:
        return self.norms[k] if 0 <= k < len(self.norms) else None

    def ratio(self, k: int) -> float | None:
        """‖grad at k‖ / ‖grad at 1‖."""
        a, b = self.at(k), self.at(1)
        return a / b if a is not None and b else None

    def decay_per_10(self) -> float | None:
        """Geometric mean factor per 10 steps back: exp(10 · slope of log‖grad‖ against k)."""
        pts = [(k, math.log(v)) for k, v in enumerate(self.norms) if v is not None and v > 0 and math.isfinite(v)]
        if len(pts) < 2:
            return None
        ks, logs = np.array(pts).T
        slope = np.polyfit(ks, logs, 1)[0]
        return float(math.exp(min(10 * slope, 700.0)))

    def row(self) -> dict[str, Any]:
        return {"cell": self.cell, "phase": self.phase, "exploded": self.exploded,
                "decay_per_10": self.decay_per_10(), "ratio_10": self.ratio(10), "ratio_50": self.ratio(50),
                "norm_1": self.at(1), "norms": self.norms, **{f"train_{k}": v for k, v in self.training.items()}}


def sample_windows(data: np.ndarray, batch: int, length: int, seed: int) -> torch.Tensor:
    """``batch`` random windows of ``length`` tokens from ``data`` → (B, length) int64."""
    if len(data) < length + 1:
        raise ConfigError(f"the text has {len(data)} tokens; a gradient window needs {length + 1}")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(data) - length, size=batch)
    return torch.from_numpy(np.stack([np.asarray(data[s: s + length], dtype=np.int64) for s in starts]))


def gradient_norms(model: RNNLanguageModel, tokens: torch.Tensor) -> tuple[list[float | None], bool]:
    """tokens (B, T+1) → ([None, ‖∂L/∂h_(T−1)‖, …, ‖∂L/∂h_1‖], exploded) for the loss at T."""
    if model.num_rnn_state == 0:
        return [None] * (tokens.shape[1] - 1), False  # 'none' has no state: nothing to differentiate
    was_training = model.training
    model.eval()
    dev = model.head.weight.device
    x, y = tokens[:, :-1].to(dev), tokens[:, -1].to(dev)
    with torch.enable_grad():
        state = model.init_state(x.shape[0], dev)
        states = []
        for t in range(x.shape[1]):
            logits, state = model(x[:, t: t + 1], state)
            states.append(state[0])
        loss = F.cross_entropy(logits[:, -1].float(), y)
        grads = torch.autograd.grad(loss, states[:-1], allow_unused=True)
    model.train(was_training)
    norms: list[float | None] = [None]
    for g in reversed(grads):  # states[-2] is k = 1
        n = float(g.float().norm()) if g is not None else 0.0
        norms.append(n if math.isfinite(n) else None)
    exploded = not math.isfinite(loss.item()) or any(v is None for v in norms[1:])
    return norms, exploded


class _NormRecorder:
    """Trainer callback: largest pre-clip gradient norm and count of skipped (non-finite) steps."""

    def __init__(self) -> None:
        self.max_norm = 0.0
        self.skipped = 0
        self.last_loss = float("nan")

    def on_step(self, info: StepInfo) -> None:
        if math.isfinite(info.grad_norm):
            self.max_norm = max(self.max_norm, info.grad_norm)
        self.skipped += int(info.skipped)
        self.last_loss = info.loss

    def on_eval(self, info: EvalInfo) -> None:
        pass

    def on_checkpoint(self, path: Any, kind: str) -> None:
        pass


def train_briefly(corpus: PreparedCorpus, cell: str, preset: str, steps: int, clip: float, seed: int,
                  model_overrides: dict[str, Any] | None = None, lr: float | None = None
                  ) -> tuple[RNNLanguageModel, dict[str, Any]]:
    """``steps`` TBPTT steps in a throw-away folder → (model, training record)."""
    rec = _NormRecorder()
    train = {"max_steps": steps, "clip": clip, "seed": seed, "dtype": "fp32", "lr": lr,
             "eval_interval": 1e6, "checkpoint_interval": 1e6, "eval_tokens": 2048}
    with tempfile.TemporaryDirectory(prefix="genrnn-grad-") as tmp:
        trainer = session.make_trainer(corpus, preset, {**(model_overrides or {}), "cell": cell}, train, tmp, [rec])
        trainer.fit()
    info = {"steps": steps, "clip": clip, "max_grad_norm": rec.max_norm, "skipped_steps": rec.skipped,
            "last_loss": rec.last_loss}
    return trainer.model.cpu(), info


def fresh_model(corpus: PreparedCorpus, cell: str, preset: str, seed: int,
                model_overrides: dict[str, Any] | None = None) -> RNNLanguageModel:
    from genrnn.config import resolve_preset

    cfg, _ = resolve_preset(preset, {**(model_overrides or {}), "cell": cell}, {}, corpus.tokenizer.vocab_size)
    torch.manual_seed(seed)
    return RNNLanguageModel(cfg)


def diagnose_cells(corpus: PreparedCorpus, cells: Sequence[str], preset: str = "small", steps: int = 200,
                   window: int = 100, batch: int = 16, seed: int = 1337, clips: Sequence[float] = (1.0, 0.0),
                   model_overrides: dict[str, Any] | None = None, lr: float | None = None,
                   threads: int | None = 1) -> list[GradientProfile]:
    """Per cell: the profile at initialisation, then after ``steps`` steps for each clip value."""
    with torch_threads(threads):
        return _diagnose(corpus, cells, preset, steps, window, batch, seed, clips, model_overrides, lr)


def _diagnose(corpus: PreparedCorpus, cells: Sequence[str], preset: str, steps: int, window: int, batch: int,
              seed: int, clips: Sequence[float], model_overrides: dict[str, Any] | None,
              lr: float | None) -> list[GradientProfile]:
    tokens = sample_windows(corpus.val if len(corpus.val) > window + 1 else corpus.train, batch, window + 1, seed)
    profiles = []
    for cell in cells:
        norms, exploded = gradient_norms(fresh_model(corpus, cell, preset, seed, model_overrides), tokens)
        profiles.append(GradientProfile(cell, "init", norms, exploded))
        for clip in clips if steps > 0 else ():
            model, info = train_briefly(corpus, cell, preset, steps, clip, seed, model_overrides, lr)
            norms, exploded = gradient_norms(model, tokens)
            phase = f"trained, clip {clip:g}" if clip > 0 else "trained, no clip"
            profiles.append(GradientProfile(cell, phase, norms, exploded or info["skipped_steps"] > 0, info))
    return profiles


def diagnose_checkpoint(model: RNNLanguageModel, data: np.ndarray, window: int = 100, batch: int = 16,
                        seed: int = 1337) -> list[GradientProfile]:
    """A trained checkpoint's profile beside a fresh model of the same configuration."""
    tokens = sample_windows(data, batch, window + 1, seed)
    torch.manual_seed(seed)
    fresh = RNNLanguageModel(model.config)
    cell = model.config.cell
    return [GradientProfile(cell, "init", *gradient_norms(fresh, tokens)),
            GradientProfile(cell, "checkpoint", *gradient_norms(model.float(), tokens))]


def plot_profiles(profiles: Sequence[GradientProfile], path: Any, title: str = "") -> Any:
    from genrnn.analysis.plots import gradient_decay

    panels: dict[str, dict[str, list[float | None]]] = {}
    for p in profiles:
        panels.setdefault(p.phase, {})[p.cell] = p.norms
    return gradient_decay(panels, path, title)
