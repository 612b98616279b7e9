"""Text corpora: a file or a folder of UTF-8 files → a cached, memory-mapped token array.

Two streaming passes over the bytes, never the whole corpus as one Python string:
pass 1 hashes the bytes, counts characters and collects the vocabulary; pass 2 encodes
into an ``.npy`` written through ``np.lib.format.open_memmap``. The cache is keyed by the
SHA-256 of the contents, so a second run starts at once.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.corpora.base import PreparedCorpus, cache_folder
from genrnn.errors import ConfigError, CorpusError
from genrnn.tokenizers.chars import CharTokenizer, text_to_codepoints

CHUNK_BYTES = 4 << 20
VAL_FRACTION = 0.1
CACHE_VERSION = 2


def list_text_files(path: Path) -> list[Path]:
    """``path`` itself, or every regular file under it (sorted, hidden entries skipped)."""
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
    return files


def _decoded_chunks(path: Path, digest: Any = None) -> Iterator[str]:
    """Decode ``path`` as UTF-8 in chunks (hashing the raw bytes into ``digest`` if given);
    errors name the file and the byte offset."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as fh:
        while True:
            raw = fh.read(CHUNK_BYTES)
            if digest is not None:
                digest.update(raw)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                raise CorpusError(
                    f"{path}: not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at byte offset "
                    f"{offset + exc.start})") from None
            if "\x00" in text:
                at = offset + len(text[: text.index("\x00")].encode("utf-8"))
                raise CorpusError(f"{path}: looks binary (NUL byte at byte offset {at}), not text")
            offset += len(raw)
            if text:
                yield text
            if not raw:
                return


def _separator(last_text: str) -> str:
    """Files end with a blank line, so they never run together."""
    return "\n" if last_text.endswith("\n") else "\n\n"


def _file_chunks(path: Path) -> Iterator[str]:
    """A file's text followed by its separator."""
    last = ""
    for text in _decoded_chunks(path):
        last = text
        yield text
    yield _separator(last)


def _usable_files(files: list[Path], single: bool) -> tuple[list[Path], list[str]]:
    """In a folder, files that are not UTF-8 text are skipped (and reported); a single file errors."""
    if single:
        return files, []
    good, skipped = [], []
    for f in files:
        try:
            for _ in _decoded_chunks(f):
                pass
        except CorpusError as exc:
            skipped.append(str(exc))
            continue
        good.append(f)
    return good, skipped


def _scan(files: list[Path]) -> tuple[str, int, np.ndarray, int]:
    """Pass 1: content hash, number of characters (separators included), sorted unique code
    points, and how many distinct characters the files themselves hold."""
    digest = hashlib.sha256()
    count = 0
    seen = np.zeros(0x110000, dtype=bool)
    separators = []
    for f in files:
        if len(files) > 1:  # a folder: names matter too; a single file hashes like sha256sum
            digest.update(b"\0" + f.name.encode() + b"\0")
        last = ""
        for text in _decoded_chunks(f, digest):
            points = text_to_codepoints(text)
            count += len(points)
            seen[points] = True
            last = text
        separators.append(_separator(last))
    content_distinct = int(seen.sum())
    seen[ord("\n")] = True
    count += sum(len(sep) for sep in separators)
    return digest.hexdigest(), count, np.flatnonzero(seen).astype(np.uint32), content_distinct


def _encode_to(path: Path, files: list[Path], tok: CharTokenizer, count: int,
               labels: list[str] | None = None) -> None:
    """Pass 2: encode into ``path`` (.npy) through a memmap; atomic via os.replace. With
    ``labels`` (one per file), each file starts with its label's id."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    dtype = tok.encode_codepoints(np.zeros(0, dtype=np.uint32)).dtype
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(count,))
    pos = 0
    for n, f in enumerate(files):
        if labels is not None:
            out[pos] = tok.label_id(labels[n])
            pos += 1
        for text in _file_chunks(f):
            ids = tok.encode_codepoints(text_to_codepoints(text))
            out[pos: pos + len(ids)] = ids
            pos += len(ids)
    out.flush()
    del out
    os.replace(tmp, path)


def file_label(root: Path, path: Path) -> str:
    """A file's conditioning label: ``file=`` and its path in the folder, without suffix."""
    return "file=" + path.relative_to(root).with_suffix("").as_posix()


def prepare_text(source: str | Path, cache_dir: str | Path | None = None,
                 tokenizer: CharTokenizer | None = None, conditioned: bool = False) -> PreparedCorpus:
    """Encode a text file or folder into the cache (``cache_dir``: its root, corpora/base.py).
    With ``tokenizer`` (resuming, evaluating) its vocab is used.
    ``conditioned``: each file of a folder starts with a label token ``file=NAME`` (one-to-many:
    ``sample --condition file=NAME`` writes in that file's manner)."""
    src = Path(source)
    if conditioned and src.is_file():
        raise ConfigError(f"--conditioned: {src} is one file; a label per file needs a folder of text files")
    files, skipped = _usable_files(list_text_files(src), single=src.is_file())
    if not files:
        raise CorpusError(f"{src}: no UTF-8 text files found" + (f" ({len(skipped)} skipped)" if skipped else ""))
    sha, count, points, distinct = _scan(files)
    if all(f.stat().st_size == 0 for f in files):
        raise CorpusError(f"{src}: the corpus is empty")
    if distinct < 2:
        raise CorpusError(f"{src}: the corpus has fewer than two distinct characters; nothing to learn")
    labels = [file_label(src, f) for f in files] if conditioned else None
    tok = tokenizer or CharTokenizer.from_codepoints(points)
    if labels is not None:
        if tokenizer is None:
            tok = CharTokenizer(tok.chars, labels)
        missing = sorted(set(labels) - set(tok.labels))
        if missing:
            raise CorpusError(f"{src}: files without a label in the model's tokenizer: {', '.join(missing[:5])}")
        count += len(files)
    vocab_key = hashlib.sha256(("".join(tok.chars) + "\0".join(tok.labels)).encode()).hexdigest()[:12]
    cache = cache_folder("text", cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    npy = cache / f"{sha[:24]}-{vocab_key}{'-labelled' if labels else ''}-v{CACHE_VERSION}.npy"
    if not npy.exists():
        _encode_to(npy, files, tok, count, labels)
    data = np.load(npy, mmap_mode="r")
    split = int(len(data) * (1 - VAL_FRACTION))
    meta = {"kind": "text", "source": str(src), "sha256": sha, "files": len(files),
            "skipped_files": len(skipped), "skipped": skipped[:50], "chars": int(count),
            "cache": str(npy), **({"labels": labels} if labels else {})}
    (cache / f"{npy.stem}.json").write_text(json.dumps(meta, indent=1))
    return PreparedCorpus(train=data[:split], val=data[split:], tokenizer=tok, meta=meta)
