"""Output names, the note-tracking Output, and the native-call helpers."""

from __future__ import annotations

import os
import socket
import time

import mido
import pytest

from genrnn.errors import PlaybackError
from genrnn.playback import ports
from genrnn.playback.native import CallTimedOut, call_with_timeout, captured_stderr
from genrnn.playback.ports import Output, list_outputs, open_output


class ListPort:
    def __init__(self) -> None:
        self.sent: list[mido.Message] = []
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True


def test_output_context_manager_releases_notes_on_exception() -> None:
    sink = ListPort()
    with pytest.raises(ValueError), Output(sink, "test") as out:
        out.send(mido.Message("note_on", channel=1, note=60, velocity=90))
        out.send(mido.Message("note_on", channel=1, note=60, velocity=90))
        out.send(mido.Message("note_on", channel=2, note=50, velocity=90))
        out.send(mido.Message("note_on", channel=2, note=50, velocity=0))  # velocity 0 is a note_off
        raise ValueError("boom")
    tail = [(m.type, m.channel, getattr(m, "note", getattr(m, "control", None))) for m in sink.sent[4:]]
    assert tail == [("note_off", 1, 60), ("note_off", 1, 60),
                    ("control_change", 1, 123), ("control_change", 1, 120),
                    ("control_change", 2, 123), ("control_change", 2, 120)]
    assert sink.closed and out.closed


def test_close_is_idempotent_and_send_after_close_fails() -> None:
    sink = ListPort()
    out = Output(sink, "test")
    out.send(mido.Message("note_on", note=60, velocity=1))
    first = out.close()
    assert first.note_offs == 1 and first.controllers == 2
    assert out.close().note_offs == 0
    with pytest.raises(PlaybackError, match="test: the port is closed"):
        out.send(mido.Message("note_on", note=60))


def test_unknown_name_lists_the_valid_names_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "os_output_names", lambda: (["Midi Through Port-0", "FLUID Synth 128:0"], None))
    with pytest.raises(PlaybackError) as err:
        open_output("nonesuch")
    message = str(err.value)
    assert "\n" not in message
    assert "'nonesuch' matches no output" in message
    for name in ("Midi Through Port-0", "FLUID Synth 128:0", "synth", "HOST:PORT", "virtual:NAME"):
        assert name in message


def test_ambiguous_substring_names_the_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "os_output_names", lambda: (["Port A", "Port B", "Other"], None))
    with pytest.raises(PlaybackError, match=r"'port' matches 2 outputs: Port A, Port B"):
        open_output("port")


def test_unique_substring_opens_that_os_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "os_output_names", lambda: (["Midi Through Port-0", "USB Keys"], None))
    opened: list[str] = []
    monkeypatch.setattr(ports, "open_rtmidi", lambda direction, name: opened.append(name) or ListPort())
    with open_output("usb") as out:
        assert out.name == "USB Keys"
    assert opened == ["USB Keys"]


def test_no_os_midi_system_is_reported_with_its_reason() -> None:
    listing = list_outputs(synth_status=lambda: None)
    names = [o.name for o in listing.ports]
    assert names[-3:] == ["synth", "HOST:PORT", "virtual:NAME"]
    if not os.path.exists("/dev/snd/seq"):  # as on this box: the ALSA sequencer is absent
        assert listing.os_error and "ALSA" in listing.os_error
        assert not listing.os_names
        with pytest.raises(PlaybackError, match="no OS MIDI outputs"):
            open_output("anything")
        with pytest.raises(PlaybackError, match="virtual:genrnn: cannot create a virtual MIDI output"):
            open_output("virtual:genrnn")


def test_socket_name_with_nobody_listening_fails_fast() -> None:
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(PlaybackError, match=f"127.0.0.1:{port}: cannot connect"):
        open_output(f"127.0.0.1:{port}")
    assert time.perf_counter() - started < 2


def test_captured_stderr_catches_what_c_code_writes_to_fd_2() -> None:
    with captured_stderr() as lines:
        os.write(2, b"ALSA lib seq_hw.c: open /dev/snd/seq failed\n")
    assert lines == ["ALSA lib seq_hw.c: open /dev/snd/seq failed"]


def test_call_with_timeout_gives_up_on_a_call_that_blocks() -> None:
    started = time.perf_counter()
    with pytest.raises(CallTimedOut):
        call_with_timeout(lambda: time.sleep(5), 0.2)
    assert time.perf_counter() - started < 1
    assert call_with_timeout(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0)
