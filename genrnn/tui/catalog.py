"""The models a user can pick: shipped checkpoints and trained runs, read without torch.

A safetensors file starts with an 8-byte little-endian header length and a JSON header that
holds each tensor's shape and the ``__metadata__`` strings genrnn writes (model config,
tokenizer, training record). Reading only that header keeps the picker instant at launch.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_HEADER = 100 * 1024 * 1024
KIND_NAMES = {"text": "text", "chars": "text", "abc": "ABC", "midi_events": "MIDI events"}
RUNS_ENV = "GENRNN_RUNS"  # extra folder of run folders (os.pathsep-separated)


class CatalogError(Exception):
    """A file that is not a readable genrnn checkpoint."""


class OtherGenrnnModel(CatalogError):
    """A genrnn file of another kind (a harmonizer, a classifier): not for the picker, not a problem."""


@dataclass(frozen=True)
class ModelEntry:
    """One pickable model, described from its safetensors header."""

    path: Path
    name: str
    origin: str  # "shipped" | "run"
    kind: str  # "text" | "abc" | "midi_events"
    cell: str
    parameters: int
    val_loss: float | None
    mtime: float

    @property
    def is_music(self) -> bool:
        return self.kind == "midi_events"

    @property
    def label(self) -> str:
        loss = f"{self.val_loss:.3f}" if self.val_loss is not None else "—"
        return f"{self.name}  {KIND_NAMES.get(self.kind, self.kind)} · {self.cell} · {human_size(self.parameters)} · val {loss}"


def human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000:
        return f"{n / 1e3:.0f}k"
    return str(n)


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (json + struct only)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise CatalogError(f"{path}: too short to be a safetensors file")
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER:
                raise CatalogError(f"{path}: header of {size} bytes; not a safetensors file")
            header = json.loads(fh.read(size))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: not a readable safetensors file ({exc})") from None
    if not isinstance(header, dict):
        raise CatalogError(f"{path}: safetensors header is not a table")
    return header


def _json(meta: dict[str, str], name: str, path: Path) -> Any:
    try:
        return json.loads(meta[name])
    except (KeyError, ValueError):
        raise CatalogError(f"{path}: metadata field {name!r} missing or not JSON") from None


def describe(path: Path, origin: str, name: str | None = None) -> ModelEntry:
    """A ModelEntry from the header of ``path``; CatalogError when it is not a genrnn model."""
    header = read_header(path)
    meta = header.get("__metadata__") or {}
    fmt = str(meta.get("format", ""))
    if fmt != "genrnn-checkpoint":
        if fmt.startswith("genrnn-"):
            raise OtherGenrnnModel(f"{path}: a {fmt.removeprefix('genrnn-')}, not a language model")
        raise CatalogError(f"{path}: not a genrnn checkpoint")
    config = _json(meta, "model_config", path)
    tokenizer = _json(meta, "tokenizer", path)
    training = _json(meta, "training", path)
    params = sum(math.prod(t.get("shape", [])) for k, t in header.items() if k != "__metadata__")
    kind = str((training.get("corpus") or {}).get("kind") or tokenizer.get("kind", "text"))
    kind = "text" if kind == "chars" else kind
    val = training.get("best_val_loss", training.get("val_loss"))
    return ModelEntry(path, name or path.stem, origin, kind, str(config.get("cell", "?")), int(params),
                      float(val) if isinstance(val, int | float) else None, path.stat().st_mtime)


def run_checkpoint(run: Path) -> Path | None:
    for name in ("best.safetensors", "last.safetensors"):
        if (run / name).is_file():
            return run / name
    return None


def run_folders(roots: list[Path]) -> list[Path]:
    """Each root that is itself a run, and each run folder directly inside a root."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
        found.extend(c for c in candidates if run_checkpoint(c) is not None and c not in found)
    return found


def default_run_roots() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(RUNS_ENV, "").split(os.pathsep) if p]
    return [Path("runs"), *extra]


def scan(shipped_dir: Path, run_roots: list[Path]) -> tuple[list[ModelEntry], list[str]]:
    """Shipped checkpoints (sorted by name), then runs (newest first); and why any were skipped."""
    entries: list[ModelEntry] = []
    problems: list[str] = []
    shipped = sorted(shipped_dir.glob("*.safetensors")) if shipped_dir.is_dir() else []
    for path in shipped:
        if path.name.endswith(".state.safetensors"):
            continue
        try:
            entries.append(describe(path, "shipped"))
        except OtherGenrnnModel:
            continue  # e.g. the shipped harmonizer: `genrnn harmonize`, not the picker
        except CatalogError as exc:
            problems.append(str(exc))
    runs: list[ModelEntry] = []
    for run in run_folders(run_roots):
        ckpt = run_checkpoint(run)
        assert ckpt is not None
        try:
            runs.append(describe(ckpt, "run", name=run.name))
        except OtherGenrnnModel:
            continue
        except CatalogError as exc:
            problems.append(str(exc))
    runs.sort(key=lambda e: e.mtime, reverse=True)
    return entries + runs, problems


def default_choice(entries: list[ModelEntry]) -> int | None:
    """The shipped text model if there is one, else the first entry."""
    for i, entry in enumerate(entries):
        if entry.origin == "shipped" and entry.kind == "text":
            return i
    return 0 if entries else None
