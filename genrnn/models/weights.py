"""PyTorch modules in and out of genrnn files (genrnn/fileformat.py): every model kind's weights
go through these three functions, and a language model's file through ``save_model`` and
``load_module``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrnn import fileformat
from genrnn.config import to_dict
from genrnn.models.info import ModelInfo
from genrnn.models.rnn import RNNLanguageModel
from genrnn.tokenizers import Tokenizer


def file_tensors(state: dict[str, torch.Tensor], dtype: torch.dtype | None = None
                 ) -> dict[str, np.ndarray | fileformat.Raw]:
    """A state dict as the file format takes it; floating tensors stored as ``dtype`` when
    given (``torch.bfloat16`` halves a shipped model)."""
    out: dict[str, np.ndarray | fileformat.Raw] = {}
    for name, t in state.items():
        t = t.detach().contiguous().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = fileformat.Raw("bfloat16", t.view(torch.int16).numpy()) if t.dtype == torch.bfloat16 else t.numpy()
    return out


def read_state(header: fileformat.Header) -> dict[str, torch.Tensor]:
    """Every tensor of the file as a PyTorch tensor (bfloat16 widened to float32)."""
    return {k: torch.from_numpy(v) for k, v in fileformat.read_tensors(header).items()}


def load_weights(header: fileformat.Header, module: torch.nn.Module) -> None:
    """Fill ``module`` from the file: names and shapes checked before a byte is read, then no
    NaN or infinity; every fault a CheckpointError naming the file and the tensor."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    fileformat.check_shapes(header, expected)
    arrays = fileformat.read_tensors(header)
    fileformat.check_finite(header.path, arrays)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True)


def save_model(path: str | os.PathLike[str], model: RNNLanguageModel, tokenizer: Tokenizer,
               training: dict[str, Any], dtype: torch.dtype | None = None) -> Path:
    """A language model's file: weights, config, tokenizer and training record."""
    return fileformat.write(path, fileformat.LANGUAGE_MODEL,
                            {"model_config": to_dict(model.config), "tokenizer": tokenizer.to_dict(),
                             "training": training},
                            file_tensors(model.state_dict(), dtype))


def load_module(info: ModelInfo, device: str | torch.device = "cpu") -> RNNLanguageModel:
    """The PyTorch model of a language-model file whose record ``info`` has been read."""
    model = RNNLanguageModel(info.config)
    load_weights(fileformat.read_header(info.path), model)
    return model.to(device).eval()
