"""Standard MIDI Files (type 0 and 1) in and out, every instrument and the drums kept.

Reading checks the chunk layout and the limits that protect us from hostile files before
mido parses and pretty_midi turns messages into notes. Whatever the bytes, a broken file
raises ``MidiConversionError`` whose message starts with the file and ends with one short
category (``REASONS``), e.g. ``song.mid: truncated track``. What band files do is read as a
player would hear it: a program change in the middle of a track starts a new instrument from
there; a drum part on a channel other than 10, named as drums by its track ("Drums",
"Percussion", "Kit"), is drums; a bank select is ignored (programs are General MIDI); tracks
without notes add nothing; a file of drums alone is drums. A type-2 file (independent
sequences, no shared time line) is refused by name.

Writing: a conductor track (tempo, metre, markers), then one named track per instrument ("Violin",
"Drums") on the channels music/instruments.py's ``ChannelAllocator`` gives (drums on 10; past 15
programs a silent channel is reused after a program change). Through mido to a temporary file
that is ``os.replace``d into place.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import mido

# pretty_midi imports pyfluidsynth when it is installed, and pyfluidsynth prints the library it
# found to stdout whenever $CI is set: that line would corrupt `--json` output and piped samples.
with contextlib.redirect_stdout(io.StringIO()):
    import pretty_midi

from genrnn.errors import MidiConversionError
from genrnn.music.instruments import ChannelAllocator, instrument_name
from genrnn.music.notes import Note, NoteSequence, resolve_overlaps

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TICKS = 20_000_000  # per track; beyond this pretty_midi would build huge tick→time tables
MAX_SECONDS = 2 * 3600.0
MIN_TEMPO_US = 10_000  # 6000 bpm; faster than this is not a tempo but damage
WRITE_TICKS_PER_BEAT = 480
MIN_NOTE_SECONDS = 0.01
# A track whose name says drums plays the drum kit, whatever its channel.
DRUM_TRACK = re.compile(r"\b(drums?|drum ?kit|percussion|perc|kit)\b", re.IGNORECASE)
PITCHED_TRACK = re.compile(r"chromatic|tuned|mallet|timpani|glock|xylo|marimba|vibra", re.IGNORECASE)

# What a band file does that the reader handles, as named in a corpus's prep report: each a
# rule of the module docstring, noted once per file that needs it.
READ_AS = (
    "program change mid-track",   # a new instrument from there on
    "drums named by their track",  # a drum part off channel 10, drums by its track's name
    "bank select ignored",        # programs are General MIDI
    "tracks without notes",       # they add nothing
    "drums only",                 # a beat alone: drums, no pitched part
    "tracks sharing a channel",   # each note keeps its own track's program
    "more than 15 instruments",   # written back, channels are shared (music/instruments.py)
)

# The short reasons a read can fail with (used for skip summaries).
REASONS = (
    "empty file",
    "not a MIDI file",
    "file too large",
    "bad header",
    "zero ticks per beat",
    "truncated track",
    "bad chunk length",
    "corrupt track data",
    "type-2 file",
    "absurd tempo",
    "huge delta time",
    "hanging notes",
    "no notes",
    "unreadable",
)


class _Bad(Exception):
    """Internal: carries one of REASONS."""


def reason_of(error: MidiConversionError) -> str:
    """The short category at the end of a read error's message."""
    return str(error).rsplit(": ", 1)[-1]


