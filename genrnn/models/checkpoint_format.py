"""The checkpoint file format, without PyTorch: names, metadata checks, and a NumPy reader.

A checkpoint is a safetensors file (8-byte little-endian header length, a JSON header, raw
little-endian tensor bytes) whose ``__metadata__`` holds ``format``, ``format_version``,
``model_config``, ``tokenizer`` and ``training`` as JSON strings. ``training/checkpoint.py``
writes and loads it into PyTorch; ``read_numpy`` reads it into NumPy arrays for the torch-free
sampler (``generation/light.py``). The safetensors package's own NumPy loader cannot read
bfloat16 (NumPy has no such type), and the shipped models are bfloat16: a bfloat16 is the top
half of a float32, so widening it is one shift.
"""

from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path
from typing import Any

import numpy as np

from genrnn import __version__
from genrnn.errors import CheckpointError

FORMAT = "genrnn-checkpoint"
FORMAT_VERSION = 1
STATE_FORMAT = "genrnn-train-state"
MAX_HEADER_BYTES = 100 << 20
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64,
           "I64": np.int64, "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A run folder means its best (else last) checkpoint."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.safetensors", "last.safetensors"):
            if (p / name).exists():
                return p / name
    return p


def json_field(path: Path, meta: dict[str, str], name: str) -> Any:
    if name not in meta:
        raise CheckpointError(f"{path}: metadata field {name!r} is missing")
    try:
        return json.loads(meta[name])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: metadata field {name!r} is not valid JSON ({exc.msg})") from None


def check_format(path: Path, meta: dict[str, str], expected: str) -> None:
    if meta.get("format") != expected:
        raise CheckpointError(f"{path}: not a genrnn file (metadata 'format' is {meta.get('format')!r}, expected {expected!r})")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path}: metadata 'format_version' {meta.get('format_version')!r} is not an integer") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {version} is newer than this genrnn ({__version__}) reads "
            f"(≤ {FORMAT_VERSION}); upgrade genrnn")


def read_numpy(path: str | Path, tensors_too: bool = True) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """(metadata, float32/integer arrays) of a safetensors file, bfloat16 widened to float32;
    ``tensors_too=False`` reads the header only (no tensor bytes are touched)."""
    path = Path(path)
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if len(mm) < 8:
                raise ValueError("shorter than a header")
            (n,) = struct.unpack("<Q", mm[:8])
            if n > min(MAX_HEADER_BYTES, len(mm) - 8):
                raise ValueError(f"header length {n} does not fit the file")
            header = json.loads(bytes(mm[8:8 + n]))
            meta = header.pop("__metadata__", None) or {}
            base, tensors = 8 + n, {}
            for name, info in header.items() if tensors_too else ():
                dtype = _DTYPES.get(info.get("dtype"))
                start, end = info["data_offsets"]
                if dtype is None or not 0 <= start <= end <= len(mm) - base:
                    raise ValueError(f"tensor {name!r}: unsupported dtype or offsets out of the file")
                shape = tuple(int(d) for d in info["shape"])
                raw = np.frombuffer(mm, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize,
                                    offset=base + start).copy()  # a copy: the map closes below
                if info["dtype"] == "BF16":
                    raw = (raw.astype(np.uint32) << 16).view(np.float32)
                tensors[name] = raw.reshape(shape)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder; expected a .safetensors file") from None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file or damaged ({exc})") from None
    return {str(k): str(v) for k, v in meta.items()}, tensors
