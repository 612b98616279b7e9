"""Pilot tests of the Train screen: a real (tiny, short) training run from the app."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import mido
import pytest
from textual.widgets import Input, Select

from genrnn.corpora import recipes
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


def write_midi_folder(folder: Path, files: int) -> None:
    """Small MIDI files written with mido: a seeded random melody of 48 notes each."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for i in range(files):
        mid = mido.MidiFile(ticks_per_beat=480)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        for _ in range(48):
            pitch = rng.randint(55, 79)
            track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=rng.choice([120, 240, 480])))
        mid.save(folder / f"tune{i:02d}.mid")


async def test_a_corpus_recipe_prepares_from_the_train_screen_and_trains(
        make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder recipe of 30 MIDI files, enough for the prep's process pool, picked on the
    Train screen: the corpus is prepared cold from the screen's worker thread (a thread, so the
    pool must not fork; and inside Textual, whose stderr capture has no file descriptor), then
    a short training run follows."""
    files = recipes.POOL_MIN_JOBS + 6
    write_midi_folder(tmp_path / "midi", files)
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "mine.toml").write_text(
        'source = "folder"\nfolder = "../midi"\ntokenizer = "midi_events"\nval_percent = 20\n')
    monkeypatch.chdir(tmp_path)  # the screen lists ./corpora/*.toml
    monkeypatch.setenv("GENRNN_CACHE", str(tmp_path / "cache"))  # cold: nothing prepared yet
    methods: list[str] = []
    real_context = recipes._pool_context

    def spy():  # noqa: ANN202
        ctx = real_context()
        methods.append(ctx.get_start_method())
        return ctx

    monkeypatch.setattr(recipes, "_pool_context", spy)
    runs = tmp_path / "runs"
    app = make_app(runs=[runs])
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.query_one("#recipe", Select).value = str(Path("corpora") / "mine.toml")
        screen.query_one("#preset", Select).value = "tiny"
        screen.query_one("#cell", Select).value = "gru"
        screen.query_one("#budget", Input).value = "3"
        screen.query_one("#sample-every", Input).value = "20"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: not screen.running, timeout=120)
        assert not app.errors(), app.errors()
        assert screen.steps and "finished" in str(screen.query_one("#train-stats").render())
    if (os.cpu_count() or 1) >= 2:  # the pool ran (one core: the prep runs in this process)
        assert methods == (["forkserver"] if os.name == "posix" else ["spawn"])
    metas = list((tmp_path / "cache" / "corpora").glob("mine-*/meta.json"))
    assert len(metas) == 1
    meta = json.loads(metas[0].read_text())
    assert meta["files"] == files and meta["skipped"]["count"] == 0
    run = next(runs.iterdir())
    assert (run / "last.safetensors").exists()