def read_midi(path: str | os.PathLike[str]) -> NoteSequence:
    """Read a .mid file into a NoteSequence; any damage → MidiConversionError(``path: reason``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MidiConversionError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return read_midi_bytes(data, name=str(path))


def read_midi_bytes(data: bytes, name: str = "<bytes>") -> NoteSequence:
    """As ``read_midi`` for bytes already in memory."""
    try:
        return _read(data)
    except _Bad as exc:
        raise MidiConversionError(f"{name}: {exc}") from None
    except Exception:  # noqa: BLE001 - hostile bytes: any parser failure is one category
        raise MidiConversionError(f"{name}: unreadable") from None


def _read(data: bytes) -> NoteSequence:
    _check_layout(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
        except EOFError:
            raise _Bad("truncated track") from None
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            raise _Bad("corrupt track data") from None
        ticks = _absolute_ticks(mid)  # before pretty_midi, which turns mid's delta times into absolute ones
        tempo_us = _check_timing(mid, ticks)
        pm = pretty_midi.PrettyMIDI(mido_object=mid)
    return _to_sequence(pm, mid, ticks, tempo_us)


def _absolute_ticks(mid: mido.MidiFile) -> list[list[int]]:
    """Each track's messages' ticks from the start of the file."""
    out = []
    for track in mid.tracks:
        tick, ticks = 0, []
        for msg in track:
            tick += msg.time
            ticks.append(tick)
        out.append(ticks)
    return out


def _check_layout(data: bytes) -> None:
    """Walk the chunks: header sanity, chunk lengths that fit, division not zero."""
    if not data:
        raise _Bad("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise _Bad("file too large")
    if data[:4] != b"MThd":
        raise _Bad("not a MIDI file")
    if len(data) < 14:
        raise _Bad("truncated track")
    if int.from_bytes(data[4:8], "big") != 6 or int.from_bytes(data[8:10], "big") > 2:
        raise _Bad("bad header")
    if int.from_bytes(data[8:10], "big") == 2:
        raise _Bad("type-2 file")  # independent sequences: no one time line to read them on
    ntracks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if division == 0:
        raise _Bad("zero ticks per beat")
    if division & 0x8000:
        raise _Bad("bad header")  # SMPTE time division: not supported by pretty_midi
    _walk_chunks(data, ntracks)


def _walk_chunks(data: bytes, ntracks: int) -> None:
    pos, found, last_ok = 14, 0, True
    while pos < len(data) and found < ntracks:
        if len(data) - pos < 8:
            raise _Bad("truncated track")
        chunk_id = data[pos : pos + 4]
        if not all(0x20 <= b < 0x7F for b in chunk_id):
            raise _Bad("bad chunk length")
        length = int.from_bytes(data[pos + 4 : pos + 8], "big")
        if pos + 8 + length > len(data):
            raise _Bad("truncated track")
        if chunk_id == b"MTrk":
            found += 1
            last_ok = data[pos + 8 + length - 3 : pos + 8 + length] == b"\xff\x2f\x00"
        pos += 8 + length
    if found < ntracks:
        raise _Bad("truncated track")
    if pos < len(data) and not last_ok:
        raise _Bad("bad chunk length")  # the last track stops short of its end and bytes follow


def _check_timing(mid: mido.MidiFile, ticks: list[list[int]]) -> int | None:
    """Reject absurd tempos and delta times (``ticks``: each track's absolute ticks); return the
    first tempo (µs/beat) if any."""
    tempos = [m.tempo for track in mid.tracks for m in track if m.type == "set_tempo"]
    if any(t < MIN_TEMPO_US for t in tempos):
        raise _Bad("absurd tempo")
    longest = max((t[-1] for t in ticks if t), default=0)
    if longest > MAX_TICKS:
        raise _Bad("huge delta time")
    first_tempo = tempos[0] if tempos else None
    seconds = longest / mid.ticks_per_beat * (first_tempo or 500_000) / 1e6
    if seconds > MAX_SECONDS * 4:  # generous: tempo may speed up later
        raise _Bad("huge delta time")
    return first_tempo


def _to_sequence(pm: pretty_midi.PrettyMIDI, mid: mido.MidiFile, ticks: list[list[int]],
                 tempo_us: int | None) -> NoteSequence:
    if pm.get_end_time() > MAX_SECONDS:
        raise _Bad("huge delta time")
    notes = _notes(pm, mid, ticks)
    if not notes:
        raise _Bad("hanging notes" if _has_note_ons(mid) else "no notes")
    ts = pm.time_signature_changes
    return NoteSequence(
        notes=notes,
        tempo_bpm=round(60e6 / tempo_us, 3) if tempo_us else None,
        time_signature=(ts[0].numerator, ts[0].denominator) if ts else None,
        markers=_markers(pm, mid, ticks),
        read_as=_read_as(mid, notes),
    )


def _read_as(mid: mido.MidiFile, notes: list[Note]) -> tuple[str, ...]:
    """Which of ``READ_AS`` this file needed."""
    found: set[str] = set()
    channel_tracks: dict[int, set[int]] = {}
    for index, track in enumerate(mid.tracks):
        sounding: set[int] = set()  # channels of this track that have played a note
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.add(msg.channel)
            elif msg.type == "program_change" and msg.channel in sounding:
                found.add("program change mid-track")
            elif msg.type == "control_change" and msg.control in (0, 32):
                found.add("bank select ignored")
        if sounding - {9} and _named_drums(track):
            found.add("drums named by their track")
        if not sounding and index > 0:  # a type-1 file's first track is its conductor
            found.add("tracks without notes")
        for channel in sounding:
            channel_tracks.setdefault(channel, set()).add(index)
    if any(len(tracks) > 1 for tracks in channel_tracks.values()):
        found.add("tracks sharing a channel")
    if all(n.is_drum for n in notes):
        found.add("drums only")
    if len({n.program for n in notes if not n.is_drum}) > 15:
        found.add("more than 15 instruments")
    return tuple(name for name in READ_AS if name in found)


def _notes(pm: pretty_midi.PrettyMIDI, mid: mido.MidiFile, ticks: list[list[int]]) -> list[Note]:
    """Every note as a player sounds it: with the program in force on its channel when it
    starts (pretty_midi gives a note the program in force when it ends, so a note held over a
    program change would change instrument), drums on channel 10 or in a track named as
    drums. As pretty_midi pairs them: a note-off ends every note of its channel and pitch that
    began at an earlier tick; notes never ended are dropped."""
    notes: list[Note] = []
    for track, track_ticks in zip(mid.tracks, ticks, strict=True):
        named_drums = _named_drums(track)
        program = [0] * 16
        opened: dict[tuple[int, int], list[tuple[int, int, int]]] = {}  # (channel, pitch) → (tick, vel, program)
        for msg, tick in zip(track, track_ticks, strict=True):
            if msg.type == "program_change":
                program[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                opened.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity, program[msg.channel]))
            elif msg.type in ("note_on", "note_off") and opened.get((msg.channel, msg.note)):
                starts = opened[(msg.channel, msg.note)]
                end = float(pm.tick_to_time(tick))
                for on, velocity, prog in starts:
                    if on != tick:
                        start = float(pm.tick_to_time(on))
                        notes.append(Note(msg.note, min(127, max(1, velocity)), start,
                                          max(end, start + MIN_NOTE_SECONDS), prog, msg.channel == 9 or named_drums))
                opened[(msg.channel, msg.note)] = [s for s in starts if s[0] == tick]
    return notes


def _named_drums(track: mido.MidiTrack) -> bool:
    """Whether the track's name says drums ("Drums", "Percussion", "Kit"; not "Tuned Percussion")."""
    name = next((m.name for m in track if m.type == "track_name"), "")
    return bool(DRUM_TRACK.search(name)) and not PITCHED_TRACK.search(name)


def _has_note_ons(mid: mido.MidiFile) -> bool:
    return any(m.type == "note_on" and m.velocity > 0 for t in mid.tracks for m in t)


def _markers(pm: pretty_midi.PrettyMIDI, mid: mido.MidiFile, ticks: list[list[int]]) -> list[tuple[float, str]]:
    out = []
    for track, track_ticks in zip(mid.tracks, ticks, strict=True):
        for msg, tick in zip(track, track_ticks, strict=True):
            if msg.type == "marker":
                out.append((float(pm.tick_to_time(tick)), str(msg.text)))
    return sorted(out)


# ---------------------------------------------------------------- writing


def write_midi(
    seq: NoteSequence,
    path: str | os.PathLike[str],
    markers: Sequence[tuple[float, str]] = (),
) -> Path:
    """Write ``seq`` as a type-1 .mid: a conductor track (tempo, metre, markers) then one track
    per (program, drum) with its own channel; drums on channel 10. ``markers`` are added to
    ``seq.markers``. Atomic: a temp file is ``os.replace``d into ``path``."""
    return _save(sequence_to_mido(seq, markers), Path(path))


def write_midi_parts(parts: Sequence[tuple[str, NoteSequence]], path: str | os.PathLike[str],
                     markers: Sequence[tuple[float, str]] = ()) -> Path:
    """Write several players' notes as one type-1 .mid: each part's instruments on their own
    tracks, named ``PART: INSTRUMENT`` (``call: Acoustic Grand Piano``), so that a DAW or
    pretty_midi keeps the parts apart even when they play the same instrument; a part without
    notes still gets its named, empty track. Atomic, like ``write_midi``."""
    mid = sequence_to_mido(NoteSequence(), markers)
    for name, seq in parts:
        tracks = sequence_to_mido(seq).tracks[1:]
        if not tracks:
            tracks = [_track([(0, 0, mido.MetaMessage("track_name", name=str(name)))])]
        else:
            for track in tracks:
                for i, msg in enumerate(track):
                    if msg.type == "track_name":
                        track[i] = msg.copy(name=f"{name}: {msg.name}")
        mid.tracks.extend(tracks)
    return _save(mid, Path(path))


def _save(mid: mido.MidiFile, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            mid.save(file=fh)
        readable_like_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def readable_like_umask(path: str | os.PathLike[str]) -> None:
    """mkstemp makes a file only its owner can read; a written piece gets the usual mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def sequence_to_mido(seq: NoteSequence, markers: Sequence[tuple[float, str]] = ()) -> mido.MidiFile:
    """The mido file ``write_midi`` saves (useful for playback without touching disk)."""
    bpm = seq.tempo_bpm if seq.tempo_bpm and 1 <= seq.tempo_bpm <= 1000 else 120.0
    tps = WRITE_TICKS_PER_BEAT * bpm / 60.0  # ticks per second
    mid = mido.MidiFile(type=1, ticks_per_beat=WRITE_TICKS_PER_BEAT)
    mid.tracks.append(_conductor(seq, list(seq.markers) + list(markers), bpm, tps))
    tracks: dict[tuple[int, bool], list[tuple[int, int, mido.Message | mido.MetaMessage]]] = {}
    for key in sorted({(n.program, n.is_drum) for n in seq.notes}, key=lambda k: (k[1], k[0])):
        tracks[key] = [(0, 0, mido.MetaMessage("track_name", name=instrument_name(*key)))]
    channels = ChannelAllocator()
    notes = resolve_overlaps(seq.notes)
    events = sorted([(round(n.start * tps), 1, n) for n in notes] +
                    [(max(round(n.end * tps), round(n.start * tps) + 1), 0, n) for n in notes],
                    key=lambda e: (e[0], e[1], e[2].pitch))  # at one tick offs first: a repeat retriggers
    for tick, is_on, n in events:
        track = tracks[(n.program, n.is_drum)]
        if is_on:
            channel, change = channels.note_on(n.program, n.is_drum, n.pitch)
            if change:
                track.append((tick, 1, mido.Message("program_change", program=n.program, channel=channel)))
            vel = min(127, max(1, n.velocity))
            track.append((tick, 3, mido.Message("note_on", note=n.pitch, velocity=vel, channel=channel)))
        else:
            channel = channels.note_off(n.program, n.is_drum, n.pitch)
            track.append((tick, 2, mido.Message("note_off", note=n.pitch, velocity=0, channel=channel)))
    mid.tracks.extend(_track(events) for events in tracks.values())
    return mid


def _conductor(seq: NoteSequence, markers: list, bpm: float, tps: float) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))),
    ]
    if seq.time_signature:
        num, den = seq.time_signature
        events.append((0, 1, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    for t, text in markers:
        events.append((round(max(0.0, t) * tps), 2, mido.MetaMessage("marker", text=str(text))))
    return _track(events)


def _track(events: list) -> mido.MidiTrack:
    """Absolute-tick events (tick, order, msg) → a delta-timed track ending with end_of_track."""
    track, last = mido.MidiTrack(), 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track
