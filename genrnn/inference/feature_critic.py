"""The feature critic: a logistic regression on hand-made features (music/features.py) that
says how likely a piece is real. Small, NumPy only, no PyTorch: `genrnn sample --best-of N`
and the TUI rerank with it without loading torch.

A piece longer than the excerpts the critic was trained on is cut into excerpts of that length
(``features.windows``: back to back, the last ending with the piece) and scored by the mean
probability over them, as the neural classifier averages its windows.

File: a safetensors file (genrnn/fileformat.py, format ``genrnn-feature-critic``): tensors
``mean`` and ``scale`` (the standardisation, from the training excerpts), ``weights`` and
``bias``; as JSON, the feature names, the classes (generated, real), the task (corpus,
generator, excerpt length) and the training record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrnn import fileformat
from genrnn.errors import CheckpointError
from genrnn.music import features
from genrnn.music.notes import NoteSequence

CLASSES = ["generated", "real"]
FILE_NAME = "feature_critic.safetensors"
SIBLING_SUFFIX = ".critic.safetensors"  # checkpoints/bach.safetensors → checkpoints/bach.critic.safetensors


@dataclass
class FeatureCritic:
    """Standardised features → P(real) = sigmoid(weights · z + bias)."""

    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,), > 0
    weights: np.ndarray  # (F,)
    bias: float
    names: tuple[str, ...] = features.FEATURES
    task: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def excerpt_seconds(self) -> float | None:
        value = self.task.get("excerpt_seconds")
        return float(value) if value else None

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(N, F) feature rows → (N,) P(real)."""
        z = (np.asarray(x, float) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias)))

    def excerpt_probability(self, seqs: Sequence[NoteSequence]) -> np.ndarray:
        """P(real) of each excerpt as it is (the training and held-out examples)."""
        return self.probability(features.feature_matrix(seqs))

    def real_probability(self, seqs: Sequence[NoteSequence]) -> np.ndarray:
        """P(real) of each piece: the mean over its excerpts of the trained length."""
        return np.asarray([float(self.excerpt_probability(self.parts(seq)).mean()) for seq in seqs])

    def parts(self, seq: NoteSequence) -> list[NoteSequence]:
        """The excerpts a piece is judged by (``features.windows`` of the trained length)."""
        return features.windows(seq, self.excerpt_seconds) if self.excerpt_seconds else [seq]

    def contributions(self, seq: NoteSequence) -> dict[str, float]:
        """Each feature's share of the logit (weight × standardised value, the mean over the
        piece's excerpts), largest first: what made the critic call it real (+) or generated (−)."""
        z = (features.feature_matrix(self.parts(seq)) - self.mean) / self.scale
        shares = (z * self.weights).mean(0)
        order = np.argsort(-np.abs(shares))
        return {self.names[i]: float(shares[i]) for i in order}


def save_feature_critic(critic: FeatureCritic, path: str | Path) -> Path:
    tensors = {"mean": critic.mean.astype(np.float64), "scale": critic.scale.astype(np.float64),
               "weights": critic.weights.astype(np.float64), "bias": np.array([critic.bias], np.float64)}
    written = fileformat.write(path, fileformat.FEATURE_CRITIC,
                               {"features": list(critic.names), "classes": CLASSES, "task": critic.task,
                                "training": critic.training}, tensors)
    critic.path = written
    return written


def load_feature_critic(path: str | Path) -> FeatureCritic:
    """Validate the header and the tensors; any fault → CheckpointError naming the file and field.
    A folder (``classify train --label real --out DIR``) means its feature_critic.safetensors."""
    header = fileformat.read_header(Path(path) / FILE_NAME if Path(path).is_dir() else path).expect(fileformat.FEATURE_CRITIC)
    names = header.field("features")
    if names != list(features.FEATURES):
        raise CheckpointError(f"{header.path}: metadata 'features' lists {len(names) if isinstance(names, list) else names!r} "
                              f"features that are not this genrnn's {len(features.FEATURES)} "
                              f"(music/features.py FEATURES); train the critic again")
    if header.field("classes") != CLASSES:
        raise CheckpointError(f"{header.path}: metadata 'classes' must be {CLASSES}, got {header.field('classes')!r}")
    size = len(features.FEATURES)
    fileformat.check_shapes(header, {"mean": (size,), "scale": (size,), "weights": (size,), "bias": (1,)})
    arrays = fileformat.read_tensors(header)
    fileformat.check_finite(header.path, arrays)
    if (arrays["scale"] <= 0).any():
        raise CheckpointError(f"{header.path}: tensor 'scale' holds values ≤ 0; expected positive spreads")
    return FeatureCritic(arrays["mean"], arrays["scale"], arrays["weights"], float(arrays["bias"][0]),
                         tuple(names), header.table("task"), header.table("training"), header.path)


def sibling_critic(model_path: str | Path) -> Path:
    """Where a language model's own critic lives: ``NAME.critic.safetensors`` beside ``NAME.safetensors``
    (a run folder: its ``feature_critic.safetensors``)."""
    p = Path(model_path)
    if p.is_dir():
        return p / FILE_NAME
    return p.with_name(p.name.removesuffix(".safetensors") + SIBLING_SUFFIX)
