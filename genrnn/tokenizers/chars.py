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
    """Vocabulary = the sorted set of characters of the training corpus, then one id per
    conditioning label (``train --text FOLDER --conditioned``: ``file=NAME`` before each file)."""

    kind = "chars"

    def __init__(self, chars: Iterable[str], labels: Iterable[str] = ()) -> None:
        self.chars: list[str] = sorted(set(chars))
        self.labels: list[str] = list(dict.fromkeys(str(label) for label in labels))
        if not self.chars:
            raise TokenizerError("character vocabulary is empty: the corpus has no text")
        if any(len(c) != 1 for c in self.chars):
            raise TokenizerError("character vocabulary entries must be single characters")
        self._points = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._lut: np.ndarray | None = None  # code point → id, built on first large encode
        self._ascii: tuple[bytes, bytes] | None = None  # (byte → id table, the ASCII bytes known)

    @classmethod
    def from_codepoints(cls, points: np.ndarray) -> CharTokenizer:
        return cls(chr(int(p)) for p in np.unique(points))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls.from_codepoints(text_to_codepoints(text))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + len(self.labels)

    def label_id(self, label: str) -> int:
        if label not in self.labels:
            raise TokenizerError(f"label {label!r} is not in this tokenizer's labels {self.labels}")
        return len(self.chars) + self.labels.index(label)

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

    def encode_ascii(self, raw: bytes) -> np.ndarray:
        """``encode_codepoints`` for pure ASCII bytes (a corpus chunk read from disk): with a
        vocabulary of at most 256 ids it is two ``bytes.translate`` passes, ~1 s per GB."""
        if self.vocab_size > 256:
            return self.encode_codepoints(np.frombuffer(raw, dtype=np.uint8))
        if self._ascii is None:
            table = bytearray(256)
            known = bytearray()
            for i, p in enumerate(self._points[self._points < 128].tolist()):
                table[p] = i
                known.append(p)
            self._ascii = (bytes(table), bytes(known))
        table, known = self._ascii
        if raw.translate(None, known):
            return self.encode_codepoints(np.frombuffer(raw, dtype=np.uint8))  # raises, naming them
        return np.frombuffer(raw.translate(table), dtype=np.uint8)

    def encode(self, data: str) -> np.ndarray:
        return self.encode_codepoints(text_to_codepoints(data))

    def decode(self, ids: Iterable[int]) -> str:
        """Characters; label ids decode to nothing."""
        chars, n = self.chars, len(self.chars)
        return "".join(chars[i] for i in map(int, ids) if i < n)

    def token_name(self, token_id: int) -> str:
        n = len(self.chars)
        return self.chars[token_id] if token_id < n else f"<{self.labels[token_id - n]}>"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "chars": "".join(self.chars)}
        if self.labels:
            out["labels"] = list(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        chars = data.get("chars")
        if not isinstance(chars, str) or not chars:
            raise TokenizerError("tokenizer field 'chars': expected a non-empty string")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise TokenizerError("tokenizer field 'labels': expected a list of strings")
        return cls(chars, labels)
