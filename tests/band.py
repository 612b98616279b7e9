"""Synthetic band songs as real type-1 MIDI files (mido), for tests and benchmarks: a drum kit on
channel 10 playing a bar-long kick/snare/hat pattern on the 16th grid, a bass line, piano chords,
and more parts as asked (guitar, strings, a lead, brass, organ, ...), one named track each, with
a tempo and a 4/4 metre. From 17 parts two tracks share a channel (Lead and Synth Pad on 5).
``program_changes`` adds changes in the middle of tracks: the piano turns into an electric piano
at the middle bar line (same GM family), the strings into a violin two beats into the middle
bar, while the bar's chord still sounds with its first program (another family). Seeded: the
same seed writes the same bytes."""

from __future__ import annotations

import random
from pathlib import Path

import mido

# (track name, GM program, channel, register): the parts in the order they are added
PARTS = [
    ("Drums", 0, 9, 0), ("Bass", 33, 1, 36), ("Piano", 0, 0, 60), ("Guitar", 27, 2, 55), ("Strings", 48, 3, 60),
    ("Lead", 80, 4, 72), ("Brass", 61, 5, 60), ("Organ", 16, 6, 55), ("Flute", 73, 7, 76), ("Sax", 65, 8, 62),
    ("Vibes", 11, 10, 67), ("Cello", 42, 11, 48), ("Trumpet", 56, 12, 67), ("Clarinet", 71, 13, 60),
    ("Harp", 46, 14, 55), ("Choir", 52, 15, 60), ("Synth Pad", 89, 4, 60),
]
KICK, SNARE, HAT = 36, 38, 42
TICKS = 480  # per beat
SIXTEENTH = TICKS // 4


# track name → (program from the middle, beats into the middle bar): see the module docstring
SWITCHES = {"Piano": (4, 0), "Strings": (40, 2)}


def song(seconds: float, parts: int = 6, seed: int = 0, bpm: float | None = None,
         program_changes: bool = False) -> mido.MidiFile:
    """A song of about ``seconds`` with the first ``parts`` of ``PARTS`` (drums first)."""
    rng = random.Random(seed)
    bpm = bpm or rng.choice([96, 104, 112, 120, 128])
    bars = max(1, round(seconds * bpm / 60 / 4))
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                                mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    mid.tracks.append(conductor)
    root = rng.choice([0, 2, 5, 7, 9])
    chords = [rng.choice([0, 5, 7, 9]) for _ in range(4)]
    for name, program, channel, register in PARTS[:parts]:
        notes = _drums(bars, rng) if channel == 9 else _line(bars, chords, root, register, name, rng)
        changes = []
        if program_changes and name in SWITCHES and bars > 1:
            later, beats = SWITCHES[name]
            changes.append((bars // 2 * 4 * TICKS + beats * TICKS, later))
        mid.tracks.append(_track(name, program, channel, notes, changes))
    return mid


def write_song(path: Path, seconds: float = 20.0, parts: int = 6, seed: int = 0,
               program_changes: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    song(seconds, parts, seed, program_changes=program_changes).save(path)
    return path


def played_programs(mid: mido.MidiFile) -> list[tuple[int, bool, int, int]]:
    """(program, drums, pitch, start tick) of every note as a GM player sounds it: the program
    in force on its channel in its track at its note-on; drums on channel 10. The answer a
    reader must give."""
    out = []
    for track in mid.tracks:
        program, tick = [0] * 16, 0
        for msg in track:
            tick += msg.time
            if msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                out.append((program[msg.channel], msg.channel == 9, msg.note, tick))
    return sorted(out)


def _drums(bars: int, rng: random.Random) -> list[tuple[int, int, int, int]]:
    """(start tick, ticks, pitch, velocity): one pattern repeated, a fill every fourth bar."""
    kicks = sorted({0, 8, *rng.sample([6, 10, 14], 1)})
    notes = []
    for bar in range(bars):
        base = bar * 16 * SIXTEENTH
        for step in range(16):
            t = base + step * SIXTEENTH
            if step in kicks:
                notes.append((t, SIXTEENTH, KICK, 110))
            if step in (4, 12) or (bar % 4 == 3 and step >= 12):
                notes.append((t, SIXTEENTH, SNARE, 100))
            if step % 2 == 0:
                notes.append((t, SIXTEENTH // 2, HAT, 70))
    return notes


def _line(bars: int, chords: list[int], root: int, register: int, name: str,
          rng: random.Random) -> list[tuple[int, int, int, int]]:
    notes = []
    scale = [0, 2, 4, 5, 7, 9, 11]
    for bar in range(bars):
        chord = root + chords[bar % len(chords)]
        base = bar * 4 * TICKS
        if name in ("Bass", "Cello"):
            for beat in range(4):
                pitch = register + (chord + (7 if beat % 2 else 0)) % 12
                notes.append((base + beat * TICKS, TICKS - 20, pitch, 95))
        elif name in ("Piano", "Guitar", "Organ", "Harp"):
            for beat in (0, 2):
                for third in (0, 4, 7):
                    notes.append((base + beat * TICKS, 2 * TICKS - 30, register + (chord + third) % 12 + 12 * (third == 7 and chord > 5), 80))
        elif name in ("Strings", "Choir", "Synth Pad"):
            for third in (0, 4, 7):
                notes.append((base, 4 * TICKS - 10, register + (chord + third) % 12, 60))
        else:  # melodies: eighths and quarters on the scale
            t = base
            while t < base + 4 * TICKS:
                length = min(rng.choice([TICKS // 2, TICKS]), base + 4 * TICKS - t)  # within the bar
                pitch = register + (root + rng.choice(scale)) % 12
                notes.append((t, length - 10, pitch, 85))
                t += length
    return notes


def _track(name: str, program: int, channel: int, notes: list[tuple[int, int, int, int]],
           changes: list[tuple[int, int]] = ()) -> mido.MidiTrack:
    events = [(t, 2, mido.Message("note_on", channel=channel, note=p, velocity=v)) for t, _, p, v in notes]
    events += [(t + d, 0, mido.Message("note_off", channel=channel, note=p, velocity=0)) for t, d, p, _ in notes]
    events += [(t, 1, mido.Message("program_change", channel=channel, program=p)) for t, p in changes]
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if channel != 9:
        track.append(mido.Message("program_change", channel=channel, program=program))
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    return track
