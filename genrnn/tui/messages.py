"""Messages the workers post up to the screens (attributes go down, messages come up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message

from genrnn.tui.catalog import ModelEntry
from genrnn.tui.engine import Chunk
from genrnn.tui.takes import Take


class ModelsScanned(Message):
    def __init__(self, entries: list[ModelEntry], problems: list[str], select: Path | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.problems = problems
        self.select = select


class PortsListed(Message):
    def __init__(self, ports: list[tuple[str, str, bool]], os_error: str | None) -> None:
        super().__init__()
        self.ports = ports
        self.os_error = os_error


class StreamChunk(Message):
    """Tokens that arrived since the last chunk (about every 30 ms)."""

    def __init__(self, take: Take, chunk: Chunk) -> None:
        super().__init__()
        self.take = take
        self.chunk = chunk


class GenerationFailed(Message):
    def __init__(self, take: Take, error: str) -> None:
        super().__init__()
        self.take = take
        self.error = error


class PlaybackEnded(Message):
    def __init__(self, take: Take, summary: str, error: str | None = None) -> None:
        super().__init__()
        self.take = take
        self.summary = summary
        self.error = error


class TakeSaved(Message):
    def __init__(self, paths: list[Path], errors: list[str]) -> None:
        super().__init__()
        self.paths = paths
        self.errors = errors


class RunCreated(Message):
    """A training run wrote a checkpoint: the Generate picker should list it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class TrainProgress(Message):
    """Steps since the last post: (step, loss, grad norm) rows plus the latest figures."""

    def __init__(self, rows: list[tuple[int, float, float]], step: int, tok_s: float,
                 progress: float, elapsed: float) -> None:
        super().__init__()
        self.rows = rows
        self.step = step
        self.tok_s = tok_s
        self.progress = progress
        self.elapsed = elapsed


class TrainEval(Message):
    def __init__(self, step: int, val_loss: float, best: bool) -> None:
        super().__init__()
        self.step = step
        self.val_loss = val_loss
        self.best = best


class TrainSample(Message):
    def __init__(self, step: int, text: str) -> None:
        super().__init__()
        self.step = step
        self.text = text


class TrainFinished(Message):
    def __init__(self, out_dir: Path | None, result: dict[str, Any], error: str | None = None) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.result = result
        self.error = error
