"""Many-to-one inference: a classifier file, and the label it gives a whole piece.

A piece is read as performance events (no labels, drums dropped), cut to the excerpt length the
classifier was trained on (a critic's), and classified by averaging the class probabilities of
windows of the classifier's length that cover it (back to back, the last aligned to the
piece's end).

File: ``classifier.safetensors`` (genrnn/fileformat.py, format ``genrnn-classifier``) with the
weights and, as JSON, the model config, tokenizer, class names, task and training record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrnn import fileformat
from genrnn.config import ClassifyConfig, from_dict
from genrnn.errors import CheckpointError, ConfigError, MidiConversionError, TokenizerError
from genrnn.models.classifier import ClassifierConfig, SequenceClassifier
from genrnn.models.weights import file_tensors, load_weights
from genrnn.music.notation import read_piece
from genrnn.music.notes import NoteSequence
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.midi_events import MidiEventTokenizer

CHECKPOINT_NAME = "classifier.safetensors"
EVAL_BATCH = 64


def input_tokenizer() -> MidiEventTokenizer:
    """What every classifier reads: performance events without label tokens."""
    return MidiEventTokenizer()


@dataclass
class Classifier:
    """A loaded classifier, ready to label pieces."""

    path: Path
    model: SequenceClassifier
    tokenizer: MidiEventTokenizer
    classes: list[str]
    task: dict[str, Any]
    training: dict[str, Any]

    @property
    def label(self) -> str:
        return str(self.task.get("label", "class"))

    @property
    def window(self) -> int:
        return int(self.task.get("window", ClassifyConfig.window))


def save_classifier(path: str | Path, model: SequenceClassifier, tokenizer: MidiEventTokenizer,
                    classes: list[str], task: dict[str, Any], training: dict[str, Any]) -> Path:
    return fileformat.write(path, fileformat.CLASSIFIER,
                            {"model_config": asdict(model.config), "tokenizer": tokenizer.to_dict(),
                             "classes": classes, "task": task, "training": training},
                            file_tensors(model.state_dict()))


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """Validate everything, then build the model; any fault → CheckpointError naming the file.
    A run folder (``classify train --out DIR``) means its classifier.safetensors."""
    header = fileformat.read_header(path).expect(fileformat.CLASSIFIER)
    try:
        config = from_dict(ClassifierConfig, header.field("model_config"), where="model_config")
        tokenizer = tokenizer_from_dict(header.field("tokenizer"))
    except (ConfigError, TokenizerError) as exc:
        raise CheckpointError(f"{header.path}: bad metadata: {exc}") from None
    if not isinstance(tokenizer, MidiEventTokenizer):
        raise CheckpointError(f"{header.path}: tokenizer kind {tokenizer.kind!r}; classifiers read MIDI events")
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointError(f"{header.path}: tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                              f"{config.vocab_size}")
    classes = header.field("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or len(classes) != config.num_classes:
        raise CheckpointError(f"{header.path}: metadata 'classes' must list {config.num_classes} class names, "
                              f"got {classes!r}")
    model = SequenceClassifier(config)
    load_weights(header, model)
    model.to(device).eval()
    return Classifier(header.path, model, tokenizer, classes, header.table("task"), header.table("training"))


# ---------------------------------------------------------------- probabilities


def windows(ids: np.ndarray, window: int) -> list[np.ndarray]:
    """Windows of ``window`` ids covering ``ids``: back to back, the last aligned to the end
    (so it may overlap the one before); a shorter piece is one window."""
    if len(ids) <= window:
        return [ids]
    starts = list(range(0, len(ids) - window + 1, window))
    if starts[-1] + window < len(ids):
        starts.append(len(ids) - window)
    return [ids[s : s + window] for s in starts]


def pad(crops: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of different lengths → (B, T) ids padded with PAD (0), and their lengths."""
    lengths = [len(c) for c in crops]
    x = np.zeros((len(crops), max(lengths)), np.int64)
    for i, c in enumerate(crops):
        x[i, : len(c)] = c
    return torch.from_numpy(x), torch.tensor(lengths, dtype=torch.long)


