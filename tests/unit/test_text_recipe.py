import hashlib

import pytest

from genrnn import session
from genrnn.corpora.fetch import fetch
from genrnn.errors import CorpusError


def _recipe(tmp_path, url, sha):
    r = tmp_path / "t.toml"
    r.write_text(f'source = "text"\nurl = "{url}"\nsha256 = "{sha}"\nfilename = "t.txt"\n')
    return r


def test_url_recipe_downloads_once_and_trains(text_file, tmp_path):
    sha = hashlib.sha256(text_file.read_bytes()).hexdigest()
    recipe = _recipe(tmp_path, text_file.as_uri(), sha)
    corpus = session.prepare_corpus(recipe=recipe, cache_dir=tmp_path / "cache")
    cached = tmp_path / "cache" / "downloads" / "t.txt"
    assert cached.read_bytes() == text_file.read_bytes()
    assert corpus.meta["recipe_name"] == "t" and corpus.num_tokens > 1000
    mtime = cached.stat().st_mtime_ns
    session.prepare_corpus(recipe=recipe, cache_dir=tmp_path / "cache")
    assert cached.stat().st_mtime_ns == mtime  # not downloaded again


def test_wrong_hash_is_refused_and_not_cached(text_file, tmp_path):
    with pytest.raises(CorpusError, match="SHA-256 is .* the recipe expects 00"):
        fetch(text_file.as_uri(), "00" * 32, tmp_path, name="x.txt")
    assert not list(tmp_path.iterdir())


def test_unreachable_url_says_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match="download failed.*--text FILE"):
        fetch((tmp_path / "missing.txt").as_uri(), "00" * 32, tmp_path)
