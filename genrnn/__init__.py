"""genrnn: recurrent language models for text and symbolic music."""

__version__ = "0.1.0"
