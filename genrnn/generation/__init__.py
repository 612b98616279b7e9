"""Sampling and the streaming Generator."""

from genrnn.generation.stream import Generator, Step

__all__ = ["Generator", "Step"]
