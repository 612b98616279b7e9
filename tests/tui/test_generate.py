"""Pilot tests of the Generate screen on the real app and a tiny trained checkpoint."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import mido
import pytest
from textual.widgets import Input

from genrnn.music.notes import Note
from genrnn.playback.receiver import open_server, receive, tally
from genrnn.tui.screens.files import SaveDialog
from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.screens.help import HelpScreen
from genrnn.tui.takes import Take
from tests.receivers import ThreadReceiver
from tests.tui.conftest import (
    RecordingApp,
    choose_socket_port,
    endings,
    music_take,
    save_take,
    set_input,
    wait_for,
)

ABC_TUNE = "X:1\nT:test\nM:4/4\nL:1/8\nK:C\nCDEF GABc|cBAG FEDC|\n"
REPO = Path(__file__).resolve().parents[2]


async def test_start_lists_the_run_and_generates(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, GenerateScreen)
        await wait_for(pilot, lambda: screen.entries)
        assert screen.entry is not None and screen.entry.name == "tiny-run"
        assert screen.entry.kind == "text" and screen.entry.cell == "lstm"
        set_input(screen, "length", "300")
        set_input(screen, "seed", "7")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done)
        take = screen.takes[-1]
        assert take.error is None
        assert len(take.text) >= 300
        assert screen.text_view.text == take.text
        assert "temperature" in app.export_screenshot()


async def test_temperature_change_applies_mid_stream_and_shows(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        set_input(screen, "length", "200000")
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and len(screen.takes[-1].text) > 50)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await wait_for(pilot, lambda: len(screen.takes[-1].marks) >= 1)
        before = len(screen.takes[-1].text)
        await wait_for(pilot, lambda: len(screen.takes[-1].text) > before + 50)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.takes[-1].done)
        take = screen.takes[-1]
        assert take.stopped
        temps = [t for _, t in take.marks]
        assert temps[-1] == pytest.approx(0.90)
        assert all(0 < at < len(take.text) for at, _ in take.marks)
        assert "⟨T 0.90⟩" in screen.text_view.text or "⟨T 0.85⟩" in screen.text_view.text
        assert screen.text_view.text.replace("⟨T 0.85⟩", "").replace("⟨T 0.90⟩", "") == take.text
        # typed temperature: Enter in the field applies it too
        screen.query_one("#temperature", Input).focus()
        screen.query_one("#temperature", Input).value = "1.5"
        await pilot.press("enter")
        assert screen.panel.read().settings.temperature == 1.5


async def test_save_text_take(make_app, tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        set_input(screen, "length", "120")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog))
        app.screen.query_one("#save-folder", Input).value = str(tmp_path / "out")
        await pilot.press("ctrl+s")
        saved = tmp_path / "out" / "tiny-run-take1.txt"
        await wait_for(pilot, saved.exists)
        assert saved.read_text(encoding="utf-8") == screen.takes[-1].text
        await wait_for(pilot, lambda: any("tiny-run-take1.txt" in m for m, _ in app.notes))


async def test_save_music_and_abc_takes_in_every_format(make_app, tmp_path: Path) -> None:
    import music21

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        screen.add_take(music_take())
        screen.add_take(Take(0, "folk", "abc", 0.8, text=ABC_TUNE))
        for take in screen.takes:
            screen.query_one("#views").focus()
            screen._show(take)
            await save_take(pilot, take, tmp_path / "music")
        out = tmp_path / "music"
        mid = mido.MidiFile(out / "arpeggio-take1.mid")
        assert sum(1 for m in mid if m.type == "note_on" and m.velocity > 0) == 8
        xml = music21.converter.parse(out / "arpeggio-take1.musicxml")
        assert len(xml.flatten().notes) == 8
        with wave.open(str(out / "arpeggio-take1.wav")) as wav:
            assert wav.getnframes() > wav.getframerate()  # more than a second of audio
        assert (out / "folk-take2.abc").read_text() == ABC_TUNE
        assert len(music21.converter.parse(out / "folk-take2.abc", format="abc").flatten().notes) == 16
        assert sum(1 for m in mido.MidiFile(out / "folk-take2.mid") if m.type == "note_on" and m.velocity) == 16
        assert len(music21.converter.parse(out / "folk-take2.musicxml").flatten().notes) == 16
        with wave.open(str(out / "folk-take2.wav")) as wav:
            assert wav.getnframes() > 0


async def test_play_to_a_socket_receiver_and_stop_leaves_no_hanging_note(make_app) -> None:
    server = open_server()
    port = server.getsockname()[1]
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(receive(server, idle_timeout=20)), daemon=True)
    thread.start()
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)

        await choose_socket_port(pilot, screen, f"127.0.0.1:{port}")
        take = music_take()
        take.notes = [Note(n.pitch, n.velocity, n.start, n.end + 0.3) for n in take.notes]  # overlapping
        screen.add_take(take)
        screen.query_one("#views").focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: app.player.playing)
        await pilot.pause(0.8)  # some notes have sounded, some are still on
        await pilot.press("space")  # stop
        await wait_for(pilot, lambda: not app.player.playing and any("take #1" in m for m, _ in app.notes))
    thread.join(timeout=20)
    server.close()
    heard = tally(got)
    assert 0 < heard.note_ons < 8
    assert heard.note_offs == heard.note_ons
    assert heard.hanging_notes == 0
    assert 0 in heard.all_notes_off


async def test_errors_are_notifications_and_the_app_keeps_running(make_app, tiny_run: Path, tmp_path: Path) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "runs" / "broken-run"  # a sound header, a NaN in the weights: fails when loaded
    broken.mkdir(parents=True)
    with safe_open(str(tiny_run / "best.safetensors"), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(tiny_run / "best.safetensors"))
    tensors["head.bias"][0] = torch.nan
    save_file(tensors, str(broken / "best.safetensors"), metadata=meta)
    cut = tmp_path / "runs" / "cut-run"  # weights cut short: the picker reports it and leaves it out
    cut.mkdir()
    data = (tiny_run / "best.safetensors").read_bytes()
    (cut / "best.safetensors").write_bytes(data[: 8 + int.from_bytes(data[:8], "little") + 16])
    app = make_app(runs=[tiny_run, tmp_path / "runs"])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.entries) == 2)
        await wait_for(pilot, lambda: any("cut-run" in m for m, _ in app.notes))
        assert [sev for m, sev in app.notes if "cut-run" in m] == ["warning"]
        assert any("cut-run" in m and "damaged" in m for m, _ in app.notes) and not app.errors()
        # a model that fails to load
        screen.query_one("#models").highlighted = [e.name for e in screen.entries].index("broken-run")
        await pilot.press("g")
        await wait_for(pilot, lambda: app.errors())
        assert "broken-run" in app.errors()[-1]
        # an unreadable primer: a .mid for a text model
        screen.query_one("#models").highlighted = [e.name for e in screen.entries].index("tiny-run")
        bad = tmp_path / "primer.mid"
        bad.write_bytes(b"not midi")
        screen.panel.set_primer_file(bad)
        await pilot.press("g")
        await wait_for(pilot, lambda: len(app.errors()) >= 2)
        assert "primer.mid" in app.errors()[-1]
        # a port that is gone
        screen.panel.set_primer_file(None)
        screen.add_take(music_take())

        await choose_socket_port(pilot, screen, "127.0.0.1:9")
        screen.query_one("#views").focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.errors()) >= 3)
        assert "127.0.0.1:9" in app.errors()[-1]
        # still alive: generate from the good model
        set_input(screen, "length", "50")
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes[-1].done and screen.takes[-1].kind == "text"
                       and screen.takes[-1].error is None)


async def test_takes_replay_and_compare(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        set_input(screen, "length", "80")
        for _ in range(2):
            await pilot.press("g")
            await wait_for(pilot, lambda: screen.takes and screen.takes[-1].done)
        assert len(screen.takes) == 2
        takes = screen.query_one("#takes")
        takes.focus()
        takes.highlighted = 0
        await pilot.press("enter")
        assert screen.shown is screen.takes[0]
        assert screen.text_view.text == screen.takes[0].text
        await pilot.press("c")
        from genrnn.tui.screens.compare import CompareScreen

        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape")
        assert app.screen is screen


async def test_help_lists_every_binding(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text
        for key in ("Ctrl+Q", "Ctrl+S", "Space", "F3", "?", "temperature"):
            assert key in text
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, GenerateScreen)


@pytest.fixture
def music_app(tmp_path: Path) -> RecordingApp:
    """The app with one model: the shipped Bach chorale model (MIDI events)."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copyfile(REPO / "checkpoints" / "bach.safetensors", shipped / "bach.safetensors")
    return RecordingApp(runs=[tmp_path / "runs"], checkpoints=shipped, save_dir=tmp_path / "takes")


