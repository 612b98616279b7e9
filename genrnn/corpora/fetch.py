"""Download a corpus file once into the cache, verified by SHA-256.

Used by text recipes that name a ``url`` (e.g. Tiny Shakespeare for ``make checkpoints``).
Any URL urllib opens works, ``file://`` included (the tests use that). The file is written to
a temp name and ``os.replace``d only after its hash matches, so a broken download never
poisons the cache.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from genrnn.errors import CorpusError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, sha256: str, cache_dir: Path, name: str | None = None, timeout: float = 60.0) -> Path:
    """The cached copy of ``url``; downloaded on first use. Raises CorpusError on any failure."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / (name or f"{sha256[:16]}-{Path(url).name or 'download'}")
    if target.exists() and sha256_of(target) == sha256:
        return target
    tmp = target.with_name(f".{target.name}.part{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:  # noqa: S310
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise CorpusError(f"{url}: download failed ({exc}); download it by hand and pass the file in "
                          f"its place (--text FILE; for the copy check, --train-data FILE)") from None
    got = sha256_of(tmp)
    if got != sha256:
        tmp.unlink(missing_ok=True)
        raise CorpusError(f"{url}: SHA-256 is {got}, the recipe expects {sha256}; not using it")
    os.replace(tmp, target)
    return target
