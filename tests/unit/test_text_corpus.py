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


def test_chunks_split_inside_multibyte_characters_decode_exactly(tmp_path, monkeypatch):
    """ASCII chunks take the byte path, others the decoder; a chunk boundary inside a
    character (3 and 4 bytes long here) must not lose or garble it."""
    from genrnn.corpora import text as text_mod

    monkeypatch.setattr(text_mod, "CHUNK_BYTES", 7)
    content = "plain ascii first, then é and € and 𝄞 mixed in; ascii again at the end\n" * 3
    p = tmp_path / "mixed.txt"
    p.write_text(content, encoding="utf-8")
    corpus = prepare_text(p, cache_dir=tmp_path / "cache")
    assert corpus.tokenizer.decode(np.concatenate([corpus.train, corpus.val])) == content + "\n"  # + separator
    assert {"é", "€", "𝄞"} <= set(corpus.tokenizer.chars)


def test_ascii_fast_path_names_characters_missing_from_the_models_vocab(tmp_path):
    from genrnn.errors import TokenizerError
    from genrnn.tokenizers.chars import CharTokenizer

    p = tmp_path / "c.txt"
    p.write_text("abc xyz\n")
    with pytest.raises(TokenizerError, match=r"'x', 'y', 'z'"):
        prepare_text(p, cache_dir=tmp_path / "cache", tokenizer=CharTokenizer("abc \n"))


def test_second_prepare_reads_no_bytes_until_the_file_changes(tmp_path, monkeypatch):
    import os

    from genrnn.corpora import text as text_mod

    p = tmp_path / "c.txt"
    p.write_text("to be or not to be\n")
    first = prepare_text(p, cache_dir=tmp_path / "cache")
    scans = []
    real_scan = text_mod._scan
    monkeypatch.setattr(text_mod, "_scan", lambda *a: scans.append(a) or real_scan(*a))
    again = prepare_text(p, cache_dir=tmp_path / "cache")
    assert scans == [] and again.meta["sha256"] == first.meta["sha256"]
    p.write_text("that is the question\n")
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 1_000_000))
    changed = prepare_text(p, cache_dir=tmp_path / "cache")
    assert len(scans) == 1 and changed.tokenizer.decode(np.concatenate([changed.train, changed.val])) == (
        "that is the question\n\n")


def test_preparing_a_big_file_keeps_resident_memory_flat(tmp_path):
    """150 MB of text: the encode pass writes in chunks, so the process does not hold the
    corpus (a memmap written in place would: its dirty pages count as resident)."""
    import subprocess
    import sys

    p = tmp_path / "big.txt"
    line = b"All the world's a stage, and all the men and women merely players;\n"
    with p.open("wb") as fh:
        for _ in range(150_000_000 // len(line)):
            fh.write(line)
    # VmHWM: this process image's own peak. ru_maxrss would not do: Linux carries the forking
    # parent's peak (pytest's, hundreds of MB in a full run) across exec into the child's.
    code = ("import re, sys; from genrnn.corpora.text import prepare_text; "
            "c = prepare_text(sys.argv[1], cache_dir=sys.argv[2]); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1); "
            "print(len(c.train) + len(c.val), hwm)")
    out = subprocess.run([sys.executable, "-c", code, str(p), str(tmp_path / "cache")], check=True,
                         capture_output=True, text=True).stdout.split()
    assert int(out[0]) == p.stat().st_size + 1  # one newline of separator: the file ends with one
    assert int(out[1]) / 1024 < 120, f"peak RSS {int(out[1]) / 1024:.0f} MB for a 150 MB corpus"
