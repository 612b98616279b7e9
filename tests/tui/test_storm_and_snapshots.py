"""Snapshots of each screen, and a seeded storm of 2,000 random keys on each without a crash.

Public Textual API only: keys go in through ``App.post_message``, and the test waits on
``call_later`` callbacks, ``Pilot.pause`` and the app's own state, never on Textual's driver or
message queue."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from textual import events
from textual.keys import key_to_character
from textual.pilot import Pilot
from textual.screen import ModalScreen

from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.screens.train import TrainScreen
from tests.tui.conftest import wait_for

STORM_KEYS = 2000
# Textual's key names; each is sent with the character a terminal would send with it.
CHARACTERS = {"full_stop": ".", "comma": ",", "semicolon": ";", "colon": ":", "minus": "-",
              "slash": "/", "enter": "\r"}
KEYS = [
    *"abcdefghijklmnopqrstuvwxyz0123456789", *CHARACTERS,
    "left_square_bracket", "right_square_bracket", "question_mark", "space", "tab", "shift+tab",
    "escape", "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
    "backspace", "delete", "ctrl+s", "ctrl+o", "ctrl+x", "ctrl+r", "ctrl+t", "f1",
]
# What a storm can start that could run on (it types into every field it reaches):
#   g       a stream of any length or seconds typed into the length field (stop: Escape)
#   space   playback of a music take (the tiny model writes text, so nothing to play here)
#   ctrl+t  a corpus prep and a training run of any budget typed, from a path typed ("..")
#   ctrl+s  a save, ctrl+r a rescan: short
# The test stops them all through the app, as a user would, and fails if any does not end.


def key_event(key: str) -> events.Key:
    return events.Key(key, CHARACTERS.get(key, key_to_character(key)))


async def handled(pilot: Pilot, timeout: float = 120.0) -> None:
    """Until the app has handled every message posted so far. Its queue is first in, first
    out: a ``call_later`` callback posted now runs after the keys ahead of it; Pilot.pause then
    lets the widgets handle the keys the app forwarded to them."""
    done = asyncio.Event()
    assert pilot.app.call_later(done.set)
    await asyncio.wait_for(done.wait(), timeout)
    await pilot.pause()
    await pilot.pause()


async def storm(pilot: Pilot, seed: int) -> None:
    """Keys back to back, without Pilot.press's wait for an idle CPU (which waits up to a
    second per key while a stream is generating), then until every one has been handled."""
    rng = random.Random(seed)
    app = pilot.app
    for _ in range(STORM_KEYS):
        event = key_event(rng.choice(KEYS))
        event.set_sender(app)
        assert app.post_message(event)
        await asyncio.sleep(0)
    await handled(pilot)


async def stop_everything(pilot: Pilot) -> None:
    """Close the dialogs, stop what the storm started (a stream, a playback, a training run),
    and wait until all of it has finished: the takes are done, nothing plays, no training runs
    and no worker is left (a cancelled thread worker leaves the list at once, its thread only
    when its work notices: hence the app's own state, not only ``app.workers``)."""
    app = pilot.app
    while isinstance(app.screen, ModalScreen):
        await app.pop_screen()
    generate = app.get_screen("generate")
    assert isinstance(generate, GenerateScreen)
    generate.stop_stream()
    app.player.stop()
    train = app.screen if isinstance(app.screen, TrainScreen) else None
    if train is not None:
        train.action_stop()

    def finished() -> bool:
        return (all(take.done for take in generate.takes) and not app.player.playing
                and (train is None or not train.running) and app.trainer is None
                and not any(worker.is_running for worker in app.workers))

    try:
        await wait_for(pilot, finished, timeout=120)
    except AssertionError:
        raise AssertionError(
            f"the storm started work that did not stop: takes not done "
            f"{[t.number for t in generate.takes if not t.done]}, playing {app.player.playing}, "
            f"training {train is not None and train.running}, workers {list(app.workers)}") from None


@pytest.mark.parametrize("screen_name", ["generate", "train"])
async def test_key_storm(make_app, screen_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no recipes here: the recipe list is empty
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, GenerateScreen) and app.screen.entries)
        if screen_name == "train":
            await pilot.press("f3")
            assert isinstance(app.screen, TrainScreen)
        await storm(pilot, seed=1234 if screen_name == "generate" else 4321)
        assert app.is_running and app.return_code is None
        await stop_everything(pilot)
        expected = GenerateScreen if screen_name == "generate" else TrainScreen
        assert isinstance(app.screen, expected)


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
