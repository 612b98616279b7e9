"""MIDI outputs by name: OS ports (rtmidi), network sockets, virtual ports, the built-in synth.

``open_output(name)`` returns an ``Output``: a context manager that remembers every note it
has sounded and, on close (after an exception, Ctrl-C, a stop), sends each of them its own
note_off, then all-notes-off (CC 123) and all-sound-off (CC 120) on each channel it used.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import mido
import mido.sockets

from genrnn.errors import PlaybackError
from genrnn.playback.native import captured_stderr

SYNTH_NAME = "synth"
VIRTUAL_PREFIX = "virtual:"
SOCKET_PATTERN = re.compile(r"^(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")
CONNECT_TIMEOUT = 3.0
ALL_SOUND_OFF = 120
ALL_NOTES_OFF = 123


class MidiSink(Protocol):
    """What an output needs from the thing underneath: a mido port or the synth."""

    def send(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# The tracked output


def _note_key(msg: mido.Message) -> tuple[int, int] | None:
    """(channel, note) of a note_on / note_off, else None."""
    if msg.type in ("note_on", "note_off"):
        return (msg.channel, msg.note)
    return None


@dataclass
class CleanupReport:
    """What ``Output.silence`` sent, and the error that stopped it early (a dead port)."""

    note_offs: int = 0
    controllers: int = 0
    error: str | None = None


class Output:
    """A MIDI output that never leaves a note hanging. Use it as a context manager."""

    def __init__(self, sink: MidiSink, name: str) -> None:
        self.sink = sink
        self.name = name
        self.sounding: Counter[tuple[int, int]] = Counter()  # (channel, note) -> times on
        self.channels: set[int] = set()
        self.sent = 0
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        """Send one message; a failing port becomes PlaybackError naming the port.

        A note_on counts as sounding from just before it is sent and a note_off releases it
        only once sent, so a Ctrl-C landing between the two can cause a spare note_off at
        cleanup, never a hanging note.
        """
        if self.closed:
            raise PlaybackError(f"{self.name}: the port is closed")
        key = _note_key(msg)
        starts = key is not None and msg.type == "note_on" and msg.velocity > 0
        if starts:
            self.sounding[key] += 1
        try:
            self.sink.send(msg)
        except Exception as exc:  # OSError from a socket, rtmidi errors, ValueError on close
            if starts:
                self._release(key)
            if isinstance(exc, PlaybackError):
                raise
            raise PlaybackError(f"{self.name}: the port failed while playing ({exc or type(exc).__name__})") from exc
        self.sent += 1
        if hasattr(msg, "channel"):
            self.channels.add(msg.channel)
        if key is not None and not starts:
            self._release(key)

    def _release(self, key: tuple[int, int]) -> None:
        if self.sounding[key] > 1:
            self.sounding[key] -= 1
        else:
            self.sounding.pop(key, None)

    def cleanup_messages(self) -> list[mido.Message]:
        """A note_off for every sounding note, then CC 123 and CC 120 on each channel used."""
        offs = [
            mido.Message("note_off", channel=ch, note=note, velocity=0)
            for (ch, note), times in sorted(self.sounding.items())
            for _ in range(times)
        ]
        ccs = [
            mido.Message("control_change", channel=ch, control=cc, value=0)
            for ch in sorted(self.channels)
            for cc in (ALL_NOTES_OFF, ALL_SOUND_OFF)
        ]
        return offs + ccs

    def silence(self) -> CleanupReport:
        """Release everything this output sounded. Never raises; stops at a dead port."""
        report = CleanupReport()
        for msg in self.cleanup_messages():
            try:
                self.send(msg)
            except PlaybackError as exc:
                report.error = str(exc)
                break
            if msg.type == "note_off":
                report.note_offs += 1
            else:
                report.controllers += 1
        return report

    def close(self) -> CleanupReport:
        """Silence, then close the port underneath. Idempotent."""
        if self.closed:
            return CleanupReport()
        try:
            report = self.silence()
        finally:
            self.closed = True
            try:
                self.sink.close()
            except Exception:  # a port that already vanished cannot be closed twice
                pass
        return report

    def __enter__(self) -> Output:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One output or input a user can name: ``name`` is what to pass to --port / --in; ``kind``
    "os", "synth", "socket", "virtual" or "file"."""

    name: str
    kind: str
    description: str
    available: bool = True


@dataclass(slots=True)
class PortListing:
    """The outputs (or inputs) a user can pick, and why there are no OS ones when the MIDI
    system failed."""

    ports: list[PortInfo] = field(default_factory=list)
    os_error: str | None = None

    @property
    def os_names(self) -> list[str]:
        return [p.name for p in self.ports if p.kind == "os"]


def os_output_names() -> tuple[list[str], str | None]:
    """The OS MIDI outputs rtmidi sees, and None; or [] and why the MIDI system is unusable."""
    return os_port_names(mido.get_output_names)


def os_port_names(get_names: Callable[[], list[str]]) -> tuple[list[str], str | None]:
    """The names ``get_names`` (mido's output or input lister) gives, and None; or [] and why
    the MIDI system is unusable."""
    with captured_stderr():
        try:
            names = list(get_names())
        except Exception as exc:  # rtmidi SystemError when ALSA has no sequencer, ImportError ...
            error: str | None = midi_system_reason(exc)
        else:
            return names, None
    return [], error


def midi_system_reason(exc: Exception) -> str:
    reason = str(exc).strip() or type(exc).__name__
    if Path("/dev").is_dir() and not Path("/dev/snd/seq").exists() and "ALSA" in reason:
        reason += " (/dev/snd/seq is missing: this machine has no ALSA sequencer)"
    return reason


