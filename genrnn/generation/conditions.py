"""``--condition`` values → a model's label tokens (one-to-many sampling). No torch: the
light sampler uses it too. ``model`` is anything with ``path``, ``kind`` and ``tokenizer``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genrnn.errors import ConfigError

__all__ = ["condition_ids", "condition_labels"]


def condition_labels(model: Any, conditions: Sequence[str]) -> list[str]:
    """``--condition`` values (``mode=minor``, ``key=A``, ``file=hamlet`` or just ``hamlet``)
    → the model's label tokens, in the order it was trained with; each kind at most once."""
    labels: list[str] = list(getattr(model.tokenizer, "labels", []) or [])
    if not conditions:
        return []
    if not labels:
        raise ConfigError(f"--condition: {model.path.name} was trained without labels "
                          f"(train with --conditioned to sample from a label)")
    chosen: dict[str, str] = {}
    for raw in conditions:
        value = raw.strip()
        if "=" not in value and f"file={value}" in labels:
            value = f"file={value}"
        if value not in labels:
            kinds = sorted({lb.split("=", 1)[0] for lb in labels})
            shown = ", ".join(labels[:24]) + (f", … ({len(labels)} in all)" if len(labels) > 24 else "")
            raise ConfigError(f"--condition {raw}: not one of {model.path.name}'s labels "
                              f"(kinds: {', '.join(kinds)}): {shown}")
        kind = value.split("=", 1)[0]
        if kind in chosen:
            raise ConfigError(f"--condition {raw}: {kind} is already {chosen[kind]!r}; give each kind once")
        chosen[kind] = value
    return [lb for lb in labels if lb in chosen.values()]


def condition_ids(model: Any, conditions: Sequence[str]) -> list[int]:
    """The ids that open a sample with these labels (event models: START first)."""
    labels = condition_labels(model, conditions)
    tok = model.tokenizer
    if model.kind == "midi_events":
        return list(tok.start_tokens(labels))
    return [tok.label_id(lb) for lb in labels]
