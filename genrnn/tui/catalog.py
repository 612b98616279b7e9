"""The models a user can pick: shipped checkpoints and trained runs, read without torch.

Only each file's header is read (genrnn/fileformat.py: config, tokenizer, training record and
tensor shapes), which keeps the picker instant at launch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from genrnn import fileformat
from genrnn.errors import CheckpointError

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
    labels: tuple[str, ...] = ()  # what it was trained to be conditioned on (``mode=minor``, ``file=hamlet``)

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


def describe(path: Path, origin: str, name: str | None = None) -> ModelEntry:
    """A ModelEntry from the header of ``path``; CatalogError when it is not a genrnn model."""
    try:
        header = fileformat.read_header(path)
        if header.format in fileformat.NAMES and header.format != fileformat.LANGUAGE_MODEL:
            raise OtherGenrnnModel(f"{path}: a {fileformat.NAMES[header.format][0]}, not a language model")
        header.expect(fileformat.LANGUAGE_MODEL)
        config, training = header.table("model_config"), header.table("training")
        kind = header.kind
        labels = tuple(str(lb) for lb in header.table("tokenizer").get("labels") or ())
    except CheckpointError as exc:
        raise CatalogError(str(exc)) from None
    val = training.get("best_val_loss", training.get("val_loss"))
    return ModelEntry(path, name or path.stem, origin, kind, str(config.get("cell", "?")), header.parameters,
                      float(val) if isinstance(val, int | float) else None, path.stat().st_mtime, labels)


def run_checkpoint(run: Path) -> Path | None:
    """The file a run folder means (fileformat.resolve), or None for a folder of no run."""
    try:
        return fileformat.resolve(run)
    except CheckpointError:
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
