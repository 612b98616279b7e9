"""Best of N in the TUI: the real app on the shipped Bach model with a critic beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input

from genrnn import session
from genrnn.config import sample_config
from genrnn.inference.feature_critic import FeatureCritic, save_feature_critic
from genrnn.music import features
from genrnn.music.midi_io import read_midi
from tests.tui.conftest import (
    RecordingApp,
    app_with_bach,
    pick_kind,
    save_take,
    set_input,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
BACH = REPO / "checkpoints" / "bach.safetensors"
pytestmark = pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")


def dense_critic(path: Path) -> Path:
    """P(real) rises with notes per second, and nothing else counts."""
    size = len(features.FEATURES)
    weights, mean = np.zeros(size), np.zeros(size)
    weights[features.FEATURES.index("note_density")] = 3.0
    mean[features.FEATURES.index("note_density")] = 7.0
    return save_feature_critic(FeatureCritic(mean, np.ones(size), weights, 0.0, task={"excerpt_seconds": 15.0}), path)


@pytest.fixture
def critic_app(tmp_path: Path) -> RecordingApp:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copyfile(BACH, shipped / "bach.safetensors")
    dense_critic(shipped / "bach.critic.safetensors")  # the model's own critic, not a model in the picker
    return RecordingApp(runs=[tmp_path / "runs"], checkpoints=shipped, save_dir=tmp_path / "takes")


async def test_best_of_keeps_the_piece_the_critic_rates_most_real(critic_app: RecordingApp, tmp_path: Path) -> None:
    app = critic_app
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.panel.music)
        assert [e.name for e in screen.entries] == ["bach"]  # the critic file is not offered as a model
        assert screen.query_one("#best-of-row").display
        set_input(screen, "best-of", "3")
        set_input(screen, "length", "4")  # seconds
        set_input(screen, "seed", "21")
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done, timeout=90)
        take = screen.takes[-1]
        assert take.error is None and take.best_of == 3 and take.candidates == 3
        model = session.load_model(BACH)
        drawn = [session.sample_music(model, sample_config(model.kind, seed=21 + k), None, 4.0) for k in range(3)]
        scores = session.load_critic(app.checkpoints_dir / "bach.critic.safetensors").real_probability(
            [d.sequence for d in drawn])
        best = int(np.argmax(scores))
        assert take.seed == 21 + best and take.score == pytest.approx(scores[best])
        assert [(n.pitch, n.start) for n in take.notes] == [(n.pitch, n.start) for n in drawn[best].sequence.notes]
        assert "best of 3 (P(real)" in take.label and "best of 3" in str(screen.query_one("#views").border_subtitle)
        await save_take(pilot, take, tmp_path / "saved")
        back = read_midi(tmp_path / "saved" / f"{take.stem}.mid")
        assert [(n.pitch, round(n.start, 2)) for n in back.notes] == [
            (n.pitch, round(n.start, 2)) for n in drawn[best].sequence.notes]
        assert not app.errors()


async def test_best_of_without_a_critic_is_one_clear_error_and_text_models_hide_it(tmp_path: Path, tiny_run: Path) -> None:
    app = app_with_bach(tmp_path, [tiny_run])
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await pick_kind(pilot, screen, "text")
        assert not screen.query_one("#best-of-row").display  # a text model: no best of
        assert not screen.query_one("#voice-hold-row").display  # and no voices to hold
        assert not screen.query_one("#labels-row").display  # nor labels: it was trained without
        await pick_kind(pilot, screen, "midi_events")
        assert screen.query_one("#best-of-row").display and screen.query_one("#voice-hold-row").display
        assert screen.query_one("#labels-row").display
        for field, bad, expected in (("voice-hold", "1.2.3", "voice hold '1.2.3': expected a number"),
                                     ("best-of", "0", "best of 0: expected 1")):
            good = screen.query_one(f"#{field}", Input).value
            set_input(screen, field, bad)
            seen = len(app.errors())
            screen.query_one("#models").focus()
            await pilot.press("g")
            await wait_for(pilot, lambda seen=seen: len(app.errors()) > seen)
            assert expected in app.errors()[-1] and not screen.takes
            set_input(screen, field, good)
        set_input(screen, "best-of", "2")
        set_input(screen, "length", "2")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done, timeout=60)
        assert "bach.critic.safetensors does not exist" in app.errors()[-1]
        assert screen.takes[-1].error is not None


async def test_escape_keeps_the_best_drawn_so_far_and_temperature_waits_for_the_next_take(
        critic_app: RecordingApp) -> None:
    app = critic_app
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.panel.music)
        set_input(screen, "best-of", "5")
        set_input(screen, "length", "600")  # seconds: far from done when escape comes
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].candidates >= 1, timeout=60)  # one piece whole
        take = screen.takes[-1]
        shown: list[str] = []  # every status line from now on (a piece finishing rewrites it)
        write = screen._status
        screen._status = lambda text: (shown.append(text), write(text))  # type: ignore[method-assign]
        await pilot.press("right_square_bracket")
        assert any("from the next take" in line for line in shown), shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: take.done, timeout=60)
        assert take.stopped and take.error is None and 2 <= take.candidates < 5
        assert take.score is not None and take.notes  # the best of those drawn (the one cut short too) is the take
        assert "stopped" in str(screen.query_one("#views").border_subtitle)
