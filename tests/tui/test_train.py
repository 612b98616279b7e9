"""Pilot tests of the Train screen: a real (tiny, short) training run from the app."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select

from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.screens.train import TrainScreen
from tests.tui.conftest import wait_for


def fill(screen: TrainScreen, text: Path, budget: str) -> None:
    screen.query_one("#text", Input).value = str(text)
    screen.query_one("#preset", Select).value = "tiny"
    screen.query_one("#cell", Select).value = "gru"
    screen.query_one("#budget", Input).value = budget
    screen.query_one("#sample-every", Input).value = "20"


async def test_train_live_curves_and_the_run_appears_in_the_picker(make_app, text_file: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    app = make_app(runs=[runs])
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        fill(screen, text_file, "4")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: screen.running and screen.steps, timeout=60)
        await wait_for(pilot, lambda: not screen.running, timeout=90)
        assert not app.errors(), app.errors()
        assert len(screen.steps) > 5 and screen.val
        assert "tok/s" in str(screen.query_one("#train-stats").render()) or "finished" in str(screen.query_one("#train-stats").render())
        run = next(runs.iterdir())
        assert (run / "last.safetensors").exists()
        assert screen.query_one("#train-sample").text.strip()
        await pilot.press("f2")
        generate = app.screen
        assert isinstance(generate, GenerateScreen)
        await wait_for(pilot, lambda: any(e.name == run.name for e in generate.entries))
        entry = next(e for e in generate.entries if e.name == run.name)
        assert entry.cell == "gru"


async def test_stop_and_ctrl_q_checkpoint_a_running_training(make_app, text_file: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    app = make_app(runs=[runs])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        screen = app.screen
        fill(screen, text_file, "600")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.trainer is not None and len(screen.steps) > 3, timeout=60)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.trainer is None, timeout=60)
    run = next(runs.iterdir())
    assert (run / "last.safetensors").exists()
    assert (run / "last.state.safetensors").exists()


async def test_train_form_errors_are_notifications(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f3")
        await pilot.press("ctrl+t")
        assert "text file or a recipe" in app.errors()[-1]
        app.screen.query_one("#text", Input).value = "/no/such/file.txt"
        await pilot.press("ctrl+t")
        assert "no such file" in app.errors()[-1]
        assert not app.screen.running
