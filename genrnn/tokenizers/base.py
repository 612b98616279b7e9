"""The tokenizer protocol shared by every tokenizer."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Tokenizer(Protocol):
    """Maps a domain object (text, a note sequence) to token ids and back.

    ``kind`` names the tokenizer in checkpoints; ``to_dict``/``from_dict`` round-trip it
    through plain JSON (never pickle).
    """

    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, data: Any) -> np.ndarray: ...

    def decode(self, ids: Any) -> Any: ...

    def token_name(self, token_id: int) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer: ...


def label_kind(label: str) -> str:
    """A conditioning label's kind: ``mode`` for ``mode=minor``, ``file`` for ``file=hamlet``."""
    return label.split("=", 1)[0]


def label_kinds(tokenizer: Any) -> list[str]:
    """The kinds of a tokenizer's labels, in their training order (``[]`` without labels)."""
    return list(dict.fromkeys(label_kind(lb) for lb in getattr(tokenizer, "labels", None) or []))
