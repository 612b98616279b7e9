"""Labels in the TUI (one-to-many): the real app on the shipped Bach model, asked for voices=4."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import OptionList

from genrnn import session
from genrnn.config import CONDITION_GUIDANCE
from tests.tui.conftest import RecordingApp, app_with_bach, set_input, wait_for

REPO = Path(__file__).resolve().parents[2]
BACH = REPO / "checkpoints" / "bach.safetensors"
pytestmark = pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")


async def test_a_take_from_a_label_is_the_cli_piece_from_it(tmp_path: Path) -> None:
    app = app_with_bach(tmp_path, [tmp_path / "runs"])
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.panel.music)
        assert screen.query_one("#labels-row").display  # (hidden for a model without labels: test_best_of)

        set_input(screen, "labels", "mode=dorian")
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done)
        assert "--condition mode=dorian: not one of bach.safetensors's labels" in app.errors()[-1]
        assert screen.takes[-1].error is not None

        set_input(screen, "labels", "voices=4")
        set_input(screen, "length", "3")  # seconds
        set_input(screen, "seed", "7")
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: len(screen.takes) == 2 and screen.takes[-1].done, timeout=60)
        take = screen.takes[-1]
        assert take.error is None
        # asked for and drawn, in training order, shown in the take's line
        assert [lb.split("=")[0] for lb in take.labels] == ["mode", "key", "rests", "voices"]
        assert take.labels[-1] == "voices=4"
        line = str(screen.query_one("#takes", OptionList).get_option("take-2").prompt)
        assert " ".join(take.labels) in line

        # the same piece as `genrnn sample --condition voices=4 --seed 7 --seconds 3` draws
        model = session.load_model(BACH)
        settings = replace(screen.panel.read().settings, seed=7)
        assert settings.guidance == CONDITION_GUIDANCE
        piece = session.sample_music(model, settings, session.label_primer(model, ["voices=4"]), 3.0)
        assert piece.drawn_labels == take.labels[:3]
        assert take.notes
        assert sorted((n.pitch, round(n.start, 2)) for n in piece.sequence.notes) == \
            sorted((n.pitch, round(n.start, 2)) for n in take.notes)


async def test_a_text_model_writes_in_the_manner_of_the_file_asked_for(tmp_path: Path) -> None:
    """A text folder trained --conditioned (a label per file): the take from ``file=beta`` in
    the app is the text `genrnn sample --condition file=beta` writes, in beta's manner."""
    import numpy as np

    from tests.integration.test_music_training import genrnn

    folder = tmp_path / "voices"
    folder.mkdir()
    rng = np.random.default_rng(0)
    (folder / "alpha.txt").write_text("".join(rng.choice(["ab ", "aab "], 3000)) + "\n")
    (folder / "beta.txt").write_text("".join(rng.choice(["ba.", "bba."], 3000)) + "\n")
    run = tmp_path / "runs" / "voices"
    proc = genrnn("train", "--text", folder, "--conditioned", "--out", run, "--preset", "tiny", "--hidden", "32",
                  "--seq-len", "32", "--max-steps", "300", "--seed", "1", "--eval-interval", "1000", "--threads", "1",
                  "--cache", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    empty = tmp_path / "no-shipped"
    empty.mkdir()
    app = RecordingApp(runs=[tmp_path / "runs"], checkpoints=empty, save_dir=tmp_path / "takes")
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.entry.name == "voices")
        assert screen.query_one("#labels-row").display
        set_input(screen, "labels", "file=beta")
        set_input(screen, "length", "200")
        set_input(screen, "seed", "4")
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done, timeout=60)
        take = screen.takes[-1]
    assert take.error is None and take.labels == ["file=beta"]
    assert take.text.count(".") > 30 and take.text.count(" ") < 3, take.text  # 'ba.' / 'bba.'
    cli = genrnn("sample", run, "--condition", "file=beta", "--length", "200", "--seed", "4")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith(take.text)


async def test_the_tempo_lock_box_lets_a_take_leave_its_grid(tmp_path: Path) -> None:
    """The take with the box ticked (the default) is `genrnn sample`'s locked piece; unticked,
    it is the free one, which for this seed drifts off its grid (test_tempo_lock.py)."""
    from textual.widgets import Checkbox

    app = app_with_bach(tmp_path, [tmp_path / "runs"])
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.panel.music)
        box = screen.query_one("#tempo-lock", Checkbox)
        assert screen.query_one("#tempo-lock-row").display and box.value
        model = session.load_model(BACH)
        set_input(screen, "length", "10")
        set_input(screen, "seed", "1")
        for count, locked in enumerate((True, False), start=1):
            box.value = locked
            screen.query_one("#models").focus()
            await pilot.press("g")
            await wait_for(pilot, lambda count=count: len(screen.takes) == count and screen.takes[-1].done, timeout=60)
            take = screen.takes[-1]
            settings = replace(screen.panel.read().settings, seed=1)
            assert settings.tempo_lock is locked
            piece = session.sample_music(model, settings, None, 10.0)
            assert sorted((n.pitch, round(n.start, 2)) for n in piece.sequence.notes) == \
                sorted((n.pitch, round(n.start, 2)) for n in take.notes)
            steps = {round(n.start / 0.01) for n in take.notes}
            assert any(all(s % g == 0 for s in steps) for g in (14, 15, 16)) is locked