async def test_ctrl_q_quits_while_generating_and_playing(music_app: RecordingApp) -> None:
    """A music take plays to a socket receiver while the model is still writing it; ctrl+q
    quits the app (return code 0) and the receiver is left with no note sounding."""
    receiver = ThreadReceiver()
    app = music_app
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entry is not None and screen.panel.music)
        await choose_socket_port(pilot, screen, receiver.address)
        set_input(screen, "length", "100000")  # seconds (capped at MAX_MUSIC_TOKENS): far from done at ctrl+q
        screen.query_one("#models").focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: screen.takes and len(screen.takes[-1].events) > 10, timeout=60)
        take = screen.takes[-1]
        await pilot.press("space")
        await wait_for(pilot, lambda: (app.player.position() or 0.0) > 1.5, timeout=30)
        assert app.player.playing and not take.done  # playing what is still being generated
        await pilot.press("ctrl+q")
        for _ in range(200):  # the app quits by itself (run_test's exit would shut it down anyway)
            if app.return_code is not None:
                break
            await asyncio.sleep(0.05)
    assert app.return_code == 0
    connections = receiver.close()
    assert take.done and take.stopped
    assert len(connections) == 1
    heard = tally(connections[0])
    assert heard.note_ons > 0
    assert heard.note_offs == heard.note_ons and heard.hanging_notes == 0
    assert heard.channels <= heard.all_notes_off


