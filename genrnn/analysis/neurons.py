"""What the neurons do: hidden units whose activation tracks something readable in the text.

A checkpoint reads the text one character at a time (FusedStep, state carried);
every unit's activation at every position is kept — ``h`` of each layer, and for LSTMs also
``tanh(c)``, the cell Karpathy drew in "The Unreasonable Effectiveness of RNNs". Each unit is
correlated (Pearson) with feature signals computed from the text itself: inside quotes,
inside brackets, position in line, line start, vowel, space, upper case, speaker line.
Features that never vary in the text are skipped and named in ``skipped``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrnn.errors import ConfigError
from genrnn.models.rnn import RNNLanguageModel
from genrnn.models.step import FusedStep

VOWELS = set("aeiouAEIOU")
OPENERS, CLOSERS = "([{", ")]}"


def _inside_quotes(text: str) -> np.ndarray:
    out, inside = np.zeros(len(text)), False
    for i, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        elif ch in "“”":
            inside = ch == "“"
        out[i] = inside
    return out


def _bracket_depth(text: str) -> np.ndarray:
    out, depth = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        depth = depth + (ch in OPENERS) - (ch in CLOSERS and depth > 0)
        out[i] = depth > 0
    return out


def _line_position(text: str) -> np.ndarray:
    out, col = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        out[i] = col
        col = 0 if ch == "\n" else col + 1
    return out


def _speaker_line(text: str) -> np.ndarray:
    """1 on lines that end with ':' and hold no lower case letter (NAME: lines of a play)."""
    out = np.zeros(len(text))
    pos = 0
    for line in text.split("\n"):
        flag = line.rstrip().endswith(":") and not any(c.islower() for c in line)
        out[pos: pos + len(line)] = flag
        pos += len(line) + 1
    return out


FEATURES: dict[str, Callable[[str], np.ndarray]] = {
    "inside quotes": _inside_quotes,
    "inside brackets": _bracket_depth,
    "position in line": _line_position,
    "line start": lambda t: np.array([i == 0 or t[i - 1] == "\n" for i in range(len(t))], float),
    "vowel": lambda t: np.array([c in VOWELS for c in t], float),
    "space": lambda t: np.array([c == " " for c in t], float),
    "upper case": lambda t: np.array([c.isupper() for c in t], float),
    "speaker line": _speaker_line,
}


@dataclass
class UnitMatch:
    feature: str
    unit: str  # e.g. "L1.c37": layer 1, LSTM cell unit 37
    index: int  # column in Activations.values
    correlation: float

    def row(self) -> dict[str, Any]:
        return {"feature": self.feature, "unit": self.unit, "correlation": round(self.correlation, 4)}


@dataclass
class Activations:
    text: str
    values: np.ndarray  # (T, U): activation of unit u after reading character t
    names: list[str]


@dataclass
class NeuronReport:
    activations: Activations
    matches: list[UnitMatch]
    skipped: list[str] = field(default_factory=list)

    def top(self, feature: str) -> list[UnitMatch]:
        return [m for m in self.matches if m.feature == feature]


def unit_names(model: RNNLanguageModel) -> list[str]:
    c = model.config
    kinds = ["h", "c"] if c.cell == "lstm" else ["h"]
    return [f"L{layer}.{k}{u}" for k in kinds for layer in range(c.layers) for u in range(c.hidden)]


@torch.inference_mode()
def read_activations(model: RNNLanguageModel, ids: Sequence[int], text: str) -> Activations:
    """Run the model over ``ids`` one token at a time; keep every unit's value per position."""
    if model.num_rnn_state == 0:
        raise ConfigError(f"cell {model.config.cell!r} has no hidden state to inspect")
    step = FusedStep(model.eval())
    state = model.init_state(1, model.head.weight.device)
    rows = []
    for tok in ids:
        _, state = step(torch.tensor([tok]), state)
        parts = [state[0].reshape(-1)] + ([torch.tanh(state[1]).reshape(-1)] if model.num_rnn_state > 1 else [])
        rows.append(torch.cat(parts).float().cpu().numpy())
    return Activations(text, np.stack(rows), unit_names(model))


def correlations(values: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``values`` (T, U) with ``signal`` (T,); 0 for constant units."""
    v = values - values.mean(0)
    s = signal - signal.mean()
    denom = np.sqrt((v * v).sum(0) * (s * s).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (v * s[:, None]).sum(0) / denom
    return np.nan_to_num(r)


def find_units(acts: Activations, top: int = 3, features: Sequence[str] | None = None) -> NeuronReport:
    matches, skipped = [], []
    for name in features or FEATURES:
        signal = FEATURES[name](acts.text)
        if signal.std() == 0:
            skipped.append(name)
            continue
        r = correlations(acts.values, signal)
        for idx in np.argsort(-np.abs(r))[:top]:
            matches.append(UnitMatch(name, acts.names[idx], int(idx), float(r[idx])))
    return NeuronReport(acts, matches, skipped)


def inspect_text(model: RNNLanguageModel, tokenizer: Any, text: str, top: int = 3,
                 max_chars: int = 5000) -> NeuronReport:
    text = text[:max_chars]
    if len(text) < 20:
        raise ConfigError(f"the text has {len(text)} characters; give at least 20 to inspect neurons")
    ids = [int(i) for i in tokenizer.encode(text)]
    if len(ids) != len(text):
        raise ConfigError("inspect neurons needs a character model (one token per character)")
    return find_units(read_activations(model, ids, text), top)


# ------------------------------------------------------------------ drawing

def colour(value: float) -> str:
    """Activation in [-1, 1] → CSS/rich colour: blue for negative, red for positive (Karpathy)."""
    v = max(-1.0, min(1.0, value))
    if v >= 0:
        return f"#{255:02x}{int(255 * (1 - v)):02x}{int(255 * (1 - v)):02x}"
    return f"#{int(255 * (1 + v)):02x}{int(255 * (1 + v)):02x}{255:02x}"


def scaled(acts: Activations, index: int) -> np.ndarray:
    """A unit's activations scaled to [-1, 1] by its largest magnitude."""
    col = acts.values[:, index]
    peak = float(np.abs(col).max()) or 1.0
    return col / peak


def html_report(report: NeuronReport, path: str | Path, chars: int = 2000) -> Path:
    acts = report.activations
    parts = ["<!doctype html><meta charset='utf-8'><title>genrnn: what the neurons do</title>",
             "<style>body{font-family:sans-serif;margin:2em}pre{font-family:monospace;white-space:pre-wrap;"
             "line-height:1.5;border:1px solid #ccc;padding:.6em}</style>",
             "<h1>What the neurons do</h1><p>Red: positive activation, blue: negative "
             "(scaled per unit). Hover a character for the value.</p>"]
    if report.skipped:
        parts.append(f"<p>Features absent from this text: {html.escape(', '.join(report.skipped))}.</p>")
    for m in report.matches:
        parts.append(f"<h2>{html.escape(m.feature)}: unit {m.unit} (r = {m.correlation:+.2f})</h2>")
        parts.append(_html_text(acts.text[:chars], scaled(acts, m.index)[:chars]))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(parts), encoding="utf-8")
    return p


def _html_text(text: str, values: np.ndarray) -> str:
    spans = [f"<span style='background:{colour(v)}' title='{v:+.2f}'>{html.escape(ch)}</span>"
             if ch != "\n" else "<span>&#9166;</span>\n" for ch, v in zip(text, values, strict=True)]
    return "<pre>" + "".join(spans) + "</pre>"
