"""`genrnn jam` end to end: a scripted player sends over a socket to ``listen:127.0.0.1:PORT``,
the answers go to a socket receiver in another process, the session is saved and read back
with pretty_midi. The player plays every kind of bad input the issue names; nothing hangs.

Timing is not asserted here (benchmarks/jam.py measures it): only what arrives.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mido
import mido.sockets
import pretty_midi
import pytest

from tests.receivers import Receiver

GENRNN = [sys.executable, "-m", "genrnn.cli"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.kill()


def start_jam(run: Path, out: str, save: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    """`genrnn jam` listening on a free port (port 0); returns the process and the port."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([*GENRNN, "jam", str(run), "--in", "listen:127.0.0.1:0", "--out", out, "--save", str(save),
                             "--gap", "0.3", "--max-answer", "1.0", "--end-on-close", "--seconds", "120", "--seed", "1",
                             "--json", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"listening on listen:127\.0\.0\.1:(\d+)", line)
    assert match, line + proc.stderr.read()
    return proc, int(match[1])


def finish(proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate(timeout=120)
    lines = stdout.strip().splitlines()
    assert lines, stderr
    return {"rc": proc.returncode, "stderr": stderr, **json.loads(lines[-1])}


def phrase(client: mido.ports.BaseOutput, pitches: list[int], channel: int = 0, step: float = 0.08) -> int:
    for p in pitches:
        client.send(mido.Message("note_on", note=p, velocity=90, channel=channel))
        time.sleep(step / 2)
        client.send(mido.Message("note_off", note=p, channel=channel))
        time.sleep(step / 2)
    return len(pitches)


def connect(port: int) -> tuple[socket.socket, mido.sockets.SocketPort]:
    """A mido socket client, and its socket for the raw bytes mido would not send (running
    status) and to hang up with: mido's close() leaves the connection open while its file
    objects live."""
    sock = socket.create_connection(("127.0.0.1", port))
    return sock, mido.sockets.SocketPort("127.0.0.1", port, conn=sock)


def test_a_scripted_player_is_answered_and_the_session_saved(event_run: Path, receiver: Receiver,
                                                              tmp_path: Path) -> None:
    save = tmp_path / "session.mid"
    proc, port = start_jam(event_run, receiver.address, save)
    sock, client = connect(port)
    sent = phrase(client, [60, 64, 67])
    time.sleep(1.6)
    sent += phrase(client, [62, 65, 69])
    time.sleep(1.6)
    # Bad input, all in one phrase: running status, several channels, sysex, clock and
    # active-sensing floods, note-offs without note-ons, then a 1,000-notes/s storm.
    sock.sendall(bytes([0x90, 72, 90, 74, 90, 76, 90, 72, 0, 74, 0, 76, 0]))
    sent += 3
    sent += phrase(client, [50, 53], channel=5)
    client.send(mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01]))
    for _ in range(300):
        client.send(mido.Message("clock"))
    for _ in range(100):
        client.send(mido.Message("active_sensing"))
    for _ in range(4):
        client.send(mido.Message("note_off", note=33))
    for i in range(300):
        p = 40 + i % 40
        client.send(mido.Message("note_on", note=p, velocity=70))
        client.send(mido.Message("note_off", note=p))
        if i % 10 == 9:
            time.sleep(0.01)
    sent += 300
    time.sleep(1.6)
    client.send(mido.Message("note_on", note=79, velocity=90))  # held when the input closes
    sent += 1
    time.sleep(0.1)
    sock.shutdown(socket.SHUT_RDWR)
    client.close()
    result = finish(proc)
    heard = receiver.result()
    assert result["rc"] == 0, result["stderr"]
    assert result["ended"] == "input ended" and result["output_error"] is None
    assert result["phrases"] >= 4 and result["answers"] >= 4 and result["call_notes"] == sent
    bad = result["bad"]
    for what in ("running-status messages", "notes on another channel", "sysex messages", "clock messages",
                 "active-sensing messages", "note-offs without note-on", "storm notes not fed",
                 "input closed mid-phrase"):
        assert bad.get(what, 0) > 0, (what, bad)
    assert bad["note-offs without note-on"] == 4 and bad["clock messages"] == 300 and bad["sysex messages"] == 1
    # The receiver heard every answer note end; nothing hangs.
    assert heard.note_ons == result["answer_notes"] > 0
    assert heard.note_ons == heard.note_offs and heard.hanging_notes == 0
    # The saved session holds every note sent and received, call and answer apart.
    pm = pretty_midi.PrettyMIDI(str(save))
    by_part: dict[str, int] = {}
    for inst in pm.instruments:
        part = inst.name.split(":")[0]
        by_part[part] = by_part.get(part, 0) + len(inst.notes)
    assert by_part == {"call": sent, "answer": heard.note_ons}


