"""Instruments: General MIDI programs, their 16 families, the drum kit, and the names people use.

A note belongs to an instrument: a GM program 0..127, or the drum kit (``is_drum``, GM channel
10). Event models see instruments at one of two grains (``InstrumentSet``): every program and the
kit (129 instruments), or the 16 GM families and the kit (17; for small corpora, where 128
programs would each be seen too rarely). Names: ``instrument_name`` for tracks and legends, and
``parse_instrument`` for what a user types (``piano``, ``bass``, ``drums``, ``violin``, ``33``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from genrnn.errors import ConfigError

NUM_PROGRAMS = 128
FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
            "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")
DRUM_NAMES = ("drums", "drum", "drum kit", "drumkit", "percussion kit", "kit")
GRAINS = ("programs", "families")


def program_name(program: int) -> str:
    """The General MIDI name of a program ("Acoustic Grand Piano"), from pretty_midi (loaded by
    midi_io, which keeps pyfluidsynth's import-time print off stdout)."""
    from genrnn.music.midi_io import pretty_midi

    return str(pretty_midi.program_to_instrument_name(int(program)))


def family_of(program: int) -> int:
    return int(program) // 8


def instrument_name(program: int, is_drum: bool = False) -> str:
    return "Drums" if is_drum else program_name(program)


@dataclass(frozen=True)
class Instrument:
    """What a user named: a program, a whole family, or the drum kit."""

    program: int | None = None  # a program; None with ``family`` or for the kit
    family: int | None = None
    is_drum: bool = False

    def admits(self, program: int, is_drum: bool) -> bool:
        if self.is_drum or is_drum:
            return self.is_drum and is_drum
        if self.family is not None:
            return family_of(program) == self.family
        return program == self.program

    @property
    def group(self) -> str:
        """The group it is counted in: "drums", or the GM family it names or its program is of."""
        if self.is_drum or self.family is not None:
            return "drums" if self.is_drum else FAMILIES[self.family]
        return group_name(self.program or 0, False)


def group_name(program: int, is_drum: bool) -> str:
    """The group an instrument is counted in (metrics, labels, reports): "drums" or its General
    MIDI family ("bass", "synth lead")."""
    return "drums" if is_drum else FAMILIES[family_of(program)]


@functools.cache  # recipes check names once and keep them per file; the grammar per ensemble
def parse_instrument(text: str) -> Instrument:
    """``drums``, a family (``bass``, ``strings``), a program number (``33``) or a word of a GM
    program's name (``violin``, ``trumpet``: the first program whose name holds it)."""
    value = str(text).strip().lower()
    if value in DRUM_NAMES:
        return Instrument(is_drum=True)
    if value in FAMILIES:
        return Instrument(family=FAMILIES.index(value))
    if value.isdigit():
        if not 0 <= int(value) < NUM_PROGRAMS:
            raise ConfigError(f"instrument {text!r}: a program number is 0..127")
        return Instrument(program=int(value))
    for program in range(NUM_PROGRAMS):
        if re.search(rf"\b{re.escape(value)}\b", program_name(program).lower()):
            return Instrument(program=program)
    raise ConfigError(f"instrument {text!r}: expected drums, a family ({', '.join(FAMILIES)}), a program "
                      f"number 0..127 or a word of a General MIDI name (violin, trumpet, ...)")


@dataclass(frozen=True)
class InstrumentSet:
    """The instruments an event vocabulary names, at one grain: slot ``i`` is one token."""

    grain: str = "programs"  # "programs": 128 programs + the kit; "families": 16 families + the kit

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ConfigError(f"instrument grain {self.grain!r}: expected one of {', '.join(GRAINS)}")

    @property
    def size(self) -> int:
        return (NUM_PROGRAMS if self.grain == "programs" else len(FAMILIES)) + 1

    @property
    def drums(self) -> int:
        return self.size - 1

    def slot(self, program: int, is_drum: bool) -> int:
        if is_drum:
            return self.drums
        return int(program) if self.grain == "programs" else family_of(program)

    def program(self, slot: int) -> tuple[int, bool]:
        """(program, is_drum) a slot plays as: a family plays as its first program."""
        if slot == self.drums:
            return 0, True
        return (slot if self.grain == "programs" else slot * 8), False

    def name(self, slot: int) -> str:
        if slot == self.drums:
            return "drums"
        return program_name(slot) if self.grain == "programs" else FAMILIES[slot]

    def slots(self, wanted: Instrument) -> list[int]:
        """The slots an instrument a user named covers (a family: its eight programs; a program
        at the family grain: its family)."""
        if wanted.is_drum:
            return [self.drums]
        family = wanted.family if wanted.family is not None else family_of(wanted.program or 0)
        if self.grain == "families":
            return [family]
        return list(range(family * 8, family * 8 + 8)) if wanted.family is not None else [int(wanted.program or 0)]


DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
# General MIDI drum notes by role (the drum metrics, the roll's drum lanes)
KICKS = frozenset({35, 36})  # acoustic bass drum, bass drum 1
SNARES = frozenset({37, 38, 39, 40})  # side stick, acoustic snare, hand clap, electric snare
CYMBALS = frozenset({42, 44, 46, 49, 51, 52, 53, 55, 57, 59})  # hi-hats, crashes, rides, splash, china
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


class ChannelAllocator:
    """MIDI channels for instruments as they play, one rule for files, the synth and live ports:
    the drum kit on channel 10; each program on its own of the other 15, in order of first use.
    A piece with more than 15 programs shares: a 16th takes the channel that has been silent
    longest (one with no note sounding, if any), after a program change (``note_on`` says when
    one is due). Note-offs go to the channel their note-on used (``note_off``)."""

    def __init__(self) -> None:
        self.program_on: dict[int, int] = {}  # channel → program it plays now
        self.last_used: dict[int, int] = {}  # channel → a counter of the last note-on
        self.sounding: dict[int, int] = {}  # channel → notes sounding
        self._notes: dict[tuple[int, bool, int], list[int]] = {}  # (program, drum, pitch) → channels
        self._clock = 0

    def note_on(self, program: int, is_drum: bool, pitch: int) -> tuple[int, bool]:
        """(channel, whether a program change must come first)."""
        self._clock += 1
        if is_drum:
            channel, change = DRUM_CHANNEL, False
        else:
            channel = next((c for c, p in self.program_on.items() if p == program), None)
            change = channel is None
            if channel is None:
                free = [c for c in MELODIC_CHANNELS if c not in self.program_on]
                quiet = [c for c in self.program_on if not self.sounding.get(c)]
                channel = free[0] if free else min(quiet or self.program_on, key=lambda c: self.last_used.get(c, 0))
                self.program_on[channel] = program
        self.last_used[channel] = self._clock
        self.sounding[channel] = self.sounding.get(channel, 0) + 1
        self._notes.setdefault((program, is_drum, pitch), []).append(channel)
        return channel, change

    def note_off(self, program: int, is_drum: bool, pitch: int) -> int | None:
        """The channel of the oldest sounding note of that instrument and pitch (None: none)."""
        channels = self._notes.get((program, is_drum, pitch))
        if not channels:
            return None
        channel = channels.pop(0)
        self.sounding[channel] -= 1
        return channel
