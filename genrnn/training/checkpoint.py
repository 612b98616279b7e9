"""Checkpoints: safetensors weights + JSON metadata; resume state beside them. Never pickle.

``NAME.safetensors``        model weights; metadata = format, version, model config,
                            tokenizer, training record (JSON strings)
``NAME.state.safetensors``  optimizer moments, RNG states, carried hidden states; metadata =
                            step, data position, schedule clock, optimizer hyper-parameters

Both are written to a temp file in the same folder and ``os.replace``d, so a crash or kill -9
never leaves a half file. Loading validates everything before any weight is used.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from genrnn import __version__
from genrnn.config import ModelConfig, from_dict, to_dict
from genrnn.errors import CheckpointError, ConfigError, TokenizerError
from genrnn.models.checkpoint_format import (
    FORMAT,
    FORMAT_VERSION,
    STATE_FORMAT,
    resolve_checkpoint_path,
)
from genrnn.models.checkpoint_format import check_format as _check_format
from genrnn.models.checkpoint_format import json_field as _json_field
from genrnn.models.rnn import RNNLanguageModel
from genrnn.tokenizers import Tokenizer, tokenizer_from_dict


@dataclass
class Checkpoint:
    """A loaded model with everything needed to use it."""

    path: Path
    model: RNNLanguageModel
    tokenizer: Tokenizer
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def _atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model(path: str | Path, model: RNNLanguageModel, tokenizer: Tokenizer,
               training: dict[str, Any], dtype: torch.dtype | None = None) -> Path:
    """Write weights + metadata. ``dtype=torch.bfloat16`` halves the file (shipped models);
    loading always gives fp32 parameters."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "genrnn_version": __version__,
        "model_config": json.dumps(to_dict(model.config)),
        "tokenizer": json.dumps(tokenizer.to_dict()),
        "training": json.dumps(training),
    }
    state = {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    _atomic_save(state, meta, path)
    return path


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; expected a .safetensors file (or a run folder with best.safetensors)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file or damaged ({exc})") from None
    return meta, tensors


def load_model(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    path = resolve_checkpoint_path(path)
    meta, tensors = _read(path)
    _check_format(path, meta, FORMAT)
    try:
        config = from_dict(ModelConfig, _json_field(path, meta, "model_config"), where="model_config")
    except ConfigError as exc:
        raise CheckpointError(f"{path}: bad model config: {exc}") from None
    try:
        tokenizer = tokenizer_from_dict(_json_field(path, meta, "tokenizer"))
    except TokenizerError as exc:
        raise CheckpointError(f"{path}: bad tokenizer: {exc}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens but the model expects {config.vocab_size}")
    training = _json_field(path, meta, "training")
    model = RNNLanguageModel(config)
    _load_weights(path, model, tensors)
    model.to(device).eval()
    return Checkpoint(path=path, model=model, tokenizer=tokenizer, training=training)


def _load_weights(path: Path, model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{path}: weights do not match the config (missing {missing[:5]}, unexpected {extra[:5]})")
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {tuple(t.shape)}, the config needs {tuple(expected[name].shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")
    model.load_state_dict(tensors, strict=True)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Config, tokenizer summary and training record without building the model."""
    path = resolve_checkpoint_path(path)
    meta, tensors = _read(path)
    _check_format(path, meta, FORMAT)
    return {
        "model_config": _json_field(path, meta, "model_config"),
        "tokenizer": _json_field(path, meta, "tokenizer"),
        "training": _json_field(path, meta, "training"),
        "parameters": sum(t.numel() for t in tensors.values()),
        "genrnn_version": meta.get("genrnn_version"),
    }


# ---------------------------------------------------------------- training state (resume)

def state_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.replace(".safetensors", ".state.safetensors"))


def save_train_state(path: Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    meta = {"format": STATE_FORMAT, "format_version": str(FORMAT_VERSION), "info": json.dumps(info)}
    _atomic_save(tensors, meta, path)


def load_train_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    meta, tensors = _read(path)
    _check_format(path, meta, STATE_FORMAT)
    return tensors, _json_field(path, meta, "info")


def optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten an optimizer's state_dict into named tensors + JSON (no pickle)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"opt.{pid}.{key}"] = val
            else:
                scalars.setdefault(str(pid), {})[key] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           info: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        if name.startswith("opt."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = val
    for pid, sc in info.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(sc)
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