@torch.inference_mode()
def predict_proba(model: SequenceClassifier, pieces: Sequence[np.ndarray], window: int,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """(N, C) class probabilities, each piece's the mean over its windows."""
    model.eval()
    owners, crops = [], []
    for n, ids in enumerate(pieces):
        for w in windows(np.asarray(ids), window):
            owners.append(n)
            crops.append(w)
    probs = np.zeros((len(pieces), model.config.num_classes))
    counts = np.zeros(len(pieces))
    order = np.argsort([len(c) for c in crops])  # similar lengths together: less padding
    for i in range(0, len(order), EVAL_BATCH):
        chunk = order[i : i + EVAL_BATCH]
        x, lengths = pad([crops[j] for j in chunk])
        p = torch.softmax(model(x.to(device), lengths).float(), dim=-1).cpu().numpy()
        for j, row in zip(chunk, p, strict=True):
            probs[owners[j]] += row
            counts[owners[j]] += 1
    return probs / np.maximum(counts, 1)[:, None]


# ---------------------------------------------------------------- classifying pieces


@dataclass
class Prediction:
    label: str
    probability: float
    probs: dict[str, float]
    windows: int

    def row(self) -> dict[str, Any]:
        return {"label": self.label, "probability": round(self.probability, 6),
                "probs": {k: round(v, 6) for k, v in self.probs.items()}, "windows": self.windows}


def piece_ids(clf: Classifier, seq: NoteSequence, name: str = "piece") -> np.ndarray:
    """The ids the classifier reads: notes without drums, cut to the trained excerpt length."""
    seq = seq.without_drums()
    excerpt = clf.task.get("excerpt_seconds")
    if excerpt:
        seq = seq.clipped(float(excerpt))
    ids = clf.tokenizer.encode(seq)
    if not len(ids):
        raise MidiConversionError(f"{name}: no pitched notes to classify")
    return ids


def classify_sequences(clf: Classifier, pieces: Sequence[tuple[str, NoteSequence]]) -> list[Prediction]:
    ids = [piece_ids(clf, seq, name) for name, seq in pieces]
    probs = predict_proba(clf.model, ids, clf.window, next(clf.model.parameters()).device)
    out = []
    for row, piece in zip(probs, ids, strict=True):
        best = int(row.argmax())
        out.append(Prediction(clf.classes[best], float(row[best]),
                              {c: float(v) for c, v in zip(clf.classes, row, strict=True)},
                              len(windows(piece, clf.window))))
    return out


def classify_file(clf: Classifier, path: str | Path) -> Prediction:
    return classify_sequences(clf, [(str(path), read_piece(path))])[0]


@dataclass
class NeuralCritic:
    """A critic classifier (``classify train --label real``) as a reranker: the same
    ``real_probability`` as the feature critic (inference/feature_critic.py), so that
    ``session.rerank`` takes either."""

    classifier: Classifier

    @property
    def path(self) -> Path:
        return self.classifier.path

    def real_probability(self, seqs: Sequence[NoteSequence]) -> np.ndarray:
        real = self.classifier.classes.index("real")
        preds = classify_sequences(self.classifier, [(f"piece {n + 1}", s) for n, s in enumerate(seqs)])
        return np.asarray([p.probs[self.classifier.classes[real]] for p in preds])


def load_neural_critic(path: str | Path, device: str | torch.device = "cpu") -> NeuralCritic:
    clf = load_classifier(path, device)
    if clf.task.get("kind") != "critic" or "real" not in clf.classes:
        raise CheckpointError(f"{clf.path}: a classifier of {clf.label!r}, not a critic (classify train --label real); "
                              f"it cannot rate how real a piece is")
    return NeuralCritic(clf)
