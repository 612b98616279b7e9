"""An output that lets only some instruments sound (mute and solo while listening).

``GatedOutput`` asks ``audible(program, is_drum)`` at each note_on it is about to send, so a
change made while a piece plays applies from the very next note (not from the next one the
scheduler pulls, up to its lookahead ahead). It knows each channel's instrument from the program
changes it sends (``events.note_event_messages`` puts one before each instrument's first note;
drums are on GM channel 10). A note_on it holds back has its note_off held back too; a note it
sent always gets its note_off, so muting an instrument mid-note never leaves that note hanging.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path

import mido

from genrnn.music.instruments import DRUM_CHANNEL
from genrnn.playback.ports import CleanupReport, MidiSink, Output, open_output

Audible = Callable[[int, bool], bool]  # (program, is_drum) → whether its next note sounds


class GatedOutput(Output):
    """An ``Output`` that sends a note only when ``audible`` says its instrument sounds."""

    def __init__(self, sink: MidiSink, name: str, audible: Audible) -> None:
        super().__init__(sink, name)
        self.audible = audible
        self.held_back = 0  # note_ons not sent
        self._programs: dict[int, int] = {}  # channel → the program it plays now
        self._notes: dict[tuple[int, int], deque[bool]] = {}  # (channel, note) → sent?, oldest first

    def send(self, msg: mido.Message) -> None:
        if msg.type == "program_change":
            self._programs[msg.channel] = msg.program
        elif msg.type in ("note_on", "note_off"):
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                sent = self.audible(self._programs.get(msg.channel, 0), msg.channel == DRUM_CHANNEL)
                self._notes.setdefault(key, deque()).append(sent)
                if not sent:
                    self.held_back += 1
                    return
            else:  # the off of the oldest note of that key (the allocator's and Output's rule)
                notes = self._notes.get(key)
                if notes and not notes.popleft():
                    return
        super().send(msg)

    def silence(self) -> CleanupReport:
        """Release every note sent (the held-back ones never sounded)."""
        self._notes.clear()  # the cleanup's note_offs are all for notes that were sent
        return super().silence()


def open_gated(name: str, audible: Audible, *, soundfont: str | Path | None = None) -> GatedOutput:
    """Open the output named ``name`` (as ``ports.open_output``) behind a gate."""
    opened = open_output(name, soundfont=soundfont)
    return GatedOutput(opened.sink, opened.name, audible)
