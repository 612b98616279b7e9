"""Character-level tokenizer: one id per Unicode code point seen in the corpus."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from genrnn.errors import TokenizerError


def text_to_codepoints(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array, without a Python list per char."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class CharTokenizer:
    """Vocabulary = the sorted set of characters of the training corpus."""

    kind = "chars"

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        if not self.chars:
            raise TokenizerError("character vocabulary is empty: the corpus has no text")
        if any(len(c) != 1 for c in self.chars):
            raise TokenizerError("character vocabulary entries must be single characters")
        self._points = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._lut: np.ndarray | None = None  # code point → id, built on first large encode

    @classmethod
    def from_codepoints(cls, points: np.ndarray) -> CharTokenizer:
        return cls(chr(int(p)) for p in np.unique(points))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls.from_codepoints(text_to_codepoints(text))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def _lookup(self) -> np.ndarray:
        if self._lut is None:
            lut = np.full(int(self._points[-1]) + 1, -1, dtype=np.int32)
            lut[self._points] = np.arange(len(self._points), dtype=np.int32)
            self._lut = lut
        return self._lut

    def encode_codepoints(self, points: np.ndarray) -> np.ndarray:
        """Vectorised encode of a code point array; raises naming unknown characters."""
        lut = self._lookup()
        idx = lut[np.minimum(points, len(lut) - 1)]
        bad = (idx < 0) | (points >= len(lut))
        if bad.any():
            unknown = sorted({chr(int(p)) for p in points[bad][:10_000]})
            shown = ", ".join(repr(c) for c in unknown[:20])
            more = "" if len(unknown) <= 20 else f" and {len(unknown) - 20} more"
            raise TokenizerError(
                f"characters not in the model's vocabulary ({self.vocab_size} chars): {shown}{more}"
            )
        dtype = np.uint8 if self.vocab_size <= 256 else np.uint16 if self.vocab_size <= 65536 else np.uint32
        return idx.astype(dtype)

    def encode(self, data: str) -> np.ndarray:
        return self.encode_codepoints(text_to_codepoints(data))

    def decode(self, ids: Iterable[int]) -> str:
        chars = self.chars
        return "".join(chars[int(i)] for i in ids)

    def token_name(self, token_id: int) -> str:
        return self.chars[token_id]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        chars = data.get("chars")
        if not isinstance(chars, str) or not chars:
            raise TokenizerError("tokenizer field 'chars': expected a non-empty string")
        return cls(chars)