async def test_space_twice_on_an_abc_take_runs_one_player_and_stops_it(make_app, monkeypatch) -> None:
    """The second press lands while the first is still turning the tune into notes (music21
    at work; made slow here) and stops it: one player only, ended stopped. Then space plays
    the tune and space stops it mid-way, with no note left sounding."""
    real_sequence = Take.sequence

    def slow_sequence(self: Take):  # noqa: ANN202
        time.sleep(1.0)  # a long tune: the time between the press and the first note
        return real_sequence(self)

    monkeypatch.setattr(Take, "sequence", slow_sequence)
    receiver = ThreadReceiver()
    app = make_app()
    players: list[int] = []
    real_play = app.player.play

    def counting(take: Take, *args):  # noqa: ANN002, ANN202
        players.append(take.number)
        return real_play(take, *args)

    monkeypatch.setattr(app.player, "play", counting)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        await choose_socket_port(pilot, screen, receiver.address)
        take = Take(0, "folk", "abc", 0.8, text=ABC_TUNE)
        screen.add_take(take)
        screen.query_one("#views").focus()
        await pilot.press("space")
        assert app.player.playing  # from the press on, while the tune is still being read
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.player.playing and endings(app, take), timeout=30)
        await pilot.pause(1.5)  # a second player, if one had started, would have ended by now
        assert players == [1] and len(endings(app, take)) == 1
        assert endings(app, take)[0].startswith("stopped take #1")
        # and while it sounds: space stops it
        await pilot.press("space")
        await wait_for(pilot, lambda: (app.player.position() or 0.0) > 1.0, timeout=30)
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.player.playing and len(endings(app, take)) == 2, timeout=30)
        assert players == [1, 1] and endings(app, take)[1].startswith("stopped take #1")
    assert not app.errors(), app.errors()
    connections = receiver.close()
    assert 1 <= len(connections) <= 2  # the first player stopped before or just after it connected
    heard = [tally(c) for c in connections]
    assert all(h.hanging_notes == 0 and h.note_offs == h.note_ons for h in heard)
    assert 0 < heard[-1].note_ons < 16  # stopped mid-tune (the tune has 16 notes)
    assert 0 in heard[-1].all_notes_off


def test_the_app_imports_without_torch() -> None:
    code = "import sys, genrnn.tui.app, genrnn.cli.tui; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_r_shows_an_abc_take_as_a_piano_roll_and_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        take = Take(0, "folk", "abc", 0.8, text=ABC_TUNE, done=True)
        screen.add_take(take)
        screen._show(take)
        views = screen.query_one("#views")
        assert views.current == "text-view"
        screen.query_one("#views").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: views.current == "roll-view", timeout=30)
        assert [n.pitch for n in screen.roll.notes] == [60, 62, 64, 65, 67, 69, 71, 72, 72, 71, 69, 67, 65, 64, 62, 60]
        await pilot.press("r")
        assert views.current == "text-view"
        broken = Take(0, "folk", "abc", 0.8, text="X:1\nK:C\n|]]]", done=True)
        screen.add_take(broken)
        screen._show(broken)
        await pilot.press("r")
        await wait_for(pilot, lambda: any(m.startswith(f"take #{broken.number}") and s == "error" for m, s in app.notes),
                       timeout=30)
        assert views.current == "text-view"


