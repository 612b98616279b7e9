"""Real-time playback: clocks, the lookahead scheduler, MIDI ports and the FluidSynth synth.

Imports no torch. The sample command, the session and the TUI call:

- ``play_stream(events, port_name, ...)``: play a lazy ``TimedMessage`` iterator to a port.
- ``sequence_events(seq)`` / ``file_events(path)``: a NoteSequence or a .mid as timed messages.
- ``render_wav(source, path, ...)``: offline FluidSynth render to a 16-bit stereo WAV.
- ``list_outputs()`` / ``open_output(name)``: the ports a user can pick.
"""

from __future__ import annotations

from genrnn.playback.clock import Clock, FakeClock, RealClock
from genrnn.playback.events import TimedMessage, file_events, sequence_events
from genrnn.playback.player import play_stream
from genrnn.playback.ports import PortInfo, PortListing, list_outputs, open_output
from genrnn.playback.scheduler import PlaybackStats, Scheduler
from genrnn.playback.synth import render_wav

__all__ = [
    "Clock",
    "FakeClock",
    "PortInfo",
    "PortListing",
    "PlaybackStats",
    "RealClock",
    "Scheduler",
    "TimedMessage",
    "file_events",
    "list_outputs",
    "open_output",
    "play_stream",
    "render_wav",
    "sequence_events",
]
