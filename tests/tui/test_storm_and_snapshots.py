"""Snapshots of each screen, and a seeded storm of 2,000 random keys on each without a crash."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot

from genrnn.tui.screens.generate import GenerateScreen
from tests.tui.conftest import wait_for

STORM_KEYS = 2000
KEYS = [
    *"abcdefghijklmnopqrstuvwxyz0123456789.,;:-/ ",
    "left_square_bracket", "right_square_bracket", "question_mark", "space", "tab", "shift+tab",
    "enter", "escape", "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
    "backspace", "delete", "ctrl+s", "ctrl+o", "ctrl+x", "ctrl+r", "ctrl+t", "f1",
]


def key_event(key: str) -> events.Key:
    char = {"space": " ", "tab": "\t", "enter": "\r", "left_square_bracket": "[",
            "right_square_bracket": "]", "question_mark": "?"}.get(key, key if len(key) == 1 else None)
    return events.Key(key if len(key) != 1 or key.isalnum() else _character_to_key(key), char)


async def storm(pilot: Pilot, seed: int) -> None:
    """Keys back to back, without Pilot.press's wait for an idle CPU
    (which waits up to a second per key while a stream is generating)."""
    rng = random.Random(seed)
    driver = pilot.app._driver
    assert driver is not None
    for _ in range(STORM_KEYS):
        event = key_event(rng.choice(KEYS))
        event.set_sender(pilot.app)
        driver.send_message(event)
        await asyncio.sleep(0)
    # Let the app work through every queued key before the test goes on: on a slow hour of the
    # CI machine, keys still queued when run_test shut the app down met an empty screen stack.
    for _ in range(600):
        await pilot.pause(0.05)
        if pilot.app._message_queue.empty():
            break
    await pilot.pause(0.3)
    assert pilot.app.is_running and pilot.app._message_queue.empty()


@pytest.mark.parametrize("screen_name", ["generate", "train"])
async def test_key_storm(make_app, screen_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no recipes here: a storm cannot start a long corpus build
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, GenerateScreen) and app.screen.entries)
        if screen_name == "train":
            await pilot.press("f3")
        await storm(pilot, seed=1234 if screen_name == "generate" else 4321)
        app.player.stop()
        if app.trainer is not None:
            app.trainer.request_stop()
        await pilot.pause(0.2)


async def _wait_for_models(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GenerateScreen) and pilot.app.screen.entries)
    await pilot.pause(0.2)


def test_snapshot_generate_80x24(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_wait_for_models)


def test_snapshot_generate_200x60(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(200, 60), run_before=_wait_for_models)


def test_snapshot_train_80x24(make_app, snap_compare) -> None:
    async def before(pilot: Pilot) -> None:
        await _wait_for_models(pilot)
        await pilot.press("f3")
        await pilot.pause(0.3)
        # No focused Input: a blinking cursor made this snapshot depend on timing.
        pilot.app.set_focus(None)
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=before)


def test_snapshot_help(make_app, snap_compare) -> None:
    async def before(pilot: Pilot) -> None:
        await _wait_for_models(pilot)
        await pilot.press("f1")
        await pilot.pause(0.3)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=before)
