"""``--condition`` values → a model's label tokens (one-to-many sampling). No torch: the
light sampler uses it too. ``model`` is anything with ``path``, ``kind`` and ``tokenizer``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from genrnn.errors import ConfigError
from genrnn.tokenizers.base import label_kind, label_kinds

__all__ = ["condition_ids", "condition_labels", "draw_labels", "labels_to_draw"]


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
            kinds = sorted(set(label_kinds(model.tokenizer)))
            shown = ", ".join(labels[:24]) + (f", … ({len(labels)} in all)" if len(labels) > 24 else "")
            raise ConfigError(f"--condition {raw}: not one of {model.path.name}'s labels "
                              f"(kinds: {', '.join(kinds)}): {shown}")
        kind = label_kind(value)
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


def labels_to_draw(tokenizer: Any, ids: Sequence[int]) -> list[list[int]]:
    """For an event primer that is only START and some labels: the label kinds the model is
    to draw itself, in training order, as lists of ids (one list per kind).

    Asked for ``mode=minor`` alone, a model trained on ``START mode=… key=…`` first draws a key
    from what it learned follows ``mode=minor`` (ancestral sampling: p(piece | mode) =
    Σ p(key | mode) p(piece | mode, key)). Only kinds after the last given one are drawn: the
    model never saw a key before a mode. With no label given, every kind is drawn: the model
    saw START alone in only the few records where label dropout removed every label (1 in 16),
    and its pieces from there are measurably worse (consonance 0.72 against 0.87). Nothing to
    draw after a note primer."""
    labels: list[str] = list(getattr(tokenizer, "labels", None) or [])
    if not labels or getattr(tokenizer, "kind", "") != "midi_events":
        return []
    by_id = {tokenizer.label_id(lb): lb for lb in labels}
    if not ids or any(int(t) not in by_id for t in ids[1:]):
        return []
    kinds = label_kinds(tokenizer)
    last = max((kinds.index(label_kind(by_id[int(t)])) for t in ids[1:]), default=-1)
    return [[i for i, lb in by_id.items() if label_kind(lb) == kind] for kind in kinds[last + 1:]]


def draw_labels(stream: Any, tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """After priming ``stream`` with ``ids``: let the model draw the labels it was not given
    (``labels_to_draw``), one restricted draw per kind. Returns the labels drawn."""
    names = {tokenizer.label_id(lb): lb for lb in getattr(tokenizer, "labels", None) or []}
    kinds = labels_to_draw(tokenizer, ids)
    if not kinds:
        return []
    # Labels come from the model's own prior, untruncated: top-p 0.9 would always pick the
    # majority (no piece would ever rest, almost every one would be major).
    settings = stream.settings
    stream.settings = replace(settings, temperature=1.0, top_k=0, top_p=1.0)
    drawn = []
    try:
        for kind_ids in kinds:
            stream.restrict_next(kind_ids)
            drawn.append(names[next(stream).token])
    finally:
        stream.settings = settings
    return drawn