def test_a_take_plays_while_it_is_still_being_generated() -> None:
    """The worker appends decoded events; the player sends them as they come and ends when the
    take is done: every note heard, none hanging, and sound before the take was finished."""
    from genrnn.tui.engine import Player

    receiver = ThreadReceiver()
    take = Take(1, "bach", "midi_events", 1.0)
    first_sent: list[float] = []
    during: list[float | None] = []

    def generate() -> None:  # 12 notes, 0.1 s apart, made over ~0.6 s: a live stream
        for i in range(12):
            take.events.append((i * 0.1, 60 + i, 90))
            take.events.append((i * 0.1 + 0.08, 60 + i, 0))
            time.sleep(0.05)
        first_sent.append(time.monotonic())
        during.append(player.position())  # the playback clock, before the take is done
        take.done = True

    player = Player()
    maker = threading.Thread(target=generate)
    started = time.monotonic()
    maker.start()
    stats = player.play(take, receiver.address)
    maker.join()
    [got] = receiver.close()
    heard = tally(got)
    assert heard.note_ons == heard.note_offs == 12 and heard.hanging_notes == 0
    assert stats.notes == 12
    assert time.monotonic() - started < 3.0
    assert first_sent[0] - started > 0.4  # the take was still being made ...
    assert during[0] is not None and during[0] > 0.3  # ... while it played (notes at 0.0-0.3 s due)


async def test_music_and_text_models_start_from_their_own_sampling_defaults(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.entries)
        await pilot.pause()  # the picker's highlight of the scanned model reaches the screen
        values = lambda: (screen.query_one("#temperature", Input).value, screen.query_one("#top-p", Input).value)  # noqa: E731
        assert values() == ("0.80", "1.00")  # a text model
        screen.panel.set_music(True)  # what picking an event model does
        await pilot.pause()
        assert values() == ("1.00", "0.70") and screen.panel.read().settings.top_p == 0.7
        set_input(screen, "temperature", "1.10")
        screen.panel.set_music(True)  # another event model: the user's value stays
        assert values()[0] == "1.10"
        screen.panel.set_music(False)
        assert values() == ("0.80", "1.00")


def test_a_music_take_runs_to_the_seconds_asked_even_when_the_model_would_end(tmp_path: Path) -> None:
    import torch

    from genrnn.config import ModelConfig, SampleConfig
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model
    from genrnn.tokenizers.midi_events import END, NOTE_OFF, NOTE_ON, TIME_SHIFT, MidiEventTokenizer
    from genrnn.tui.engine import GenerateRequest, ModelCache, StreamControl, run_generation

    tok = MidiEventTokenizer()
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=4, hidden=8, layers=1))
    with torch.no_grad():  # END first choice at every step; else a note, its release, 0.25 s
        model.head.weight.zero_()
        model.head.bias.fill_(-30.0)
        model.head.bias[END] = 2.0
        model.head.bias[NOTE_ON + 60] = model.head.bias[NOTE_OFF + 60] = model.head.bias[TIME_SHIFT + 24] = 0.0
    path = save_model(tmp_path / "ender.safetensors", model, tok, {})
    settings = SampleConfig(temperature=1.0, top_p=1.0, seed=0)
    take = Take(1, "ender", "midi_events", 1.0)
    req = GenerateRequest(path, "ender", "midi_events", settings, seconds=3.0)
    run_generation(req, take, StreamControl(settings), ModelCache(), lambda chunk: None)
    assert END not in take.tokens
    shifts = [t - TIME_SHIFT + 1 for t in take.tokens if TIME_SHIFT <= t < TIME_SHIFT + 100]
    assert sum(shifts) * 0.01 >= 3.0 - 1e-9 and len(take.sequence().notes) >= 3


def test_the_last_chunk_of_a_take_finds_it_done(tiny_run: Path) -> None:
    """The screen relabels a take (no "…") and says done or stopped when the last chunk comes:
    by then the take must say so (it once said so only after the chunk had gone out)."""
    from genrnn.config import SampleConfig
    from genrnn.tui.engine import GenerateRequest, ModelCache, StreamControl, run_generation

    settings = SampleConfig(temperature=0.8, seed=0)
    take = Take(1, "tiny", "text", 0.8)
    seen: list[tuple[bool, bool]] = []

    def emit(chunk) -> None:  # noqa: ANN001
        if chunk.done:
            seen.append((take.done, take.stopped))
            assert "…" not in take.label

    run_generation(GenerateRequest(tiny_run, "tiny", "text", settings, length=30), take, StreamControl(settings),
                   ModelCache(), emit)
    assert seen == [(True, False)] and len(take.text) >= 30
