"""The genrnn file format, in one place and without PyTorch: every model file genrnn writes or reads.

A genrnn file is a safetensors file (the safetensors library reads and writes it) whose
``__metadata__`` holds ``format`` (which kind of file), ``format_version``, ``genrnn_version``
and the kind's own fields as JSON strings:

=====================  =========================================================  ==========
format                 fields                                                     written by
=====================  =========================================================  ==========
genrnn-checkpoint      model_config, tokenizer, training                          genrnn train
genrnn-train-state     info (step, data position, optimizer groups)               genrnn train
genrnn-harmonizer      model_config, voices, grid, vocab, training                harmonize train
genrnn-classifier      model_config, tokenizer, classes, task, training           classify train
genrnn-feature-critic  features, classes, task, training                          classify train
=====================  =========================================================  ==========

One version rule for all: a file of a version up to this genrnn's is read (older fields are
filled in by the reader of that kind), a newer one is refused with the versions named. Files
are written to a temporary name in the same folder and ``os.replace``d, so a crash or kill -9
never leaves a half file; ``remove_stale_temps`` clears what a killed writer left. Tensors
come back as NumPy arrays, bfloat16 widened to float32 (NumPy has no bfloat16: the top half of
a float32, so widening is one shift). Never pickle.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, TensorSpec, deserialize, safe_open, serialize_file

from genrnn import __version__
from genrnn.errors import CheckpointError

LANGUAGE_MODEL = "genrnn-checkpoint"
TRAIN_STATE = "genrnn-train-state"
HARMONIZER = "genrnn-harmonizer"
CLASSIFIER = "genrnn-classifier"
FEATURE_CRITIC = "genrnn-feature-critic"
VERSIONS = {LANGUAGE_MODEL: 1, TRAIN_STATE: 1, HARMONIZER: 1, CLASSIFIER: 1, FEATURE_CRITIC: 1}
NAMES = {LANGUAGE_MODEL: ("language model", "genrnn train"), TRAIN_STATE: ("training state", "genrnn train"),
         HARMONIZER: ("harmonizer", "genrnn harmonize train"), CLASSIFIER: ("classifier", "genrnn classify train"),
         FEATURE_CRITIC: ("feature critic", "genrnn classify train --label real")}
# What a run folder means, in this order: a language model's best, else its last checkpoint;
# a harmonizer run's best; a classifier run's classifier.
RUN_FILES = ("best.safetensors", "last.safetensors", "classifier.safetensors")
KINDS = {"chars": "text", "text": "text", "abc": "abc", "midi_events": "midi_events"}

_NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp(?P<pid>\d+)$")


@dataclass(frozen=True)
class Raw:
    """A tensor NumPy has no dtype for: its bits in an array of the same width, and the dtype
    safetensors is to record (``Raw("bfloat16", bits_uint16)``: what a PyTorch writer passes)."""

    dtype: str
    bits: np.ndarray


def resolve(path: str | os.PathLike[str]) -> Path:
    """A file as given; a run folder means the first of ``RUN_FILES`` it holds."""
    p = Path(path)
    if not p.is_dir():
        return p
    for name in RUN_FILES:
        if (p / name).is_file():
            return p / name
    raise CheckpointError(f"{p}: a folder without {', '.join(RUN_FILES)}; give a .safetensors file or a "
                          f"run folder")


@dataclass(frozen=True)
class Header:
    """A genrnn file's metadata and tensor shapes, read without touching the weights."""

    path: Path
    meta: dict[str, str]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]

    @property
    def format(self) -> str:
        return self.meta.get("format", "")

    @property
    def version(self) -> int:
        raw = self.meta.get("format_version", "")
        try:
            return int(raw)
        except ValueError:
            raise CheckpointError(f"{self.path}: metadata 'format_version' {raw!r} is not an integer") from None

    @property
    def parameters(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())

    def field(self, name: str) -> Any:
        """A metadata field, JSON-decoded; missing or broken → CheckpointError naming both."""
        if name not in self.meta:
            raise CheckpointError(f"{self.path}: metadata field {name!r} is missing")
        try:
            return json.loads(self.meta[name])
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{self.path}: metadata field {name!r} is not valid JSON ({exc.msg})") from None

    def table(self, name: str) -> dict[str, Any]:
        """A field that must be a JSON object."""
        value = self.field(name)
        if not isinstance(value, dict):
            raise CheckpointError(f"{self.path}: metadata field {name!r} must be a JSON object, "
                                  f"not {type(value).__name__}")
        return value

    def expect(self, fmt: str) -> Header:
        """This header, if it is a ``fmt`` file of a version this genrnn reads; else one line
        that says what the file is instead (another genrnn kind, or not genrnn's at all)."""
        name, command = NAMES[fmt]
        if self.format != fmt:
            if self.format in NAMES:
                raise CheckpointError(f"{self.path}: a genrnn {NAMES[self.format][0]}, not a {name}; "
                                      f"make one with `{command}`")
            raise CheckpointError(f"{self.path}: not a genrnn {name} (metadata 'format' is "
                                  f"{self.meta.get('format')!r}, expected {fmt!r})")
        if self.version > VERSIONS[fmt]:
            raise CheckpointError(f"{self.path}: {name} format version {self.version} is newer than this "
                                  f"genrnn ({__version__}) reads (≤ {VERSIONS[fmt]}); upgrade genrnn")
        return self

    @property
    def kind(self) -> str:
        """A language model's kind: "text", "abc" or "midi_events" (the corpus's, else the
        tokenizer's; a char tokenizer is "text")."""
        corpus = self.table("training").get("corpus") or {}
        raw = corpus.get("kind") if isinstance(corpus, dict) else None
        return model_kind(raw, self.table("tokenizer").get("kind"))


