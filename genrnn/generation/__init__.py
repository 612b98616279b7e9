"""Sampling and the streaming Generator.

``Generator`` and ``Step`` load lazily: ``generation.npsample`` and ``generation.light`` must be
importable without PyTorch (``genrnn sample`` streams text before torch could have loaded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genrnn.generation.stream import Generator, Step

__all__ = ["Generator", "Step"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from genrnn.generation import stream

        return getattr(stream, name)
    raise AttributeError(f"module 'genrnn.generation' has no attribute {name!r}")
