"""Band files through the reader, the event tokenizer and the writer: every note keeps its
instrument and pitch, its times within 10 ms (benchmarks/music_band.py measures the same on more
songs)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import mido
import pytest

from genrnn.music.midi_io import read_midi, read_midi_bytes, write_midi
from genrnn.music.notes import Note, resolve_overlaps
from genrnn.tokenizers.midi_events import MidiEventTokenizer
from tests import band


def song_bytes(seed: int) -> bytes:
    """A 17-part song: drums, 19 instruments, two tracks on one channel, programs changed mid-track."""
    data = io.BytesIO()
    band.song(8.0, parts=len(band.PARTS), seed=seed, program_changes=True).save(file=data)
    return data.getvalue()


def close(a: list[Note], b: list[Note]) -> None:
    """The same instruments and pitches, onsets and ends within 10 ms."""
    key = lambda n: (n.program, n.is_drum, n.pitch, n.start)  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    assert [(n.program, n.is_drum, n.pitch) for n in a] == [(n.program, n.is_drum, n.pitch) for n in b]
    assert max(max(abs(x.start - y.start), abs(x.end - y.end)) for x, y in zip(a, b, strict=True)) <= 0.010 + 1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_the_reader_hears_what_a_general_midi_player_plays(seed: int):
    data = song_bytes(seed)
    seq = read_midi_bytes(data)
    ticks_per_second = 480 * seq.tempo_bpm / 60
    read = sorted((n.program, n.is_drum, n.pitch, round(n.start * ticks_per_second)) for n in seq.notes)
    assert read == band.played_programs(mido.MidiFile(file=io.BytesIO(data)))
    played = {(n.program, n.is_drum) for n in seq.notes}
    assert len(played) == 19 and (0, True) in played and (40, False) in played and (48, False) in played


@pytest.mark.parametrize("grain", ["programs", "families"])
def test_events_keep_every_notes_instrument_and_pitch(grain: str, tmp_path: Path):
    tok = MidiEventTokenizer(instruments=grain)
    inst = tok.instruments
    for seed in (0, 1):
        seq = read_midi_bytes(song_bytes(seed))
        # at the families grain a note keeps its family (played as the family's first program)
        want = resolve_overlaps([replace(n, program=inst.program(inst.slot(n.program, n.is_drum))[0])
                                 for n in seq.notes])
        back = tok.decode(tok.encode(seq))
        close(want, back.notes)
        again = read_midi(write_midi(replace(back, tempo_bpm=seq.tempo_bpm), tmp_path / f"{grain}{seed}.mid"))
        close(back.notes, again.notes)
    assert len({n.program for n in want if not n.is_drum}) == (18 if grain == "programs" else 12)
