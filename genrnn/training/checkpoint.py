"""Resume state beside a language model's checkpoint: ``NAME.state.safetensors`` holds the
optimizer moments, RNG states and carried hidden states as tensors, and the step, data position,
schedule clock and optimizer hyper-parameters as JSON (genrnn/fileformat.py: written atomically,
never pickled). The model's own file is ``models/weights.py``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genrnn import fileformat
from genrnn.models.weights import file_tensors, read_state


def state_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.replace(".safetensors", ".state.safetensors"))


def save_train_state(path: Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    fileformat.write(path, fileformat.TRAIN_STATE, {"info": info}, file_tensors(tensors))


def load_train_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    header = fileformat.read_header(path).expect(fileformat.TRAIN_STATE)
    return read_state(header), header.table("info")


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
