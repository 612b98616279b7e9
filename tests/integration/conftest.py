"""Real MIDI files for the playback integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def chorale_mid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bach's BWV 66.6 from the music21 corpus, written as a real .mid (about 22 s)."""
    music21 = pytest.importorskip("music21")
    path = tmp_path_factory.mktemp("midi") / "bwv66.6.mid"
    music21.corpus.parse("bach/bwv66.6").write("midi", fp=str(path))
    return path
