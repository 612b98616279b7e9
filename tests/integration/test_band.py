"""A user's band MIDI, end to end through the CLI: a folder of multi-track songs (drums on
channel 10, bass, piano, guitar, strings, a lead), with one broken file and one of drums alone →
`genrnn corpus prepare` → `genrnn train` → `genrnn sample --instruments` writing .mid,
.musicxml and .wav that other libraries read back with the instruments and drums."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import pretty_midi
import pytest

from tests.band import KICK, song

GENRNN = [sys.executable, "-m", "genrnn.cli"]


def genrnn(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*GENRNN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def band_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("band")
    midi = root / "midi"
    midi.mkdir()
    for i in range(12):
        song(16.0, parts=6, seed=i).save(midi / f"song{i:02d}.mid")
    (midi / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00")
    drums_only = mido.MidiFile(type=1, ticks_per_beat=480)
    drums_only.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=9, note=KICK, velocity=100),
                                             mido.Message("note_off", channel=9, note=KICK, time=240)] * 8))
    drums_only.save(midi / "beat.mid")
    (root / "band.toml").write_text('source = "folder"\nfolder = "midi"\ntokenizer = "midi_events"\n'
                                    'instruments = "keep"\nval_percent = 20\n')
    return root


def test_band_midi_prepares_trains_and_samples_with_its_instruments(band_run: Path) -> None:
    prep = genrnn("corpus", "prepare", "band.toml", cwd=band_run)
    assert prep.returncode == 0, prep.stderr
    assert "skipped 1 of 14 files: 1 truncated track" in prep.stdout + prep.stderr  # the beat alone is kept
    assert "read 1 of 13 files as a player hears them: 1 drums only" in prep.stdout + prep.stderr
    train = genrnn("train", "--corpus", "band.toml", "--out", "runs/band", "--preset", "tiny", "--hidden", "64",
                   "--max-steps", "60", "--seed", "1", cwd=band_run)
    assert train.returncode == 0, train.stderr
    info = json.loads(genrnn("info", "runs/band", "--json", cwd=band_run).stdout)
    assert info["tokenizer"]["instruments"] == "programs" and info["kind"] == "midi_events"
    out = genrnn("sample", "runs/band", "--seconds", "6", "--num", "2", "--seed", "3", "--instruments",
                 "piano,bass,drums", "--out", "takes", "--musicxml", "--wav", cwd=band_run)
    assert out.returncode == 0, out.stderr
    assert "samples play exactly" in out.stderr
    for n in (1, 2):
        mid = pretty_midi.PrettyMIDI(str(band_run / "takes" / f"sample_{n:03d}.mid"))
        kinds = {("drums" if i.is_drum else pretty_midi.program_to_instrument_class(i.program)) for i in mid.instruments}
        assert kinds <= {"drums", "Piano", "Bass"}, kinds  # only the ensemble asked for
        drum_channels = {m.channel for t in mido.MidiFile(band_run / "takes" / f"sample_{n:03d}.mid").tracks
                         for m in t if m.type == "note_on" and m.channel == 9}
        assert drum_channels <= {9}
        assert (band_run / "takes" / f"sample_{n:03d}.wav").stat().st_size > 44_100
        assert (band_run / "takes" / f"sample_{n:03d}.musicxml").stat().st_size > 0


def test_a_band_primer_keeps_its_instruments(band_run: Path) -> None:
    if not (band_run / "runs" / "band").exists():
        pytest.skip("needs the trained run of the test above")
    out = genrnn("sample", "runs/band", "--primer", "midi/song03.mid", "--primer-seconds", "4", "--seconds", "2",
                 "--seed", "1", "--out", "primed", cwd=band_run)
    assert out.returncode == 0, out.stderr
    mid = pretty_midi.PrettyMIDI(str(band_run / "primed" / "sample_001.mid"))
    primer_part = {(i.program, i.is_drum) for i in mid.instruments if any(n.start < 4.0 for n in i.notes)}
    source = {(i.program, i.is_drum) for i in pretty_midi.PrettyMIDI(str(band_run / "midi" / "song03.mid")).instruments}
    assert primer_part == source  # all six parts of the primer, drums included
