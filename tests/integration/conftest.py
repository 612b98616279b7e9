"""What several integration modules share: a real chorale .mid, the module cache, 8 real
chorales as a recipe and a tiny event model trained on them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import chorale_recipe as recipe_text


@pytest.fixture(scope="session")
def chorale_mid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bach's BWV 66.6 from the music21 corpus, written as a real .mid (about 22 s)."""
    music21 = pytest.importorskip("music21")
    path = tmp_path_factory.mktemp("midi") / "bwv66.6.mid"
    music21.corpus.parse("bach/bwv66.6").write("midi", fp=str(path))
    return path


@pytest.fixture(scope="module", autouse=True)
def _module_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Module fixtures run before the per-test private cache is set: set it for them too."""
    os.environ["GENRNN_CACHE"] = str(tmp_path_factory.getbasetemp() / "genrnn-cache")


@pytest.fixture(scope="module")
def chorale_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real chorales from music21's corpus, half held out, transposed ±1 semitone."""
    path = tmp_path_factory.mktemp("recipes") / "few_chorales.toml"
    path.write_text(recipe_text())
    return path


@pytest.fixture(scope="module")
def event_run(tmp_path_factory: pytest.TempPathFactory, chorale_recipe: Path) -> Path:
    """`genrnn train --corpus RECIPE` on those chorales: a tiny LSTM, a few seconds."""
    out = tmp_path_factory.mktemp("runs") / "chorales"
    proc = subprocess.run([sys.executable, "-m", "genrnn.cli", "train", "--corpus", str(chorale_recipe), "--out",
                           str(out), "--preset", "tiny", "--hidden", "48", "--seq-len", "64", "--max-steps", "40",
                           "--seed", "2", "--eval-interval", "1000", "--threads", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out
