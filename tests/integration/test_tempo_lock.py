"""The tempo lock on the shipped Bach model: its tokenizer knows the tick grids its training
chorales keep, every piece `genrnn sample` writes stays on the grid it started on (the MIDI file
read back by pretty_midi), and `--no-tempo-lock` lets it drift as the model alone does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from genrnn import session
from genrnn.config import sample_config
from genrnn.music import metrics
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
BACH = ROOT / "checkpoints" / "bach.safetensors"
pytestmark = pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")


def test_the_shipped_model_knows_its_grids_and_keeps_a_piece_on_one():
    model = session.load_model(BACH)
    assert model.tokenizer.grids == (14, 15, 16) and model.tokenizer.velocities == (19,)
    locked = session.sample_pieces(model, 24, sample_config(model.kind, seed=900), 12.0)
    free = session.sample_pieces(model, 24, sample_config(model.kind, seed=900, tempo_lock=False), 12.0)
    assert all(_on_one_grid(p.sequence) for p in locked)
    # without the lock some pieces drift between grids (40 pieces of 28.8 s: 0.992 on average)
    assert not all(_on_one_grid(p.sequence) for p in free)
    assert min(metrics.onset_grid_share(p.sequence) for p in free) < 1.0


def _on_one_grid(seq) -> bool:
    """Every note starts and ends on one of the model's grids (from the piece's start), but for
    the notes cut where the piece was."""
    cut = round(seq.end_time / 0.01)
    steps = np.round([t / 0.01 for n in seq.notes for t in (n.start, n.end)]).astype(int)
    steps = steps[steps != cut]
    return any(np.all(steps % g == 0) for g in (14, 15, 16))


def _onset_steps(path: Path) -> np.ndarray:
    midi = pretty_midi.PrettyMIDI(str(path))
    return np.unique(np.round([n.start / 0.01 for i in midi.instruments for n in i.notes]).astype(int))


def test_sample_writes_a_piece_on_one_grid_and_drifts_when_told(tmp_path: Path):
    on_one = []
    for seed in range(6):
        code, _, stderr = run_cli("sample", BACH, "--seed", seed, "--seconds", 10, "--out", tmp_path / f"s{seed}")
        assert code == 0, stderr
        steps = _onset_steps(tmp_path / f"s{seed}" / "sample_001.mid")
        on_one.append(any(np.all(steps % g == 0) for g in (14, 15, 16)))
    assert all(on_one)
    # seed 1 without the lock drifts (an eighth of 32 steps in a piece of 15s): 94 % on its grid
    code, _, stderr = run_cli("sample", BACH, "--no-tempo-lock", "--seed", 1, "--seconds", 10, "--out", tmp_path / "free")
    assert code == 0, stderr
    steps = _onset_steps(tmp_path / "free" / "sample_001.mid")
    assert not any(np.all(steps % g == 0) for g in (14, 15, 16))
    shakespeare = ROOT / "checkpoints" / "shakespeare.safetensors"
    if shakespeare.exists():
        code, _, stderr = run_cli("sample", shakespeare, "--no-tempo-lock", "--length", 5)
        assert code == 2 and "--no-tempo-lock" in stderr and "text model" in stderr
