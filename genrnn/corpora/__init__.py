"""Corpora: text files and recipes (corpora/*.toml) turned into cached token arrays."""

from genrnn.corpora.base import PreparedCorpus

__all__ = ["PreparedCorpus"]
