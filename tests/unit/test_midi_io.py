"""MIDI in and out: files genrnn writes open in mido and pretty_midi; damaged bytes → one error."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from genrnn.errors import MidiConversionError
from genrnn.music.midi_io import read_midi, read_midi_bytes, reason_of, write_midi
from genrnn.music.notes import Note, NoteSequence


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    return kind + struct.pack(">I", len(data) if length is None else length) + data


def smf(tracks: list[bytes], division: int = 480, ntracks: int | None = None, fmt: int = 1) -> bytes:
    header = chunk(b"MThd", struct.pack(">HHH", fmt, len(tracks) if ntracks is None else ntracks, division))
    return header + b"".join(tracks)


EOT = b"\x00\xff\x2f\x00"
NOTE = b"\x00\x90\x3c\x64" + vlq(480) + b"\x80\x3c\x00"  # C4 for one beat
TEMPO_120 = b"\x00\xff\x51\x03\x07\xa1\x20"


def good_file() -> bytes:
    return smf([chunk(b"MTrk", TEMPO_120 + NOTE + EOT)])


def reason(data: bytes) -> str:
    with pytest.raises(MidiConversionError) as info:
        read_midi_bytes(data, name="x.mid")
    assert str(info.value).startswith("x.mid: ")
    return reason_of(info.value)


def test_crafted_good_file_reads():
    seq = read_midi_bytes(good_file())
    assert [(n.pitch, n.velocity) for n in seq.notes] == [(60, 100)]
    assert seq.notes[0].start == 0 and seq.notes[0].end == pytest.approx(0.5)
    assert seq.tempo_bpm == pytest.approx(120)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty file"),
        (bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "not a MIDI file"),
        (b"RIFF" + b"\x00" * 40, "not a MIDI file"),
        (good_file()[:30], "truncated track"),
        (good_file()[:12], "truncated track"),
        (smf([chunk(b"MTrk", NOTE + EOT)], ntracks=3), "truncated track"),
        (smf([chunk(b"MTrk", NOTE + EOT, length=4)]), "bad chunk length"),
        (smf([chunk(b"MTrk", NOTE + EOT, length=5000)]), "truncated track"),
        (smf([chunk(b"MTrk", NOTE + EOT)], division=0), "zero ticks per beat"),
        (smf([chunk(b"MTrk", b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + EOT)]), "absurd tempo"),
        (smf([chunk(b"MTrk", b"\x00\xff\x51\x03\x00\x00\x05" + NOTE + EOT)]), "absurd tempo"),
        (smf([chunk(b"MTrk", b"\x00\x90\x3c\x64\x00\x90\x40\x64" + EOT)]), "hanging notes"),
        (smf([chunk(b"MTrk", b"\x00\x90\x3c\x64" + vlq(0x0FFFFFFF) + b"\x80\x3c\x00" + EOT)]), "huge delta time"),
        (smf([chunk(b"MTrk", TEMPO_120 + b"\x00\xc0\x05" + EOT)]), "no notes"),
        (smf([chunk(b"MTrk", EOT)]), "no notes"),
        (b"MThd\x00\x00\x00\x09" + b"\x00" * 20, "bad header"),
        (smf([chunk(b"MTrk", b"\x00\x3c\x64\x00" + EOT)]), "corrupt track data"),
    ],
    ids=[
        "empty", "random", "riff", "truncated-mid-track", "truncated-header", "missing-tracks",
        "chunk-too-short", "chunk-too-long", "zero-division", "zero-tempo", "tiny-tempo",
        "hanging", "huge-delta", "no-notes", "empty-track", "bad-header", "running-status",
    ],
)
def test_damaged_files_raise_one_error_with_reason(data: bytes, expected: str):
    assert reason(data) == expected


def test_random_mutations_never_raise_anything_else():
    rng = np.random.default_rng(1)
    base = bytearray(write_bytes(sample_sequence()))
    for _ in range(300):
        data = bytearray(base)
        for pos in rng.integers(0, len(data), rng.integers(1, 8)):
            data[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
        try:
            read_midi_bytes(bytes(data))
        except MidiConversionError:
            pass


def test_unreadable_path(tmp_path: Path):
    with pytest.raises(MidiConversionError, match="cannot read file"):
        read_midi(tmp_path / "nope.mid")


def sample_sequence() -> NoteSequence:
    return NoteSequence(
        notes=[
            Note(60, 100, 0.0, 0.5),
            Note(64, 70, 0.25, 1.0),
            Note(67, 90, 0.5, 1.5, program=40),
            Note(36, 120, 0.0, 0.1, is_drum=True),
            Note(42, 80, 0.5, 0.6, is_drum=True),
        ],
        tempo_bpm=90.0,
        time_signature=(3, 4),
        markers=[(1.0, "primer end")],
    )


def write_bytes(seq: NoteSequence, tmp: Path | None = None) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = write_midi(seq, Path(d) / "s.mid")
        return path.read_bytes()


def test_written_file_reads_back_in_mido(tmp_path: Path):
    seq = sample_sequence()
    path = write_midi(seq, tmp_path / "out.mid", markers=[(0.5, "extra")])
    mid = mido.MidiFile(path)
    assert mid.type == 1
    msgs = [m for t in mid.tracks for m in t]
    markers = sorted(m.text for m in msgs if m.type == "marker")
    assert markers == ["extra", "primer end"]
    drum_channels = {m.channel for m in msgs if m.type == "note_on" and m.note in (36, 42)}
    assert drum_channels == {9}
    programs = {m.program for m in msgs if m.type == "program_change"}
    assert programs == {0, 40}
    tempo = next(m.tempo for m in msgs if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(90)
    assert not list(tmp_path.glob(".*tmp"))  # the temp file was replaced into place


def test_written_file_reads_back_in_pretty_midi(tmp_path: Path):
    seq = sample_sequence()
    pm = pretty_midi.PrettyMIDI(str(write_midi(seq, tmp_path / "out.mid")))
    got = sorted((n.pitch, n.velocity, round(n.start, 3), round(n.end, 3), i.program, i.is_drum)
                 for i in pm.instruments for n in i.notes)
    want = sorted((n.pitch, n.velocity, n.start, n.end, n.program, n.is_drum) for n in seq.notes)
    assert got == want
    assert (pm.time_signature_changes[0].numerator, pm.time_signature_changes[0].denominator) == (3, 4)


def test_round_trip_through_genrnn_reader(tmp_path: Path):
    seq = sample_sequence()
    back = read_midi(write_midi(seq, tmp_path / "out.mid"))
    assert [(n.pitch, n.program, n.is_drum) for n in back.notes] == [(n.pitch, n.program, n.is_drum) for n in seq.notes]
    for a, b in zip(back.notes, seq.notes, strict=True):
        assert abs(a.start - b.start) < 1e-3 and abs(a.end - b.end) < 1e-3
    assert back.tempo_bpm == pytest.approx(90) and back.time_signature == (3, 4)
    assert back.markers == [(pytest.approx(1.0), "primer end")]
    assert len(back.without_drums()) == 3


def test_same_pitch_overlap_is_written_as_restrike(tmp_path: Path):
    seq = NoteSequence(notes=[Note(60, 90, 0.0, 2.0), Note(60, 90, 1.0, 1.5)])
    back = read_midi(write_midi(seq, tmp_path / "o.mid"))
    assert [(n.start, round(n.end, 3)) for n in back.notes] == [(0.0, 1.0), (1.0, 1.5)]


def test_written_files_get_the_usual_mode_not_mkstemps_private_one(tmp_path):
    import os

    from genrnn.music.midi_io import write_midi
    from genrnn.music.notes import Note, NoteSequence

    old = os.umask(0o022)
    try:
        path = write_midi(NoteSequence(notes=[Note(60, 80, 0.0, 0.5)]), tmp_path / "x.mid")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_note_held_over_a_program_change_keeps_the_program_it_started_with():
    # A synth sounds a note with the program in force at its note-on; pretty_midi alone would
    # give the piano note the strings' program, which came before its note-off.
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500_000),
        mido.Message("program_change", program=0, channel=0),
        mido.Message("note_on", note=60, velocity=90, channel=0),
        mido.Message("program_change", program=48, channel=0, time=240),
        mido.Message("note_on", note=64, velocity=90, channel=0),
        mido.Message("note_off", note=60, velocity=0, channel=0, time=240),
        mido.Message("note_on", note=64, velocity=0, channel=0, time=240),  # note-on at velocity 0 ends it
    ]))
    data = io.BytesIO()
    mid.save(file=data)
    notes = read_midi_bytes(data.getvalue()).notes
    assert [(n.pitch, n.program, n.start, n.end) for n in notes] == [(60, 0, 0.0, 0.5), (64, 48, 0.25, 0.75)]


def test_markers_after_other_events_read_back_at_their_times(tmp_path: Path):
    # pretty_midi turns the file's delta times into absolute ones; markers are read at their own
    # tick, not at the sum of the absolute ticks before them (the second was read at 3 s).
    seq = NoteSequence([Note(60, 80, 0.0, 3.0)], tempo_bpm=120.0)
    path = write_midi(seq, tmp_path / "m.mid", markers=[(1.0, "one"), (2.0, "two")])
    assert read_midi(path).markers == [(pytest.approx(1.0), "one"), (pytest.approx(2.0), "two")]
