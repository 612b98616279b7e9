"""`genrnn train --metre`: a quantised corpus trains a model told the phase of every step, whose
file carries the grids, streams on both back-ends and says so in `genrnn info`; a corpus with
no grid gets a one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from genrnn import session
from tests.integration.test_music_training import genrnn, one_line_error


def test_train_with_a_metre_then_sample_and_read_it_back(tmp_path: Path):
    recipe = tmp_path / "chorales.toml"
    recipe.write_text('source = "music21-chorales"\nlimit = 5\nval_percent = 20\n')  # all at 100 bpm
    out = tmp_path / "run"
    proc = genrnn("train", "--corpus", recipe, "--cache", tmp_path / "cache", "--out", out, "--metre",
                  "--preset", "tiny", "--max-steps", "20", "--seed", "1", "--eval-interval", "1000",
                  "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    model = session.load_model(out / "best.safetensors")
    grids = model.tokenizer.grids
    assert grids and model.config.metre_period == 16 and model.config.metre_grids == grids
    info = genrnn("info", out / "best.safetensors")
    assert info.returncode == 0 and "metre input" in info.stdout and "phase of 16 grid units" in info.stdout
    proc = genrnn("sample", out / "best.safetensors", "--seconds", "4", "--seed", "3", "--num", "2",
                  "--out", tmp_path / "samples")
    assert proc.returncode == 0, proc.stderr
    for mid in sorted((tmp_path / "samples").glob("*.mid")):
        notes = pretty_midi.PrettyMIDI(str(mid)).instruments[0].notes
        assert notes
        steps = np.round(np.array([n.start for n in notes]) * 100).astype(int)  # 10 ms steps
        assert any(np.all(steps % g == 0) for g in grids)  # the tempo lock, unchanged by the metre
    # resumed, the model keeps its metre input
    proc = genrnn("train", "--resume", out, "--max-steps", "25", "--cache", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert session.load_model(out / "last.safetensors").config.metre_grids == grids


def test_metre_needs_a_quantised_corpus(tmp_path: Path):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be " * 200)
    msg = one_line_error(genrnn("train", "--text", text, "--metre", "--out", tmp_path / "r", "--preset", "tiny",
                                "--max-steps", "2"))
    assert "--metre" in msg and "no tick grid" in msg
