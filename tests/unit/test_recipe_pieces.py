"""Per-piece work of a recipe prep: a damaged file is skipped and counted, a bug is not.

Both in this process (few pieces) and in the prep's process pool (``POOL_MIN_JOBS`` or more).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genrnn.corpora import recipes
from genrnn.music.midi_io import write_midi
from genrnn.music.notes import Note, NoteSequence


def midi_folder(folder: Path, good: int) -> dict[str, str]:
    """``good`` small files and two damaged ones; returns damaged name → expected reason."""
    folder.mkdir()
    for i in range(good):
        seq = NoteSequence([Note(60 + (i + k) % 12, 90, k * 0.25, k * 0.25 + 0.2) for k in range(16)], tempo_bpm=120)
        write_midi(seq, folder / f"good{i:02d}.mid")
    valid = (folder / "good00.mid").read_bytes()
    (folder / "cut.mid").write_bytes(valid[: len(valid) - 9])  # the last track cut short
    (folder / "noise.mid").write_bytes(b"MThd" + bytes(range(7, 200, 3)))
    return {"cut.mid": "truncated track", "noise.mid": "bad header"}


def folder_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text('source = "folder"\nfolder = "midi"\nval_percent = 20\n')
    return path


@pytest.mark.parametrize("good", [4, recipes.POOL_MIN_JOBS], ids=["in-process", "pool"])
def test_a_damaged_file_is_skipped_and_counted(tmp_path: Path, good: int) -> None:
    damaged = midi_folder(tmp_path / "midi", good)
    corpus = recipes.prepare(folder_recipe(tmp_path), cache_dir=tmp_path / "cache")
    skipped = corpus.meta["skipped"]
    assert corpus.meta["files"] == good + 2
    assert skipped["count"] == 2 and skipped["by_reason"] == {reason: 1 for reason in damaged.values()}
    logged = dict(line.split("\t") for line in Path(skipped["log"]).read_text().splitlines())
    assert {Path(path).name: reason for path, reason in logged.items()} == damaged


def test_a_programming_error_surfaces_naming_the_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    midi_folder(tmp_path / "midi", 3)

    def buggy(recipe, item, val):  # noqa: ANN001, ANN202
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    monkeypatch.setattr(recipes, "_midi_result", buggy)
    with pytest.raises(TypeError, match="unsupported operand") as info:
        recipes.prepare(folder_recipe(tmp_path), cache_dir=tmp_path / "cache")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "cut.mid" in notes or "good00.mid" in notes  # the first piece it met
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("*/meta.json"))


def test_a_programming_error_in_a_pool_worker_surfaces_naming_the_piece(tmp_path: Path) -> None:
    """The pool's workers are fresh processes (a monkeypatch here would not reach them): a job
    whose item has no path is a bug of the kind that raises TypeError deep in the reader."""
    midi_folder(tmp_path / "midi", recipes.POOL_MIN_JOBS)
    recipe = recipes.load_recipe(folder_recipe(tmp_path))
    items = recipes.source_items(recipe)
    items[5] = recipes.Item("no-path.mid", None)  # type: ignore[arg-type]
    jobs = [(recipe, item, False) for item in items]
    assert len(jobs) >= recipes.POOL_MIN_JOBS
    with pytest.raises(TypeError) as info:
        list(recipes._map(jobs))
    if hasattr(info.value, "add_note"):
        assert "no-path.mid" in "\n".join(getattr(info.value, "__notes__", []))


def test_stretches_of_a_score_stay_on_the_event_grid() -> None:
    """A chorale stretched ×0.95 would have a 16th of 0.1425 s, written as 0.14 and 0.15 s by
    turns in 10 ms steps; on the tick grid it is 0.14 s exactly, and every onset of the
    stretched piece falls on a whole multiple of it. A piece without a tempo keeps its factor."""
    import numpy as np

    from genrnn.corpora import augment
    from genrnn.music import metrics, notation
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    _, path = next(iter(notation.chorale_paths(limit=1)))
    chorale = notation.load_score(path)
    assert chorale.tempo_bpm
    sixteenth = 15.0 / chorale.tempo_bpm
    tok = MidiEventTokenizer()
    for factor in (0.8, 0.95, 1.05, 1.25):
        snapped = augment.on_ticks(chorale, factor)
        assert snapped != 1.0 and abs(snapped - factor) <= 0.01 / sixteenth
        grid = round(sixteenth * snapped / 0.01)
        assert abs(sixteenth * snapped - grid * 0.01) < 1e-9  # a whole number of ticks
        back = tok.decode(tok.encode(augment.stretched(chorale, factor)))
        onsets = metrics.distinct_onsets(np.array([n.start for n in back.notes]))
        steps = np.round(onsets / 0.01).astype(int)
        assert (steps % grid == 0).mean() > 0.98  # 32nds and ornaments aside
        assert metrics.onset_grid_share(back) > 0.98
    # The old factor: 0.1425 s 16ths in 10 ms steps, unsteady.
    jittery = tok.decode(tok.encode(chorale.stretched(0.95)))
    assert metrics.onset_grid_share(jittery) < 0.9
    # Decoded from events the chorale has lost its tempo, not its grid: the same stretches (the
    # critic's real pieces are played this way).
    decoded = tok.decode(tok.encode(chorale))
    assert decoded.tempo_bpm is None
    assert [augment.on_ticks(decoded, f) for f in (0.95, 1.05)] == pytest.approx([14 / 15, 16 / 15])
    assert metrics.onset_grid_share(augment.stretched(decoded, 0.95)) > 0.98
    # A performance has no grid: it keeps its factor.
    rng = np.random.default_rng(0)
    performance = NoteSequence([Note(60, 80, float(t), float(t) + 0.1)
                                for t in np.cumsum(rng.uniform(0.05, 0.4, 50))])
    assert augment.on_ticks(performance, 0.95) == 0.95
