import numpy as np
import pytest

from genrnn.errors import TokenizerError
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.chars import CharTokenizer


def test_round_trip_unicode():
    text = "Ünïcødé — “quotes” 日本語\n\ttabs"
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert ids.dtype == np.uint8 and len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.vocab_size == len(set(text))


def test_unknown_characters_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TokenizerError, match=r"'x', 'z'"):
        tok.encode("abxcz")


def test_serialises_without_pickle():
    tok = CharTokenizer.from_text("hello world")
    again = tokenizer_from_dict(tok.to_dict())
    assert again.chars == tok.chars
    with pytest.raises(TokenizerError, match="unknown tokenizer kind"):
        tokenizer_from_dict({"kind": "bpe"})