def model_kind(corpus_kind: Any, tokenizer_kind: Any) -> str:
    """The one rule for a language model's kind: the corpus's, else the tokenizer's, with a
    char tokenizer's "chars" read as "text"."""
    raw = str(corpus_kind or tokenizer_kind or "text")
    return KINDS.get(raw, raw)


def read_header(path: str | os.PathLike[str]) -> Header:
    """The header of a genrnn file (a run folder means its file: ``resolve``)."""
    p = resolve(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint")
    try:
        with safe_open(str(p), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            shapes, dtypes = {}, {}
            for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                piece = f.get_slice(name)
                shapes[name] = tuple(int(d) for d in piece.get_shape())
                dtypes[name] = str(piece.get_dtype())
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a safetensors file or damaged ({exc})") from None
    return Header(p, {str(k): str(v) for k, v in meta.items()}, shapes, dtypes)


def read_tensors(header: Header) -> dict[str, np.ndarray]:
    """Every tensor of the file, as NumPy arrays (bfloat16 widened to float32)."""
    try:
        items = deserialize(header.path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{header.path}: not a safetensors file or damaged ({exc})") from None
    out = {}
    for name, spec in items:
        code = header.dtypes.get(name, "")
        if code not in _NUMPY:
            raise CheckpointError(f"{header.path}: tensor {name!r} has dtype {code or '?'}, which genrnn does not read")
        arr = np.frombuffer(spec["data"], dtype=_NUMPY[code]).reshape(spec["shape"])
        out[name] = (arr.astype(np.uint32) << 16).view(np.float32) if code == "BF16" else arr.copy()
    return out


def check_shapes(header: Header, expected: dict[str, tuple[int, ...]]) -> None:
    """The file's tensors are exactly ``expected`` (names and shapes), or one line saying how not."""
    missing = sorted(set(expected) - set(header.shapes))
    extra = sorted(set(header.shapes) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{header.path}: weights do not match the config (missing {missing[:5]}, "
                              f"unexpected {extra[:5]})")
    for name, shape in expected.items():
        if tuple(header.shapes[name]) != tuple(shape):
            raise CheckpointError(f"{header.path}: tensor {name!r} has shape {header.shapes[name]}, the config "
                                  f"needs {tuple(shape)}")


def check_finite(path: Path, tensors: dict[str, np.ndarray]) -> None:
    for name, arr in tensors.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")


def write(path: str | os.PathLike[str], fmt: str, fields: dict[str, Any],
          tensors: dict[str, np.ndarray | Raw]) -> Path:
    """Write a ``fmt`` file atomically: ``fields`` as JSON metadata beside format, version and
    genrnn version; ``tensors`` NumPy arrays or ``Raw`` bytes."""
    path = Path(path)
    meta = {"format": fmt, "format_version": str(VERSIONS[fmt]), "genrnn_version": __version__,
            **{k: json.dumps(v) for k, v in fields.items()}}
    alive, specs = [], {}  # the specs point into these arrays: they must outlive serialize_file
    for name, t in tensors.items():
        raw = t.bits if isinstance(t, Raw) else t
        arr = np.ascontiguousarray(raw).reshape(np.shape(raw))  # (ascontiguousarray makes a 0-d array 1-d)
        alive.append(arr)
        specs[name] = TensorSpec(dtype=t.dtype if isinstance(t, Raw) else arr.dtype.name, shape=arr.shape,
                                 data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        serialize_file(specs, str(tmp), metadata=meta)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that writers killed mid-write (kill -9, power loss) left in
    ``folder``: ``.NAME.tmpPID`` whose process is gone. Returns what was removed."""
    removed = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        m = _TEMP.match(p.name)
        if m and p.is_file() and not _alive(int(m.group("pid"))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
