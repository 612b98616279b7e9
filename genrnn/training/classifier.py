"""Many-to-one training: ``ClassData`` (training/classifier_data.py) → a sequence classifier.

Training draws random crops of ``window`` events (each moved by a random transposition when
asked: corpora/augment.py), AdamW with the schedule every genrnn loop uses (schedule.py), within
a time budget or a step count. Held-out accuracy is measured by piece (inference/classifier.py:
the mean over windows covering it) now and then, for the log only: the final model is saved,
never the one that scored best on the held-out pieces (which would flatter the figure).
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrnn.config import ClassifyConfig, from_dict
from genrnn.corpora import augment
from genrnn.inference.classifier import (
    CHECKPOINT_NAME,
    input_tokenizer,
    pad,
    predict_proba,
    save_classifier,
)
from genrnn.models.classifier import ClassifierConfig, SequenceClassifier
from genrnn.training.classifier_data import ClassData, Event, heldout_figures
from genrnn.training.loop import pick_device
from genrnn.training.schedule import adamw, lr_at, progress, set_lr


@dataclass
class Evaluation:
    """Held-out accuracy by piece, with what chance would score."""

    accuracy: float
    count: int
    baseline: float  # always answering the most common training class
    stderr: float  # binomial standard error of ``accuracy``
    per_class: dict[str, dict[str, Any]]  # class → {"count", "accuracy" (None without pieces)}
    confusion: list[list[int]]  # [true][predicted]
    predictions: list[dict[str, Any]]  # name, true, predicted, probability

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClassifyResult:
    path: Path
    evaluation: Evaluation
    steps: int
    seconds: float
    curve: list[dict[str, float]]
    classes: list[str]
    task: dict[str, Any]
    train_counts: dict[str, int]


def batch(data: ClassData, cfg: ClassifyConfig, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """Random examples, each a random crop of ``window`` events (whole when shorter), moved by
    a random transposition when ``cfg.transpose`` (a key label moves with it)."""
    tok = input_tokenizer()
    moves_label = data.task.get("label") == "key"  # classes are the 12 tonics, C first
    crops, labels = [], []
    for i in rng.integers(len(data.train), size=cfg.batch_size):
        ids, label = data.train[i].ids, data.train[i].label
        if len(ids) > cfg.window:
            start = int(rng.integers(len(ids) - cfg.window + 1))
            ids = ids[start : start + cfg.window]
        ids, shift = augment.transposed_ids(tok, ids, cfg.transpose, rng)
        crops.append(ids)
        labels.append((label + shift) % len(data.classes) if moves_label else label)
    x, lengths = pad(crops)
    return x, lengths, torch.tensor(labels, dtype=torch.long)


def evaluate(model: SequenceClassifier, data: ClassData, window: int, device: torch.device | str = "cpu") -> Evaluation:
    probs = predict_proba(model, [e.ids for e in data.val], window, device)
    pred = probs.argmax(1)
    truth = np.asarray([e.label for e in data.val], dtype=int)
    acc, stderr, per_class, confusion = heldout_figures(pred, truth, data.classes)
    train_counts = np.bincount([e.label for e in data.train], minlength=len(data.classes))
    baseline = float((truth == train_counts.argmax()).mean()) if len(truth) else 0.0
    predictions = [{"name": e.name, "true": data.classes[e.label], "predicted": data.classes[int(p)],
                    "probability": round(float(row[int(p)]), 4)} for e, p, row in zip(data.val, pred, probs, strict=True)]
    return Evaluation(acc, len(truth), baseline, stderr, per_class, confusion.tolist(), predictions)


def model_config(overrides: dict[str, Any], num_classes: int) -> ClassifierConfig:
    """The classifier's shape (validated: check it before minutes of data building)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return from_dict(ClassifierConfig, {**given, "vocab_size": input_tokenizer().vocab_size,
                                        "num_classes": num_classes}, where="classifier config")


def train_classifier(data: ClassData, model_overrides: dict[str, Any], cfg: ClassifyConfig, out_dir: str | Path,
                     on_event: Event | None = None) -> ClassifyResult:
    """Train on ``data.train``, measure on ``data.val`` (by piece), save ``out_dir/classifier.safetensors``."""
    data.check()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = pick_device(cfg.device)
    model = SequenceClassifier(model_config(model_overrides, len(data.classes))).to(device)
    opt = adamw(model, cfg, device)
    curve: list[dict[str, float]] = []
    start = last_eval = time.perf_counter()
    step, losses = 0, []
    while (done := progress(step, time.perf_counter() - start, cfg.max_steps, cfg.time_budget)) < 1.0:
        model.train()
        x, lengths, y = batch(data, cfg, rng)
        set_lr(opt, lr_at(cfg, step, done))
        loss = F.cross_entropy(model(x.to(device), lengths), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        step += 1
        losses.append(loss.item())
        if time.perf_counter() - last_eval >= cfg.eval_interval:
            curve.append(_point(model, data, cfg, device, step, time.perf_counter() - start, losses, on_event))
            last_eval, losses = time.perf_counter(), []
    seconds = time.perf_counter() - start
    evaluation = evaluate(model, data, cfg.window, device)
    curve.append({"step": step, "seconds": round(seconds, 2), "train_loss": _mean(losses),
                  "val_accuracy": round(evaluation.accuracy, 4)})
    training = {"accuracy": evaluation.accuracy, "heldout": evaluation.row(), "steps": step,
                "wall_seconds": round(seconds, 2), "train_config": asdict(cfg), "curve": curve,
                "train_examples": data.counts("train"), "heldout_examples": data.counts("val"),
                "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {device}",
                "torch_version": torch.__version__}
    task = {**data.task, "window": cfg.window}
    path = save_classifier(Path(out_dir) / CHECKPOINT_NAME, model, input_tokenizer(), data.classes, task, training)
    return ClassifyResult(path, evaluation, step, seconds, curve, data.classes, task, data.counts("train"))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _point(model: SequenceClassifier, data: ClassData, cfg: ClassifyConfig, device: torch.device, step: int,
           elapsed: float, losses: list[float], on_event: Event | None) -> dict[str, float]:
    acc = evaluate(model, data, cfg.window, device).accuracy
    point = {"step": step, "seconds": round(elapsed, 2), "train_loss": _mean(losses), "val_accuracy": round(acc, 4)}
    if on_event:
        on_event({"phase": "train", **point})
    return point
