"""Tokenizers: text and music to integer ids and back. Imports no torch."""

from __future__ import annotations

from typing import Any

from genrnn.errors import TokenizerError
from genrnn.tokenizers.base import Tokenizer

_KINDS: dict[str, str] = {
    "chars": "genrnn.tokenizers.chars:CharTokenizer",
    "midi_events": "genrnn.tokenizers.midi_events:MidiEventTokenizer",
}


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from ``Tokenizer.to_dict()`` output (as stored in checkpoints)."""
    kind = data.get("kind")
    if kind not in _KINDS:
        raise TokenizerError(f"unknown tokenizer kind {kind!r}; expected one of {sorted(_KINDS)}")
    import importlib

    module_name, cls_name = _KINDS[kind].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls.from_dict(data)


__all__ = ["Tokenizer", "tokenizer_from_dict"]