def test_a_vanished_output_is_one_message_and_the_session_is_saved(event_run: Path, tmp_path: Path) -> None:
    receiver = Receiver(close_after=2)  # a program change and the first note, then it hangs up
    try:
        save = tmp_path / "kept.mid"
        proc, port = start_jam(event_run, receiver.address, save, "--min-answer", "1.0")
        sock, client = connect(port)
        sent = phrase(client, [60, 62, 64, 65, 67])
        time.sleep(2.0)  # the answer fails meanwhile: the session ends
        sock.shutdown(socket.SHUT_RDWR)
        client.close()
        result = finish(proc)
    finally:
        receiver.kill()
    assert result["rc"] == 1
    errors = [line for line in result["stderr"].splitlines() if "output failed" in line]
    assert len(errors) == 1 and receiver.address in errors[0], result["stderr"]
    assert "Traceback" not in result["stderr"]
    pm = pretty_midi.PrettyMIDI(str(save))
    call = sum(len(i.notes) for i in pm.instruments if i.name.startswith("call"))
    assert call == sent


def test_a_file_is_played_in_and_each_phrase_answered(event_run: Path, receiver: Receiver, tmp_path: Path) -> None:
    from genrnn.music.midi_io import write_midi
    from genrnn.music.notes import Note, NoteSequence

    notes = [Note(60 + i, 90, i * 0.2, i * 0.2 + 0.15) for i in range(4)]
    notes += [Note(67 - i, 90, 3.0 + i * 0.2, 3.0 + i * 0.2 + 0.15) for i in range(4)]
    call = write_midi(NoteSequence(notes), tmp_path / "call.mid")
    save = tmp_path / "session.mid"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*GENRNN, "jam", str(event_run), "--in", str(call), "--out", receiver.address, "--save",
                           str(save), "--speed", "2", "--max-answer", "1", "--seed", "1", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    heard = receiver.result()
    assert result["ended"] == "input ended" and result["phrases"] == 2 and result["answers"] == 2
    assert result["call_notes"] == 8 and not result["bad"]
    assert heard.note_ons == heard.note_offs == result["answer_notes"] > 0 and heard.hanging_notes == 0
    pm = pretty_midi.PrettyMIDI(str(save))
    names = sorted(i.name for i in pm.instruments)
    assert names == ["answer: Acoustic Grand Piano", "call: Acoustic Grand Piano"]
    assert [len(i.notes) for i in pm.instruments if i.name.startswith("call")] == [8]


def test_ctrl_c_mid_phrase_releases_everything_and_saves(event_run: Path, receiver: Receiver, tmp_path: Path) -> None:
    save = tmp_path / "stopped.mid"
    proc, port = start_jam(event_run, receiver.address, save, "--max-answer", "4", "--min-answer", "4")
    sock, client = connect(port)
    sent = phrase(client, [60, 62, 64, 65])
    time.sleep(0.8)  # the gap, and the answer begins (whether it has or not, nothing may hang)
    client.send(mido.Message("note_on", note=70, velocity=90))  # a key down, and the answer cut
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    result = finish(proc)
    sock.shutdown(socket.SHUT_RDWR)
    client.close()
    heard = receiver.result()
    assert result["rc"] == 0 and result["signal"] == "SIGINT", result["stderr"]
    assert heard.note_ons == heard.note_offs and heard.hanging_notes == 0
    pm = pretty_midi.PrettyMIDI(str(save))
    assert sum(len(i.notes) for i in pm.instruments if i.name.startswith("call")) == sent + 1


def test_ports_lists_the_inputs_a_jam_can_hear() -> None:
    proc = subprocess.run([*GENRNN, "ports"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    for name in ("genrnn inputs", "listen:HOST:PORT", "FILE.mid", "virtual:NAME"):
        assert name in proc.stdout