def list_outputs(synth_status: Callable[[], str | None] | None = None) -> PortListing:
    """Every output a user can pick, with why the OS ones are missing when they are.

    ``synth_status`` returns None when the synth can sound here, else why not; by default the
    audio device is probed (fast, with a timeout).
    """
    names, os_error = os_output_names()
    outputs = [PortInfo(n, "os", "OS MIDI output (rtmidi)") for n in names]
    outputs.append(_synth_info(synth_status))
    outputs.append(PortInfo("HOST:PORT", "socket", "mido socket port, e.g. 127.0.0.1:5004 (a DAW bridge or another genrnn)"))
    virtual_note = "a new virtual MIDI output other programs can connect to"
    if os_error:
        virtual_note += "; unavailable here: no OS MIDI system (see below)"
    outputs.append(PortInfo(f"{VIRTUAL_PREFIX}NAME", "virtual", virtual_note, available=os_error is None))
    return PortListing(outputs, os_error)


def _synth_info(synth_status: Callable[[], str | None] | None) -> PortInfo:
    if synth_status is None:
        from genrnn.playback.synth import audio_status

        synth_status = audio_status
    problem = synth_status()
    if problem is None:
        return PortInfo(SYNTH_NAME, "synth", "built-in FluidSynth instrument on the audio device")
    return PortInfo(SYNTH_NAME, "synth", f"built-in FluidSynth instrument: {problem}", available=False)


# ---------------------------------------------------------------------------------------------
# Opening


def open_output(name: str, *, soundfont: str | Path | None = None) -> Output:
    """Open an output by name: an OS port (exact or unique substring), HOST:PORT, synth, virtual:NAME."""
    name = name.strip()
    if not name:
        raise PlaybackError(_no_match("''", "an empty port name"))
    if name == SYNTH_NAME:
        from genrnn.playback.synth import SynthPort

        return Output(SynthPort(soundfont), SYNTH_NAME)
    if name.startswith(VIRTUAL_PREFIX):
        return Output(open_rtmidi("output", name[len(VIRTUAL_PREFIX) :], virtual=True), name)
    os_names, os_error = os_output_names()
    if name in os_names:
        return Output(open_rtmidi("output", name), name)
    match = SOCKET_PATTERN.match(name)
    if match:
        return Output(connect_socket(match["host"].strip("[]"), int(match["port"])), name)
    return _open_by_substring(name, os_names, os_error)


def _open_by_substring(name: str, os_names: list[str], os_error: str | None) -> Output:
    hits = [n for n in os_names if name.lower() in n.lower()]
    if len(hits) == 1:
        return Output(open_rtmidi("output", hits[0]), hits[0])
    if hits:
        raise PlaybackError(f"--port {name!r} matches {len(hits)} outputs: {', '.join(hits)}; give more of the name")
    why = f"no OS MIDI outputs ({os_error})" if os_error else None
    raise PlaybackError(_no_match(repr(name), why, os_names))


def _no_match(name: str, why: str | None = None, os_names: list[str] | None = None) -> str:
    valid = [*(os_names or []), SYNTH_NAME, "HOST:PORT", f"{VIRTUAL_PREFIX}NAME"]
    extra = f"; {why}" if why else ""
    return f"--port {name} matches no output{extra}; valid names: {', '.join(valid)}"


def open_rtmidi(direction: str, name: str, virtual: bool = False) -> Any:
    """An OS MIDI ``direction`` ("output" or "input") port by its full name, or a new virtual
    one named ``name``, through mido and rtmidi with rtmidi's noise kept off stderr; a
    PlaybackError that says why when it cannot be opened."""
    opener = mido.open_output if direction == "output" else mido.open_input
    if virtual and not name:
        raise PlaybackError(f"virtual: needs a name, e.g. virtual:genrnn-{'out' if direction == 'output' else 'in'}")
    with captured_stderr() as noise:
        try:
            return opener(name, virtual=True) if virtual else opener(name)
        except Exception as exc:  # Windows' rtmidi has no virtual ports; no ALSA sequencer here
            reason = midi_system_reason(exc) if virtual else str(exc) or (noise[-1] if noise else type(exc).__name__)
    if virtual:
        raise PlaybackError(f"virtual:{name}: cannot create a virtual MIDI {direction} ({reason}); "
                            f"pick another {direction} (see `genrnn ports`)")
    raise PlaybackError(f"{name}: cannot open the MIDI {direction} ({reason})")


class SocketOutput(mido.sockets.SocketPort):
    """mido's socket port client, sending with ``sendall`` so that any failure is an OSError."""

    def _send(self, message: mido.Message) -> None:
        self._socket.sendall(bytes(message.bin()))

    def _close(self) -> None:
        """Hang up for real: mido's close leaves the connection open while its file objects
        live, so a receiver would wait for more."""
        for closing in (lambda: self._socket.shutdown(socket.SHUT_RDWR), self._rfile.close, self._wfile.close):
            try:
                closing()
            except OSError:
                pass  # a peer that already went away
        super()._close()


def connect_socket(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> SocketOutput:
    """Connect to a mido socket port server, with Nagle off (low latency) and a send timeout.

    The timeout applies to connecting and to each send: a receiver that stops reading makes
    the port fail with PlaybackError instead of blocking the player for ever.
    """
    if not 0 < port < 65536:
        raise PlaybackError(f"{host}:{port}: port number must be 1..65535")
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise PlaybackError(f"{host}:{port}: cannot connect ({reason}); is a MIDI socket receiver listening there?") from exc
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return SocketOutput(host, port, conn=conn)
