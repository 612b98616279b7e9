"""Training the feature critic (inference/feature_critic.py) on a critic's ``ClassData``.

The same excerpts as the neural critic (real against generated, by split), read back from
their event ids into notes, each turned into hand-made features (music/features.py). The
features are standardised on the training excerpts; an L2-penalised logistic regression
(sklearn's objective at C = 1: the summed log loss plus half the squared weights) is fitted by
Newton's method, which is exact and deterministic: no seed changes it, only the data. The
held-out accuracy is measured by piece on the split's real and generated excerpts alike.

"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.errors import CorpusError
from genrnn.inference.feature_critic import CLASSES, FILE_NAME, FeatureCritic, save_feature_critic
from genrnn.music import features
from genrnn.music.notes import NoteSequence
from genrnn.tokenizers.midi_events import MidiEventTokenizer
from genrnn.training.classifier_data import ClassData, Example, heldout_figures

L2 = 1.0  # the penalty on the standardised weights (sklearn's C = 1)
NEWTON_STEPS = 50


@dataclass
class FeatureEvaluation:
    accuracy: float
    count: int
    stderr: float
    per_class: dict[str, dict[str, Any]]
    top_features: list[tuple[str, float]]  # the largest standardised weights, signed (+ = real)

    def row(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "count": self.count, "stderr": self.stderr,
                "per_class": self.per_class, "top_features": [[n, round(w, 4)] for n, w in self.top_features]}


@dataclass
class FeatureResult:
    critic: FeatureCritic
    evaluation: FeatureEvaluation
    path: Path | None


def decode_examples(examples: list[Example]) -> list[NoteSequence]:
    """The examples' event ids (no labels: ``inference.classifier.input_tokenizer``) as notes."""
    tok = MidiEventTokenizer()
    return [tok.decode(e.ids) for e in examples]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and bias minimising sum(log loss) + l2/2·|w|² over standardised ``x`` (N, F)
    and 0/1 ``y`` (the bias is not penalised), by Newton's method."""
    n, f = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(f + 1)
    penalty = np.full(f + 1, l2)
    penalty[-1] = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(a @ theta)))
        grad = a.T @ (p - y) + penalty * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and spread over ``x``; a constant feature gets spread 1 (it then
    stands at 0 everywhere and carries no weight)."""
    mean, scale = x.mean(0), x.std(0)
    return mean, np.where(scale > 1e-12, scale, 1.0)


def train_feature_critic(data: ClassData, out_dir: str | Path | None = None, l2: float = L2) -> FeatureResult:
    """Fit on ``data.train``, measure on ``data.val`` (by piece); with ``out_dir``, save
    ``out_dir/feature_critic.safetensors``."""
    if data.classes != CLASSES:
        raise CorpusError(f"a feature critic tells {CLASSES}; these data hold {data.classes}")
    data.check()
    x_train = features.feature_matrix(decode_examples(data.train))
    y_train = np.array([e.label for e in data.train], float)
    mean, scale = standardise(x_train)
    weights, bias = fit_logistic((x_train - mean) / scale, y_train, l2)
    task = {k: v for k, v in data.task.items() if k != "pieces"}
    critic = FeatureCritic(mean, scale, weights, bias, features.FEATURES, {**task, "model": "logistic", "l2": l2})
    evaluation = evaluate_feature_critic(critic, data)
    critic.training = {"accuracy": evaluation.accuracy, "heldout": evaluation.row(),
                       "train_examples": data.counts("train"), "heldout_examples": data.counts("val")}
    path = save_feature_critic(critic, Path(out_dir) / FILE_NAME) if out_dir is not None else None
    return FeatureResult(critic, evaluation, path)


def evaluate_feature_critic(critic: FeatureCritic, data: ClassData) -> FeatureEvaluation:
    """Held-out accuracy by excerpt (P(real) ≥ 0.5 is a 'real' verdict), with its binomial
    standard error, per class, and the features that weigh most."""
    prob = critic.excerpt_probability(decode_examples(data.val))
    truth = np.array([e.label for e in data.val], dtype=int)
    acc, stderr, per_class, _ = heldout_figures((prob >= 0.5).astype(int), truth, CLASSES)
    order = np.argsort(-np.abs(critic.weights))[:6]
    top = [(critic.names[i], float(critic.weights[i])) for i in order]
    return FeatureEvaluation(acc, len(truth), stderr, per_class, top)
