"""MIDI inputs by name: OS ports (rtmidi), virtual ports, a socket server, a .mid played in.

``open_input(name, deliver)`` returns an ``Input``; once ``start()``ed, every channel message
it hears is handed to ``deliver(time, msg)`` on the input's own thread, stamped with the
clock's time on arrival, and ``deliver(time, None)`` says the input closed (a socket client
that went away: its keys are up from then on). Names:

- an OS MIDI input, exact or any unique part of its name (``genrnn ports`` lists them);
- ``virtual:NAME``: a new virtual input other programs can play into, where the OS allows;
- ``listen:HOST:PORT``: a TCP server speaking the mido socket protocol (raw MIDI bytes); any
  number of senders one after another (``mido.sockets.connect`` or another genrnn). The bytes
  are read by ``ByteParser`` rather than mido's parser because mido drops notes sent with
  running status;
- ``FILE.mid``: the file's messages played in at their times, as if a person played them.

Real-time messages (clock, active sensing) and sysex never reach ``deliver``: they are counted
in ``InputCounts`` (a flood of them costs nothing downstream). Library code: raises
PlaybackError naming the input, never prints.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido

from genrnn.errors import PlaybackError
from genrnn.music.notes import MIDI_SUFFIXES
from genrnn.playback.clock import Clock, RealClock
from genrnn.playback.events import file_events
from genrnn.playback.ports import (
    SOCKET_PATTERN,
    VIRTUAL_PREFIX,
    PortInfo,
    PortListing,
    open_rtmidi,
    os_port_names,
)

LISTEN_PREFIX = "listen:"
POLL = 0.05  # how often blocking reads look at close()

Deliver = Callable[[float, "mido.Message | None"], None]

# Status byte → number of data bytes, for channel voice messages (high nibble) and system common.
_CHANNEL_DATA = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_DATA = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}
SYSEX_START, SYSEX_END = 0xF0, 0xF7
CLOCK, ACTIVE_SENSING = 0xF8, 0xFE


@dataclass
class InputCounts:
    """What an input's byte stream held besides plain channel messages (thread-safe enough:
    one writer per input, integers only)."""

    messages: int = 0  # channel messages delivered
    running_status: int = 0  # of them, sent without their status byte
    sysex: int = 0
    clock: int = 0  # 0xF8 timing clock
    active_sensing: int = 0  # 0xFE
    other_realtime: int = 0  # start, stop, continue, reset, tick
    system_common: int = 0  # MTC, song position, song select, tune request
    stray_bytes: int = 0  # data bytes with no status in force, undefined status bytes
    connections: int = 0  # socket senders that connected

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ByteParser:
    """MIDI bytes → mido channel messages, with running status, sysex and real-time bytes
    anywhere (even inside another message) counted and dropped."""

    def __init__(self, counts: InputCounts | None = None) -> None:
        self.counts = counts or InputCounts()
        self._status = 0  # the running status (a channel status byte) or 0
        self._data: list[int] = []
        self._need = 0
        self._in_sysex = False
        self._fresh = False  # the message being read has its own status byte
        self._skip = 0  # data bytes of a system-common message still to skip

    def feed(self, data: bytes | bytearray | list[int]) -> list[mido.Message]:
        out: list[mido.Message] = []
        for byte in data:
            msg = self._byte(int(byte) & 0xFF)
            if msg is not None:
                out.append(msg)
        return out

    def _byte(self, b: int) -> mido.Message | None:
        if b >= 0xF8:
            self._realtime(b)
            return None
        if b >= 0x80:
            return self._status_byte(b)
        if self._in_sysex:
            return None
        if self._skip:
            self._skip -= 1
            return None
        if not self._status:
            self.counts.stray_bytes += 1
            return None
        if not self._data and not self._fresh:
            self.counts.running_status += 1
        self._data.append(b)
        if len(self._data) < self._need:
            return None
        msg = self._message([self._status, *self._data])
        self._data, self._fresh = [], False
        return msg

    def _realtime(self, b: int) -> None:
        if b == CLOCK:
            self.counts.clock += 1
        elif b == ACTIVE_SENSING:
            self.counts.active_sensing += 1
        else:
            self.counts.other_realtime += 1

    def _status_byte(self, b: int) -> mido.Message | None:
        if self._in_sysex and b != SYSEX_END:
            self._in_sysex = False  # an unterminated sysex ends at the next status byte
        self._skip = 0
        if b == SYSEX_START:
            self.counts.sysex += 1
            self._in_sysex, self._status, self._data = True, 0, []
        elif b == SYSEX_END:
            self._in_sysex = False
        elif b < 0xF0:
            self._status, self._need, self._data, self._fresh = b, _CHANNEL_DATA[b & 0xF0], [], True
        elif b in _SYSTEM_DATA:
            self.counts.system_common += 1
            self._status, self._data, self._skip = 0, [], _SYSTEM_DATA[b]  # cancels running status
        else:
            self.counts.stray_bytes += 1
        return None

    def _message(self, raw: list[int]) -> mido.Message | None:
        try:
            msg = mido.Message.from_bytes(raw)
        except (ValueError, KeyError):
            self.counts.stray_bytes += len(raw)
            return None
        self.counts.messages += 1
        return msg


# ---------------------------------------------------------------------------------------------
# Inputs


class Input:
    """One input: ``start()`` begins delivering, ``close()`` stops (idempotent), ``done`` is
    set when no more will come (a file played to its end, a closed input)."""

    kind = "input"

    def __init__(self, name: str, deliver: Deliver, clock: Clock | None = None) -> None:
        self.name = name
        self.deliver = deliver
        self.clock: Clock = clock or RealClock()
        self.counts = InputCounts()
        self.done = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Input:
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=self._guarded(target), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            finally:
                self.done.set()
        return run

    def _hand_on(self, msg: mido.Message) -> None:
        if msg.type in ("clock", "active_sensing"):
            setattr(self.counts, msg.type, getattr(self.counts, msg.type) + 1)
            return
        if msg.type == "sysex":
            self.counts.sysex += 1
            return
        if not hasattr(msg, "channel"):
            self.counts.other_realtime += 1
            return
        self.counts.messages += 1
        self.deliver(self.clock.now(), msg)

    def close(self) -> None:
        self._closing.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        self.done.set()

    def __enter__(self) -> Input:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileInput(Input):
    """A .mid played in at its own times (``speed`` 2 = twice as fast), from ``start()``."""

    kind = "file"

    def __init__(self, path: str | Path, deliver: Deliver, clock: Clock | None = None, speed: float = 1.0) -> None:
        super().__init__(str(path), deliver, clock)
        if not speed > 0:
            raise PlaybackError(f"--in {path}: speed {speed}: expected a positive factor")
        self.events = file_events(path)
        if not any(ev.msg.type == "note_on" and ev.msg.velocity > 0 for ev in self.events):
            raise PlaybackError(f"--in {path}: the file has no notes to play in")
        self.speed = speed

    def start(self) -> FileInput:
        self._spawn(self._play, f"jam-in:{Path(self.name).name}")
        return self

    def _play(self) -> None:
        origin = self.clock.now()
        for ev in self.events:
            due = origin + ev.time / self.speed
            while not self._closing.is_set() and self.clock.now() < due:
                self.clock.sleep_until(min(due, self.clock.now() + POLL))
            if self._closing.is_set():
                return
            self._hand_on(ev.msg)
        self.deliver(self.clock.now(), None)


class SocketInput(Input):
    """``listen:HOST:PORT``: accepts senders one after another and parses their bytes."""

    kind = "socket"

    def __init__(self, host: str, port: int, deliver: Deliver, clock: Clock | None = None) -> None:
        super().__init__(f"{LISTEN_PREFIX}{host}:{port}", deliver, clock)
        if not 0 <= port < 65536:
            raise PlaybackError(f"{self.name}: port number must be 0..65535 (0 picks a free one)")
        try:
            self.server = socket.create_server((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise PlaybackError(f"{self.name}: cannot listen there ({reason})") from exc
        self.server.settimeout(POLL)
        self.host = host
        self.port = self.server.getsockname()[1]  # the real port when 0 was asked for
        self.name = f"{LISTEN_PREFIX}{host}:{self.port}"
        self.parser = ByteParser(self.counts)

    def start(self) -> SocketInput:
        self._spawn(self._serve, f"jam-in:{self.port}")
        return self

    def _serve(self) -> None:
        with self.server:
            while not self._closing.is_set():
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.counts.connections += 1
                self._read(conn)

    def _read(self, conn: socket.socket) -> None:
        conn.settimeout(POLL)
        parser = self.parser
        with conn:
            while not self._closing.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                now = self.clock.now()
                for msg in parser.feed(data):
                    self.deliver(now, msg)
        self.parser = ByteParser(self.counts)  # a half message of the old sender is dropped
        self.deliver(self.clock.now(), None)


class PortInput(Input):
    """An OS or virtual MIDI input through mido/rtmidi, read on its own thread."""

    kind = "os"

    def __init__(self, port: mido.ports.BaseInput, name: str, deliver: Deliver, clock: Clock | None = None) -> None:
        super().__init__(name, deliver, clock)
        self.port = port

    def start(self) -> PortInput:
        self._spawn(self._read, f"jam-in:{self.name}")
        return self

    def _read(self) -> None:
        try:
            while not self._closing.is_set():
                msg = self.port.poll()
                if msg is None:
                    self._closing.wait(0.0005)
                    continue
                self._hand_on(msg)
        except Exception:  # the device was unplugged: rtmidi errors of all kinds
            self.deliver(self.clock.now(), None)
        finally:
            try:
                self.port.close()
            except Exception:
                pass


# ---------------------------------------------------------------------------------------------
# Listing and opening


def os_input_names() -> tuple[list[str], str | None]:
    """The OS MIDI inputs rtmidi sees, and None; or [] and why the MIDI system is unusable."""
    return os_port_names(mido.get_input_names)


def list_inputs() -> PortListing:
    """Every input a user can pick, with why the OS ones are missing when they are."""
    names, os_error = os_input_names()
    inputs = [PortInfo(n, "os", "OS MIDI input (rtmidi)") for n in names]
    inputs.append(PortInfo(f"{LISTEN_PREFIX}HOST:PORT", "socket",
                            "listen for mido socket senders, e.g. listen:127.0.0.1:5005 (another program, a test)"))
    virtual_note = "a new virtual MIDI input other programs can play into"
    if os_error:
        virtual_note += "; unavailable here: no OS MIDI system (see below)"
    inputs.append(PortInfo(f"{VIRTUAL_PREFIX}NAME", "virtual", virtual_note, available=os_error is None))
    inputs.append(PortInfo("FILE.mid", "file", "a MIDI file played in at its own speed, as if a person played it"))
    return PortListing(inputs, os_error)


def open_input(name: str, deliver: Deliver, clock: Clock | None = None, speed: float = 1.0) -> Input:
    """An input by name (see the module docstring); not started. PlaybackError names what was
    given and what would have been valid."""
    name = name.strip()
    if not name:
        raise PlaybackError(_no_match("''", "an empty input name"))
    if name.startswith(LISTEN_PREFIX):
        match = SOCKET_PATTERN.match(name[len(LISTEN_PREFIX):])
        if not match:
            raise PlaybackError(f"--in {name!r}: expected listen:HOST:PORT, e.g. listen:127.0.0.1:5005")
        return SocketInput(match["host"].strip("[]"), int(match["port"]), deliver, clock)
    if name.startswith(VIRTUAL_PREFIX):
        return PortInput(open_rtmidi("input", name[len(VIRTUAL_PREFIX):], virtual=True), name, deliver, clock)
    if Path(name).suffix.lower() in MIDI_SUFFIXES:
        if not Path(name).is_file():
            raise PlaybackError(f"--in {name}: no such MIDI file")
        return FileInput(name, deliver, clock, speed)
    os_names, os_error = os_input_names()
    hits = [n for n in os_names if n == name] or [n for n in os_names if name.lower() in n.lower()]
    if len(hits) == 1:
        return PortInput(open_rtmidi("input", hits[0]), hits[0], deliver, clock)
    if hits:
        raise PlaybackError(f"--in {name!r} matches {len(hits)} inputs: {', '.join(hits)}; give more of the name")
    why = f"no OS MIDI inputs ({os_error})" if os_error else None
    raise PlaybackError(_no_match(repr(name), why, os_names))


def _no_match(name: str, why: str | None = None, os_names: list[str] | None = None) -> str:
    valid = [*(os_names or []), f"{LISTEN_PREFIX}HOST:PORT", f"{VIRTUAL_PREFIX}NAME", "FILE.mid"]
    extra = f"; {why}" if why else ""
    return f"--in {name} matches no input{extra}; valid names: {', '.join(valid)}"


