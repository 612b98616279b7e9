"""FluidSynth for real: render MIDI to WAV and read it back; the synth port with no audio device."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from genrnn.cli import main
from genrnn.errors import PlaybackError
from genrnn.music.notes import Note, NoteSequence
from genrnn.playback import file_events, render_wav
from genrnn.playback.synth import audio_status, find_soundfont, load_fluidsynth

REPO = Path(__file__).resolve().parents[2]


def _fluidsynth_missing() -> str | None:
    try:
        load_fluidsynth()
        find_soundfont()
    except PlaybackError as exc:
        return str(exc)
    return None


MISSING = _fluidsynth_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"FluidSynth unusable here: {MISSING}")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(frames x 2 float array in -1..1, sample rate), checking the format on the way."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.reshape(-1, 2).astype(np.float64) / 32768.0, rate


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def test_chorale_renders_to_a_wav_that_sounds_and_has_the_right_length(chorale_mid: Path, tmp_path: Path) -> None:
    out = tmp_path / "chorale.wav"
    result = render_wav(chorale_mid, out, sample_rate=22050)
    audio, rate = read_wav(out)
    piece = max(e.time for e in file_events(chorale_mid))
    assert rate == 22050
    assert len(audio) / rate == pytest.approx(piece + 1.0, abs=0.01)  # piece + release tail
    assert result.seconds == pytest.approx(len(audio) / rate)
    assert rms(audio) > 0.01, "not silent"
    assert rms(audio[int(0.5 * rate) : int(piece * rate)][:: rate // 4]) > 0.005  # sounds throughout
    assert result.elapsed < piece, "faster than real time"
    assert not (tmp_path / "chorale.wav.part").exists()


def _render(seq: NoteSequence, path: Path) -> np.ndarray:
    render_wav(seq, path, sample_rate=22050, tail=0.5)
    return read_wav(path)[0][:, 0]


def _spectrum(x: np.ndarray) -> np.ndarray:
    mag = np.abs(np.fft.rfft(x))
    return mag / (np.linalg.norm(mag) or 1.0)


def test_program_changes_and_the_drum_channel_are_audible(tmp_path: Path) -> None:
    notes = [(38 + (i % 3) * 4, i * 0.25) for i in range(8)]
    piano = _render(NoteSequence([Note(p, 100, t, t + 0.2, program=0) for p, t in notes]), tmp_path / "p.wav")
    organ = _render(NoteSequence([Note(p, 100, t, t + 0.2, program=19) for p, t in notes]), tmp_path / "o.wav")
    drums = _render(NoteSequence([Note(p, 100, t, t + 0.2, is_drum=True) for p, t in notes]), tmp_path / "d.wav")
    again = _render(NoteSequence([Note(p, 100, t, t + 0.2, program=0) for p, t in notes]), tmp_path / "p2.wav")
    for x in (piano, organ, drums):
        assert rms(x) > 0.005
    same = float(_spectrum(piano) @ _spectrum(again))
    assert same > 0.999, "the same notes render the same"
    for other in (organ, drums):
        assert float(_spectrum(piano) @ _spectrum(other)) < 0.9, "a different instrument sounds different"


def test_render_command_writes_the_wav(chorale_mid: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.wav"
    assert main(["render", str(chorale_mid), str(out), "--sample-rate", "16000"]) == 0
    assert read_wav(out)[1] == 16000
    assert f"wrote {out}" in capsys.readouterr().out


def test_render_names_a_missing_soundfont(chorale_mid: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["render", str(chorale_mid), str(tmp_path / "x.wav"), "--soundfont", str(tmp_path / "none.sf2")])
    assert rc == 2
    assert "no such SoundFont file" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.skipif(audio_status() is None, reason="this machine has an audio device")
def test_port_synth_without_audio_device_is_one_line_exit_2_quickly(chorale_mid: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "genrnn.cli", "play", str(chorale_mid), "--port", "synth"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no ALSA / FluidSynth chatter, no traceback
    assert lines[0].startswith("genrnn play: error: synth: no audio device")
    assert "--wav" in lines[0] and "genrnn ports" in lines[0]
    assert done.stdout == ""
    assert elapsed < 20  # interpreter start included; the probe itself is milliseconds
