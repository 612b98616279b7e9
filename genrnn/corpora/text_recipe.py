"""Text recipes: ``source = "text"`` with a ``file`` (relative to the recipe) or a ``url`` +
``sha256`` downloaded once into the cache. They encode like ``genrnn train --text``."""

from __future__ import annotations

from pathlib import Path

from genrnn.config import load_toml
from genrnn.corpora.base import PreparedCorpus, cache_folder
from genrnn.corpora.fetch import fetch
from genrnn.corpora.text import prepare_text
from genrnn.errors import ConfigError


def is_text_recipe(path: str | Path) -> bool:
    p = Path(path)
    return p.suffix == ".toml" and p.is_file() and load_toml(p).get("source") == "text"


def resolve_text_source(path: str | Path, cache_dir: str | Path | None = None) -> Path:
    p = Path(path)
    data = load_toml(p)
    if data.get("file"):
        return (p.parent / str(data["file"])).resolve()
    url, sha = data.get("url"), data.get("sha256")
    if not url or not sha:
        raise ConfigError(f"{p}: a text recipe needs `file = \"...\"` or both `url` and `sha256`")
    return fetch(str(url), str(sha), cache_folder("downloads", cache_dir), name=data.get("filename"))


def prepare_text_recipe(path: str | Path, cache_dir: str | Path | None = None, tokenizer=None) -> PreparedCorpus:  # noqa: ANN001
    source = resolve_text_source(path, cache_dir)
    corpus = prepare_text(source, cache_dir=cache_dir, tokenizer=tokenizer)
    corpus.meta.update({"recipe": str(path), "recipe_name": Path(path).stem})
    return corpus
