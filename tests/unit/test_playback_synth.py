"""SoundFont discovery and the audio-device probe, without sounding anything."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genrnn.errors import PlaybackError
from genrnn.playback import synth


def test_explicit_soundfont_must_exist(tmp_path: Path) -> None:
    with pytest.raises(PlaybackError, match="--soundfont: no such SoundFont file"):
        synth.find_soundfont(tmp_path / "nope.sf2")
    font = tmp_path / "mine.sf2"
    font.write_bytes(b"RIFF")
    assert synth.find_soundfont(font) == font


def test_env_soundfont_comes_before_the_system_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    font = tmp_path / "env.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setenv("GENRNN_SOUNDFONT", str(font))
    assert synth.find_soundfont() == font
    monkeypatch.setenv("GENRNN_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(PlaybackError, match="GENRNN_SOUNDFONT: no such SoundFont file"):
        synth.find_soundfont()


def test_no_soundfont_anywhere_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GENRNN_SOUNDFONT", raising=False)
    monkeypatch.setattr(synth, "SOUNDFONT_GLOBS", (str(tmp_path / "*.sf2"),))
    with pytest.raises(PlaybackError, match="no General MIDI SoundFont found.*timgm6mb-soundfont"):
        synth.find_soundfont()


def test_missing_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args, **kwargs):
        if name == "fluidsynth":
            raise ImportError("Couldn't find the FluidSynth library.")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(__import__("sys").modules, "fluidsynth", raising=False)
    with pytest.raises(PlaybackError, match=r"libfluidsynth\) is missing.*apt-get install"):
        synth.load_fluidsynth()


def test_bad_sample_rate_is_named() -> None:
    with pytest.raises(PlaybackError, match="--sample-rate 12: expected 8000..192000"):
        synth.new_synth(None, 12)


class FakeSynth:
    settings = None
    synth = None

    def setting(self, *_: object) -> None: ...

    def get_setting(self, _: str) -> str:
        return "jack"


class BlockingFluidsynth:
    """A stand-in for pyfluidsynth whose audio driver never answers (a dead sound server)."""

    @staticmethod
    def new_fluid_audio_driver(settings: object, synth_: object) -> int:
        time.sleep(30)
        return 1


def test_an_audio_driver_that_blocks_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "load_fluidsynth", lambda: BlockingFluidsynth)
    started = time.perf_counter()
    with pytest.raises(synth.NoAudioDevice) as err:
        synth.open_audio_driver(FakeSynth(), timeout=0.3)
    assert time.perf_counter() - started < 2
    message = str(err.value)
    assert "\n" not in message
    assert "jack audio driver did not answer within 0.3 s" in message
    assert "--wav" in message


def test_a_null_driver_is_reported_with_the_library_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    class NullDriver:
        @staticmethod
        def new_fluid_audio_driver(settings: object, synth_: object) -> None:
            os.write(2, b'fluidsynth: error: Failed to open the "default" audio device\n')
            return None

    monkeypatch.setattr(synth, "load_fluidsynth", lambda: NullDriver)
    with pytest.raises(synth.NoAudioDevice, match=r'no audio device \(jack: Failed to open the "default" audio device\)'):
        synth.open_audio_driver(FakeSynth(), timeout=2)
