"""Text corpora: a file or a folder of UTF-8 files → a cached, memory-mapped token array.

Two streaming passes over the bytes, never the whole corpus in memory: pass 1 hashes the
bytes, counts characters and collects the vocabulary; pass 2 encodes into an ``.npy`` with
plain chunked writes. ASCII chunks are read as their bytes (no decode), so a pass runs at
disk/page-cache speed. The token cache is keyed by the SHA-256 of the contents; the scan
itself is recorded under the files' paths, sizes and modification times, so a second run
starts without reading the corpus at all. Training reads the array memory-mapped, a window
at a time.
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
CACHE_VERSION = 3


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


Chunk = bytes | np.ndarray


def _point_chunks(path: Path, digest: Any = None) -> Iterator[Chunk]:
    """``path``'s code points, a chunk at a time (hashing the raw bytes into ``digest`` if
    given). A chunk of pure ASCII (the common case) comes as its own ``bytes``, with no decode
    and no copy; anything else goes through the incremental UTF-8 decoder (a uint32 array of
    code points). Errors name the file and the byte offset."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as fh:
        while True:
            raw = fh.read(CHUNK_BYTES)
            if digest is not None:
                digest.update(raw)
            if b"\x00" in raw:
                at = offset + raw.index(b"\x00")
                raise CorpusError(f"{path}: looks binary (NUL byte at byte offset {at}), not text")
            if raw and raw.isascii() and not decoder.getstate()[0]:
                points: Chunk = raw
            else:
                try:
                    text = decoder.decode(raw, final=not raw)
                except UnicodeDecodeError as exc:
                    raise CorpusError(
                        f"{path}: not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at byte offset "
                        f"{offset + exc.start})") from None
                points = text_to_codepoints(text)
            offset += len(raw)
            if len(points):
                yield points
            if not raw:
                return


def _separator(last_point: int | None) -> bytes:
    """Files end with a blank line, so they never run together."""
    return b"\n" if last_point == 10 else b"\n\n"


def _file_chunks(path: Path) -> Iterator[Chunk]:
    """A file's code points followed by its separator."""
    last = None
    for points in _point_chunks(path):
        last = int(points[-1])
        yield points
    yield _separator(last)


def _scan_file(path: Path) -> tuple[str, int, np.ndarray, int | None]:
    """One file: SHA-256 of its bytes, number of characters, the code points that occur
    (sorted, unique), its last code point."""
    digest = hashlib.sha256()
    count, last = 0, None
    ascii_seen = b""
    wide: np.ndarray | None = None  # a mask over all of Unicode, only once a non-ASCII chunk comes
    for points in _point_chunks(path, digest):
        count += len(points)
        if isinstance(points, bytes):
            new = points.translate(None, ascii_seen)  # the bytes not seen yet: almost always none
            if new:
                ascii_seen = bytes(sorted(set(ascii_seen) | set(new)))
        else:
            if wide is None:
                wide = np.zeros(0x110000, dtype=bool)
            wide[points] = True
        last = int(points[-1])
    found = np.frombuffer(ascii_seen, dtype=np.uint8).astype(np.int64)
    if wide is not None:
        found = np.union1d(found, np.flatnonzero(wide))
    return digest.hexdigest(), count, found.astype(np.uint32), last


def _scan(files: list[Path], single: bool) -> tuple[list[Path], list[str], str, int, np.ndarray, int]:
    """Pass 1, one read of every file: the usable files (in a folder, a file that is not UTF-8
    text is skipped and reported; a single file errors), the content hash, the number of
    characters (separators included), the sorted unique code points, and how many distinct
    characters the files themselves hold."""
    good, skipped, digests = [], [], []
    count = 0
    seen = np.zeros(0x110000, dtype=bool)
    for f in files:
        try:
            sha, n, file_points, last = _scan_file(f)
        except CorpusError as exc:
            if single:
                raise
            skipped.append(str(exc))
            continue
        good.append(f)
        digests.append(sha)
        count += n + len(_separator(last))
        seen[file_points] = True
    if single:
        digest = digests[0]  # a single file hashes like sha256sum
    else:  # a folder: names matter too
        h = hashlib.sha256()
        for f, sha in zip(good, digests, strict=True):
            h.update(b"\0" + f.name.encode() + b"\0" + sha.encode())
        digest = h.hexdigest()
    content_distinct = int(seen.sum())
    seen[ord("\n")] = True
    return good, skipped, digest, count, np.flatnonzero(seen).astype(np.uint32), content_distinct


def _stat_key(files: list[Path]) -> str:
    """What the scan of these files depends on, as far as the file system says: path, size and
    modification time (ns) of each. Equal keys reuse the recorded scan instead of reading every
    byte again (a 5 GB corpus is 5 GB to read)."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for f in files:
        st = f.stat()
        h.update(f"\0{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def _cached_scan(files: list[Path], single: bool, cache: Path) -> tuple[list[Path], list[str], str, int, np.ndarray, int]:
    record = cache / f"scan-{_stat_key(files)}.json"
    if record.exists():
        try:
            r = json.loads(record.read_text())
            return ([Path(f) for f in r["files"]], r["skipped"], r["sha256"], r["count"],
                    np.asarray(r["points"], dtype=np.uint32), r["distinct"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged record: scan again and rewrite it
    good, skipped, sha, count, points, distinct = _scan(files, single)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(record.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"files": [str(f) for f in good], "skipped": skipped, "sha256": sha,
                               "count": count, "points": points.tolist(), "distinct": distinct}))
    os.replace(tmp, record)
    return good, skipped, sha, count, points, distinct


def _encode_to(path: Path, files: list[Path], tok: CharTokenizer, count: int,
               labels: list[str] | None = None) -> None:
    """Pass 2: encode into ``path`` (.npy), chunk by chunk with plain writes (a memmap's dirty
    pages would count in the process's resident memory, the whole corpus of them); atomic via
    os.replace. With ``labels`` (one per file), each file starts with its label's id."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    dtype = tok.encode_codepoints(np.zeros(0, dtype=np.uint32)).dtype
    pos = 0
    with tmp.open("wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)})
        for n, f in enumerate(files):
            if labels is not None:
                fh.write(np.array([tok.label_id(labels[n])], dtype=dtype).tobytes())
                pos += 1
            for points in _file_chunks(f):
                ids = tok.encode_ascii(points) if isinstance(points, bytes) else tok.encode_codepoints(points)
                fh.write(ids.tobytes())
                pos += len(ids)
    if pos != count:  # a file changed between the two passes
        tmp.unlink()
        raise CorpusError(f"{files[0].parent if len(files) > 1 else files[0]}: changed while it was being read "
                          f"({count} characters counted, {pos} encoded); run again")
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
    cache = cache_folder("text", cache_dir)
    files, skipped, sha, count, points, distinct = _cached_scan(list_text_files(src), src.is_file(), cache)
    if not files:
        raise CorpusError(f"{src}: no UTF-8 text files found" + (f" ({len(skipped)} skipped)" if skipped else ""))
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
