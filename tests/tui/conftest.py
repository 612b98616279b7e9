"""The real app on a tiny checkpoint trained in the test session (``tiny_run``)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList
from textual.widgets.select import InvalidSelectValueError

from genrnn.music.notes import Note
from genrnn.tui.app import GenrnnApp
from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.takes import Take


class RecordingApp(GenrnnApp):
    """The app, remembering every notification it showed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str]] = []

    def notify(self, message: Any, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append((str(message), str(kwargs.get("severity", "information"))))
        super().notify(message, *args, **kwargs)

    def errors(self) -> list[str]:
        return [m for m, sev in self.notes if sev == "error"]


@pytest.fixture
def make_app(tiny_run: Path, tmp_path: Path) -> Callable[..., RecordingApp]:
    empty = tmp_path / "no-shipped"
    empty.mkdir()

    def make(runs: list[Path] | None = None) -> RecordingApp:
        return RecordingApp(runs=runs or [tiny_run], checkpoints=empty, save_dir=tmp_path / "takes")

    return make


async def wait_for(pilot: Pilot, condition: Callable[[], Any], timeout: float = 30.0) -> None:
    """Let the app run until ``condition()`` is true (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


async def save_take(pilot: Pilot, take: Any, folder: Path) -> None:
    """Save the shown ``take`` as a user does (ctrl+s, a folder typed, ctrl+s again) and wait
    until every one of its formats is on disk."""
    from textual.widgets import Input

    from genrnn.tui.screens.files import SaveDialog

    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SaveDialog))
    pilot.app.screen.query_one("#save-folder", Input).value = str(folder)
    await pilot.press("ctrl+s")
    for fmt in take.formats:
        await wait_for(pilot, (folder / f"{take.stem}.{fmt}").exists, timeout=60)


def endings(app: RecordingApp, take: Take) -> list[str]:
    """The Playback notifications about ``take`` (one per player that ran and ended)."""
    return [m for m, _ in app.notes if m.startswith(("played", "stopped")) and f"take #{take.number} to" in m]


async def choose_socket_port(pilot, screen, address: str) -> None:  # noqa: ANN001
    """Pick the HOST:PORT output and type ``address``. The port list fills in from a worker (the
    audio probe can take a moment): wait until the socket entry exists."""

    def chosen() -> bool:
        try:
            screen.query_one("#port").value = "HOST:PORT"
        except InvalidSelectValueError:
            return False
        return True

    await wait_for(pilot, chosen)
    set_input(screen, "socket", address)


def music_take() -> Take:
    """A MIDI-events take built from notes: an arpeggio up and down, 2 s."""
    pitches = [60, 64, 67, 72, 67, 64, 60, 55]
    notes = [Note(p, 90, i * 0.25, i * 0.25 + 0.2) for i, p in enumerate(pitches)]
    return Take(0, "arpeggio", "midi_events", 0.8, notes=notes)


def set_input(screen: GenerateScreen, id: str, value: str) -> None:
    screen.query_one(f"#{id}", Input).value = value


SHIPPED_BACH = Path(__file__).resolve().parents[2] / "checkpoints" / "bach.safetensors"


def app_with_bach(tmp_path: Path, runs: list[Path]) -> RecordingApp:
    """The app with a copy of the shipped Bach model as its only shipped model, and ``runs``."""
    shipped = tmp_path / "shipped"
    shipped.mkdir(exist_ok=True)
    shutil.copyfile(SHIPPED_BACH, shipped / "bach.safetensors")
    return RecordingApp(runs=runs, checkpoints=shipped, save_dir=tmp_path / "takes")


async def pick_kind(pilot: Pilot, screen: GenerateScreen, kind: str) -> None:
    """Highlight the first model of ``kind`` in the picker, as a user does, and wait for it. Its
    messages come in order, so the first model's own highlight, still queued at start-up,
    cannot undo the choice."""
    await wait_for(pilot, lambda: screen.entry is not None)
    models = screen.query_one("#models", OptionList)
    models.highlighted = next(i for i, e in enumerate(screen.entries) if e.kind == kind)
    await wait_for(pilot, lambda: screen.entry.kind == kind and screen.panel.music == (kind == "midi_events"))
