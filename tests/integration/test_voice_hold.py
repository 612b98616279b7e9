"""The voice hold on the shipped Bach model: a voice of the piece's four is left silent far less
often, and `genrnn sample` draws with it by default (the files written and read back by
pretty_midi), or without it when told."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
import pytest

from genrnn import session
from genrnn.config import sample_config
from genrnn.music import metrics
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
BACH = ROOT / "checkpoints" / "bach.safetensors"
pytestmark = pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")


def _three_voice_share(pieces: list) -> float:
    """Of all sounding time, the share with exactly three notes (most pieces draw voices=4)."""
    three = sounding = 0.0
    for p in pieces:
        at = metrics.time_at_polyphony(p.sequence)
        three += at[3] if len(at) > 3 else 0.0
        sounding += sum(at[1:])
    return three / sounding


def test_the_hold_keeps_the_fourth_voice_sounding():
    model = session.load_model(BACH)
    # Labels drawn by the model, as `genrnn sample` does (given voices=4 alone, a piece starts
    # from the label-dropout state, without mode and key, and is worse).
    free = session.sample_pieces(model, 48, sample_config(model.kind, seed=700, voice_hold=0.0), 10.0)
    held = session.sample_pieces(model, 48, sample_config(model.kind, seed=700, voice_hold=3.0), 10.0)
    # 150 pieces of 15 s: 0.20 without the hold, 0.08 with it (Bach: 0.07); these 48: 0.19, 0.09.
    assert _three_voice_share(free) > 0.12
    assert _three_voice_share(held) < 0.6 * _three_voice_share(free)


def _notes(path: Path) -> list[tuple[int, float]]:
    midi = pretty_midi.PrettyMIDI(str(path))
    return sorted((n.pitch, round(n.start, 2)) for i in midi.instruments for n in i.notes)


def test_sample_draws_with_the_hold_by_default_and_without_it_when_told(tmp_path: Path):
    for name, extra in (("default", []), ("off", ["--voice-hold", "0"])):
        code, _, stderr = run_cli("sample", BACH, "--seed", 4, "--seconds", 8, "--out", tmp_path / name, *extra)
        assert code == 0, stderr
    model = session.load_model(BACH)
    expected = session.sample_music(model, sample_config(model.kind, seed=4), None, 8.0)
    default = _notes(tmp_path / "default" / "sample_001.mid")
    assert default == sorted((n.pitch, round(n.start, 2)) for n in expected.sequence.notes)
    assert default != _notes(tmp_path / "off" / "sample_001.mid")
    code, _, stderr = run_cli("sample", BACH, "--voice-hold", "-1", "--seconds", 1)
    assert code == 2 and "voice_hold" in stderr
    shakespeare = ROOT / "checkpoints" / "shakespeare.safetensors"
    if shakespeare.exists():
        code, _, stderr = run_cli("sample", shakespeare, "--voice-hold", "2", "--length", 5)
        assert code == 2 and "--voice-hold" in stderr and "text model" in stderr
