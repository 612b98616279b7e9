import numpy as np
import pytest

from genrnn.corpora.text import prepare_text
from genrnn.errors import CorpusError


def test_file_becomes_memmapped_split(text_file):
    corpus = prepare_text(text_file)
    assert isinstance(corpus.train, np.memmap) and isinstance(corpus.val, np.memmap)
    n = corpus.num_tokens
    assert len(corpus.train) == int(n * 0.9)
    text = text_file.read_text()
    assert corpus.tokenizer.decode(corpus.train[:200]) == text[:200]
    assert corpus.meta["sha256"] and corpus.meta["kind"] == "text"


def test_cache_is_reused(text_file):
    a = prepare_text(text_file)
    b = prepare_text(text_file)
    assert a.meta["cache"] == b.meta["cache"]


def test_folder_is_recursive_with_separators_and_skips_binary(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "sub" / "b.md").write_text("beta\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\xff\xfe")
    corpus = prepare_text(tmp_path)
    full = corpus.tokenizer.decode(np.concatenate([corpus.train, corpus.val]))
    assert full == "alpha\n\nbeta\n\n"
    assert corpus.meta["files"] == 2 and corpus.meta["skipped_files"] == 1


def test_not_utf8_names_byte_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"hello caf" + "é".encode("latin-1") + b" more")
    with pytest.raises(CorpusError, match=r"latin1.txt: not UTF-8 text \(invalid byte 0xe9 at byte offset 9\)"):
        prepare_text(p)


@pytest.mark.parametrize("content, words", [("", "empty"), ("aaaa", "fewer than two distinct")])
def test_empty_and_one_character_corpus(tmp_path, content, words):
    p = tmp_path / "c.txt"
    p.write_text(content)
    with pytest.raises(CorpusError, match=words):
        prepare_text(p)


def test_missing_path(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        prepare_text(tmp_path / "nope.txt")


def test_single_file_hash_is_the_files_sha256(text_file):
    import hashlib

    assert prepare_text(text_file).meta["sha256"] == hashlib.sha256(text_file.read_bytes()).hexdigest()
