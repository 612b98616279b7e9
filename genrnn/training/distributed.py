"""Data-parallel training under ``torchrun``: gloo on CPU, nccl on GPUs.

Without torchrun's environment (``WORLD_SIZE`` unset or 1) every function here is a no-op, so
the trainer has one code path. Each rank trains on its own slice of the B×world streams; only
rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    return world_size() > 1


def init(device_type: str) -> None:
    if is_distributed() and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend=backend)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``model`` when running under torchrun."""
    if not is_distributed():
        return model
    init(device.type)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if it is true on any (used for a common stop decision)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def gather_state(state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Concatenate every rank's carried hidden state along the stream axis (for resume)."""
    if not is_distributed():
        return state
    out = []
    for s in state:
        parts = [torch.empty_like(s) for _ in range(world_size())]
        dist.all_gather(parts, s.contiguous())
        out.append(torch.cat(parts, dim=1))
    return tuple(out)
