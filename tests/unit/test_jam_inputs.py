"""Live inputs: the byte parser (running status, sysex, real-time floods), names, a file played in."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import mido
import pytest

from genrnn.errors import PlaybackError
from genrnn.music.midi_io import write_midi
from genrnn.music.notes import Note, NoteSequence
from genrnn.playback.clock import FakeClock
from genrnn.playback.inputs import ByteParser, FileInput, SocketInput, list_inputs, open_input


def test_running_status_notes_are_all_read() -> None:
    parser = ByteParser()
    # note_on 60, then 62 and 64 without a status byte, then their note-offs as velocity 0.
    msgs = parser.feed(bytes([0x90, 60, 100, 62, 100, 64, 100, 60, 0, 62, 0, 64, 0]))
    assert [(m.type, m.note, m.velocity) for m in msgs] == [
        ("note_on", 60, 100), ("note_on", 62, 100), ("note_on", 64, 100),
        ("note_on", 60, 0), ("note_on", 62, 0), ("note_on", 64, 0)]
    assert parser.counts.running_status == 5 and parser.counts.messages == 6


def test_sysex_realtime_and_stray_bytes_are_counted_and_dropped() -> None:
    parser = ByteParser()
    data = [0xF8] * 50 + [0xFE] * 20  # a clock and active-sensing flood
    data += [0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]  # sysex (GM on)
    data += [0x91, 60, 0xF8, 90]  # a clock byte inside a note-on
    data += [5, 6]  # no: running status of 0x91 applies here
    data += [0xF2, 1, 2]  # song position cancels running status
    data += [7, 8]  # stray
    data += [0xB0, 1, 64]
    msgs = parser.feed(data)
    assert [m.type for m in msgs] == ["note_on", "note_on", "control_change"]
    assert msgs[0].channel == 1 and msgs[0].note == 60 and msgs[0].velocity == 90
    c = parser.counts
    assert (c.clock, c.active_sensing, c.sysex, c.system_common, c.stray_bytes) == (51, 20, 1, 1, 2)
    assert c.running_status == 1


def test_messages_split_across_reads_are_joined() -> None:
    parser = ByteParser()
    assert parser.feed(bytes([0x90, 60])) == []
    assert [m.note for m in parser.feed(bytes([100, 0x80]))] == [60]
    assert [m.type for m in parser.feed(bytes([60, 0]))] == ["note_off"]


def test_input_names_say_what_is_valid(tmp_path: Path) -> None:
    deliver = lambda t, m: None  # noqa: E731
    with pytest.raises(PlaybackError, match="listen:HOST:PORT"):
        open_input("listen:nowhere", deliver)
    with pytest.raises(PlaybackError, match="no such MIDI file"):
        open_input(str(tmp_path / "missing.mid"), deliver)
    with pytest.raises(PlaybackError, match="matches no input.*valid names"):
        open_input("no-such-keyboard-xyz", deliver)
    names = [i.name for i in list_inputs().ports]
    assert "listen:HOST:PORT" in names and "FILE.mid" in names


def test_a_file_is_played_in_at_its_times(tmp_path: Path) -> None:
    path = write_midi(NoteSequence([Note(60, 90, 0.0, 0.5), Note(64, 90, 1.0, 1.5)]), tmp_path / "call.mid")
    got: list[tuple[float, mido.Message | None]] = []
    clock = FakeClock(100.0)
    inp = FileInput(path, lambda t, m: got.append((t, m)), clock=clock, speed=2.0)
    inp.start()
    assert inp.done.wait(5)
    notes = [(round(t - 100.0, 3), m.type, m.note) for t, m in got if m is not None and m.type.startswith("note")]
    assert notes == [(0.0, "note_on", 60), (0.25, "note_off", 60), (0.5, "note_on", 64), (0.75, "note_off", 64)]
    assert got[-1][1] is None  # the end of the file closes the input


def test_a_socket_input_hears_senders_one_after_another() -> None:
    got: list[tuple[float, mido.Message | None]] = []
    inp = SocketInput("127.0.0.1", 0, lambda t, m: got.append((t, m))).start()
    try:
        for n, note in enumerate((60, 62), start=1):
            with socket.create_connection(("127.0.0.1", inp.port)) as conn:
                conn.sendall(bytes([0x90, note, 100, note, 0]))  # running status for the note-off
            deadline = time.monotonic() + 5
            while sum(m is None for _, m in got) < n and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        inp.close()
    kinds = [None if m is None else (m.note, m.velocity) for _, m in got]
    assert kinds == [(60, 100), (60, 0), None, (62, 100), (62, 0), None]
    assert inp.counts.connections == 2 and inp.counts.running_status == 2


def test_a_virtual_input_opens_or_says_why_not() -> None:
    try:
        inp = open_input("virtual:genrnn-test-in", lambda t, m: None)
    except PlaybackError as exc:  # no ALSA sequencer here, or Windows
        assert "virtual:genrnn-test-in" in str(exc) and "genrnn ports" in str(exc)
    else:
        inp.start().close()
    with pytest.raises(PlaybackError, match="needs a name"):
        open_input("virtual:", lambda t, m: None)
