"""The Jam screen (F4): a scripted player over a socket, the answer at a socket receiver, call
and answer on their piano rolls, Stop saves the session and leaves nothing hanging."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import mido
import pretty_midi
import pytest
from textual.widgets import Input

from genrnn.config import ModelConfig
from genrnn.playback.receiver import open_server, receive, tally
from genrnn.tokenizers.midi_events import MidiEventTokenizer
from genrnn.tui.screens.jam import JamScreen
from genrnn.tui.widgets.piano_roll import PianoRoll
from tests.tui.conftest import wait_for


@pytest.fixture
def event_model(tmp_path: Path) -> Path:
    torch = pytest.importorskip("torch")
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model

    torch.manual_seed(0)
    tok = MidiEventTokenizer()
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=24, layers=1))
    return save_model(tmp_path / "tiny_events.safetensors", model, tok, {})


def play_phrase(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for pitch in (60, 64, 67, 72):
            conn.sendall(bytes(mido.Message("note_on", note=pitch, velocity=90).bin()))
            time.sleep(0.05)
            conn.sendall(bytes(mido.Message("note_off", note=pitch).bin()))
            time.sleep(0.03)
        time.sleep(3.0)  # stay connected: the session goes on after the phrase


async def test_jam_screen_answers_a_phrase_and_saves_on_stop(make_app, event_model: Path, tmp_path: Path) -> None:
    server = open_server()
    heard: list = []
    listener = threading.Thread(target=lambda: heard.extend(receive(server, idle_timeout=30)), daemon=True)
    listener.start()
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, JamScreen)
        screen.query_one("#jam-model", Input).value = str(event_model)
        screen.query_one("#jam-in", Input).value = "listen:127.0.0.1:0"
        screen.query_one("#jam-out", Input).value = f"127.0.0.1:{server.getsockname()[1]}"
        screen.query_one("#jam-gap", Input).value = "0.2"
        screen.action_start()
        await wait_for(pilot, lambda: screen.jam is not None and screen.jam.inputs)
        jam = screen.jam
        assert jam is not None
        player = threading.Thread(target=play_phrase, args=(jam.inputs[0].port,), daemon=True)
        player.start()
        await wait_for(pilot, lambda: jam.stats.answers >= 1 and screen.query_one("#jam-answer", PianoRoll).notes)
        assert len(screen.query_one("#jam-call", PianoRoll).notes) == 4
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.running)
        assert not app.errors()
    listener.join(timeout=30)
    server.close()
    got = tally(heard)
    assert got.note_ons > 0 and got.hanging_notes == 0
    saved = list((tmp_path / "takes").glob("jam_*.mid"))
    assert len(saved) == 1
    names = {i.name.split(":")[0] for i in pretty_midi.PrettyMIDI(str(saved[0])).instruments}
    assert names == {"call", "answer"}


async def test_jam_screen_errors_are_notifications(make_app, tiny_run: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, JamScreen)
        screen.query_one("#jam-model", Input).value = str(tiny_run)  # a text model
        screen.action_start()
        await wait_for(pilot, lambda: not screen.running and app.errors())
        assert "MIDI-event model" in app.errors()[0]
        screen.query_one("#jam-model", Input).value = ""
        screen.action_start()
        await wait_for(pilot, lambda: len(app.errors()) == 2)
        assert "model" in app.errors()[1]
