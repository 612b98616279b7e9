"""The built-in instrument: FluidSynth (through pyfluidsynth) with a General MIDI SoundFont.

Two uses: an offline render to WAV (``render_wav``), faster than real time, and a real-time
``SynthPort`` on the audio device. Opening the audio device is probed with a timeout and the
library's own complaints are captured, so a box without sound gets one clear PlaybackError.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import sys
import time
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import mido
import numpy as np

from genrnn.errors import PlaybackError
from genrnn.music.notes import NoteSequence
from genrnn.playback.events import TimedMessage, file_events, sequence_events
from genrnn.playback.native import CallTimedOut, call_with_timeout, captured_stderr

SOUNDFONT_ENV = "GENRNN_SOUNDFONT"
AUDIO_DRIVER_ENV = "GENRNN_AUDIO_DRIVER"  # e.g. pulseaudio, jack, coreaudio; FluidSynth's default otherwise
DEFAULT_SAMPLE_RATE = 44100
DEFAULT_GAIN = 0.5
RELEASE_TAIL = 1.0  # seconds rendered after the last event, so releases and reverb ring out
BLOCK_FRAMES = 4096
AUDIO_PROBE_TIMEOUT = 3.0

# Preferred first; then anything else in these folders.
SOUNDFONT_GLOBS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/*.sf2",
    "/usr/share/sounds/sf3/*.sf3",
    "/usr/share/soundfonts/*.sf2",
    "/usr/share/soundfonts/*.sf3",
    "/usr/local/share/soundfonts/*.sf2",
    "/opt/homebrew/share/soundfonts/*.sf2",
    "~/.local/share/soundfonts/*.sf2",
)

INSTALL_HINT = (
    "`make setup` installs it on Debian/Ubuntu "
    "(sudo apt-get install --no-install-recommends fluidsynth timgm6mb-soundfont); "
    "on macOS: brew install fluid-synth"
)


def load_fluidsynth() -> ModuleType:
    """Import pyfluidsynth, or explain which library to install."""
    try:
        # pyfluidsynth prints the library it found to stdout whenever $CI is set
        with captured_stderr(), contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError) as exc:
        raise PlaybackError(f"the FluidSynth library (libfluidsynth) is missing: {exc}; {INSTALL_HINT}") from exc
    return fluidsynth


def find_soundfont(explicit: str | Path | None = None) -> Path:
    """``--soundfont FILE``, else $GENRNN_SOUNDFONT, else the first General MIDI font found."""
    for source, value in (("--soundfont", explicit), (SOUNDFONT_ENV, os.environ.get(SOUNDFONT_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise PlaybackError(f"{source}: no such SoundFont file: {path}")
            return path
    for pattern in SOUNDFONT_GLOBS:
        for match in sorted(glob.glob(os.path.expanduser(pattern))):
            if Path(match).is_file():
                return Path(match)
    raise PlaybackError(
        f"no General MIDI SoundFont found (looked in /usr/share/sounds/sf2 and friends); "
        f"pass --soundfont FILE or set {SOUNDFONT_ENV}, or install one: {INSTALL_HINT}"
    )


def new_synth(soundfont: str | Path | None, sample_rate: int, gain: float = DEFAULT_GAIN) -> Any:
    """A FluidSynth synth with the SoundFont loaded on every channel (drums on channel 10)."""
    if not 8000 <= sample_rate <= 192000:
        raise PlaybackError(f"--sample-rate {sample_rate}: expected 8000..192000 Hz")
    fluidsynth = load_fluidsynth()
    font = find_soundfont(soundfont)
    with captured_stderr() as errors:
        synth = fluidsynth.Synth(gain=gain, samplerate=sample_rate, channels=16)
        sfid = synth.sfload(str(font), 1)
    if sfid == -1:
        synth.delete()
        detail = f" ({errors[-1]})" if errors else ""
        raise PlaybackError(f"{font}: FluidSynth cannot load this SoundFont{detail}")
    for channel in range(16):
        synth.program_select(channel, sfid, 128 if channel == 9 else 0, 0)
    return synth


def dispatch(synth: Any, msg: mido.Message) -> None:
    """Apply one MIDI channel message to a FluidSynth synth."""
    kind = msg.type
    if kind == "note_on" and msg.velocity > 0:
        synth.noteon(msg.channel, msg.note, msg.velocity)
    elif kind in ("note_on", "note_off"):
        synth.noteoff(msg.channel, msg.note)
    elif kind == "control_change":
        synth.cc(msg.channel, msg.control, msg.value)
    elif kind == "program_change":
        synth.program_change(msg.channel, msg.program)
    elif kind == "pitchwheel":
        synth.pitch_bend(msg.channel, msg.pitch)


# ---------------------------------------------------------------------------------------------
# Offline render


@dataclass(frozen=True, slots=True)
class RenderResult:
    path: Path
    seconds: float  # length of the audio written
    frames: int
    sample_rate: int
    elapsed: float  # wall time the render took

    @property
    def speed(self) -> float:
        """How many times faster than real time the render ran."""
        return self.seconds / self.elapsed if self.elapsed > 0 else float("inf")


def _as_events(source: NoteSequence | str | Path | Iterable[TimedMessage]) -> list[TimedMessage]:
    if isinstance(source, NoteSequence):
        return sequence_events(source)
    if isinstance(source, (str, Path)):
        return file_events(source)
    return sorted(source, key=lambda ev: ev.time)


class _WavWriter:
    """Frames from the synth, in blocks, into a 16-bit stereo WAV."""

    def __init__(self, synth: Any, out: wave.Wave_write) -> None:
        self.synth, self.out, self.frames, self.clipped = synth, out, 0, 0

    def render_until(self, frame: int) -> None:
        while self.frames < frame:
            n = min(BLOCK_FRAMES, frame - self.frames)
            samples = self.synth.get_samples(n)  # int16, interleaved L R, 2 * n values
            self.clipped += int(np.count_nonzero((samples >= 32767) | (samples <= -32768)))
            if sys.byteorder == "big":
                samples = samples.byteswap()
            self.out.writeframes(samples.tobytes())
            self.frames += n


def render_wav(
    source: NoteSequence | str | Path | Iterable[TimedMessage],
    path: str | Path,
    *,
    soundfont: str | Path | None = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    tail: float = RELEASE_TAIL,
    gain: float = DEFAULT_GAIN,
) -> RenderResult:
    """Render a NoteSequence, a .mid file or TimedMessages offline to a 16-bit stereo WAV.

    Faster than real time; program changes and controllers are honoured, drums sound on
    channel 10, and ``tail`` seconds follow the last event so releases ring out. A mix that
    clips (a band of many instruments) is rendered again at 0.7 of the gain, up to three times.
    The file is written beside ``path`` and renamed into place, so a failure never leaves half
    a WAV.
    """
    ordered = _as_events(source)
    path = Path(path)
    started = time.perf_counter()
    for _ in range(4):
        frames, clipped = _render(ordered, path, soundfont, sample_rate, tail, gain)
        if not clipped:
            break
        gain *= 0.7
    return RenderResult(path, frames / sample_rate, frames, sample_rate, time.perf_counter() - started)


def _render(ordered: list[TimedMessage], path: Path, soundfont: str | Path | None, sample_rate: int, tail: float,
            gain: float) -> tuple[int, int]:
    """One offline render into ``path``: (frames, clipped samples)."""
    synth = new_synth(soundfont, sample_rate, gain)
    tmp = path.with_name(path.name + ".part")
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            writer = _WavWriter(synth, out)
            for ev in ordered:
                writer.render_until(round(ev.time * sample_rate))
                dispatch(synth, ev.msg)
            last = ordered[-1].time if ordered else 0.0
            writer.render_until(round((last + tail) * sample_rate))
        os.replace(tmp, path)
    except OSError as exc:
        raise PlaybackError(f"{path}: cannot write the WAV file ({exc.strerror or exc})") from exc
    finally:
        synth.delete()
        tmp.unlink(missing_ok=True)
    return writer.frames, writer.clipped


# ---------------------------------------------------------------------------------------------
# Real time, on the audio device


def _audio_driver_name(synth: Any) -> str:
    wanted = os.environ.get(AUDIO_DRIVER_ENV)
    if wanted:
        synth.setting("audio.driver", wanted)
    return str(synth.get_setting("audio.driver") or "default")


def open_audio_driver(synth: Any, timeout: float = AUDIO_PROBE_TIMEOUT) -> Any:
    """Start FluidSynth's audio driver for ``synth``, or raise one PlaybackError line.

    pyfluidsynth's own ``Synth.start`` returns success even when no device opens (the driver
    pointer is NULL) and also opens a MIDI driver; so the driver is created directly, in a
    thread that is abandoned after ``timeout`` seconds (a JACK or PulseAudio client can wait on
    a server that never answers), with the library's messages captured for the error.
    """
    fluidsynth = load_fluidsynth()
    driver = _audio_driver_name(synth)
    with captured_stderr() as errors:
        try:
            handle = call_with_timeout(lambda: fluidsynth.new_fluid_audio_driver(synth.settings, synth.synth), timeout)
        except CallTimedOut:
            handle, errors_tail = None, f"the {driver} audio driver did not answer within {timeout:g} s"
        else:
            errors_tail = ""
    if not handle:
        reason = errors_tail or next((e for e in reversed(errors) if "error" in e.lower()), "") or "unknown reason"
        raise NoAudioDevice(f"no audio device ({driver}: {reason.removeprefix('fluidsynth: error: ')})")
    return handle


class NoAudioDevice(PlaybackError):
    """FluidSynth could not open an audio output on this machine."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"synth: {reason}; render to a file with --wav instead, or pick a MIDI port (see `genrnn ports`)"
        )


class SynthPort:
    """The built-in instrument as an output port: messages in, sound out of the audio device."""

    name = "synth"

    def __init__(self, soundfont: str | Path | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
        self.synth = new_synth(soundfont, sample_rate)
        try:
            self.driver = open_audio_driver(self.synth)
        except BaseException:
            self.synth.delete()
            raise
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        if self.closed:
            raise PlaybackError("synth: send on a closed port")
        dispatch(self.synth, msg)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        load_fluidsynth().delete_fluid_audio_driver(self.driver)
        self.synth.delete()


def audio_status() -> str | None:
    """None when the synth can sound on this machine, else why not (one line)."""
    try:
        SynthPort().close()
    except NoAudioDevice as exc:
        return exc.reason
    except PlaybackError as exc:
        return str(exc)
    return None
