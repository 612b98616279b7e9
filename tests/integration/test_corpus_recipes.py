"""Recipes → cached corpora: chorales, ABC, a folder of good and bad MIDI files, the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from genrnn.cli import main
from genrnn.corpora import recipes
from genrnn.corpora.base import held_out_names, is_held_out
from genrnn.errors import ConfigError, CorpusError
from genrnn.music.midi_io import write_midi
from genrnn.music.notes import Note, NoteSequence
from genrnn.tokenizers.chars import CharTokenizer
from genrnn.tokenizers.midi_events import END, START, MidiEventTokenizer

REPO = Path(__file__).resolve().parents[2]


def recipe(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return path


def test_chorale_recipe_prepares_and_caches(tmp_path: Path):
    path = recipe(tmp_path, "bach10", 'source = "music21-chorales"\nlimit = 10\nval_percent = 30\n'
                  'transpose = [-1, 1]\nstretch = [1.0, 1.1]\nlabels = ["mode", "key"]\n')
    corpus = recipes.prepare(path, cache_dir=tmp_path / "cache")
    meta = corpus.meta
    assert isinstance(corpus.train, np.memmap) and corpus.train.dtype == np.uint16
    assert meta["kind"] == "midi_events" and meta["recipe"] == "bach10" and len(meta["sha256"]) == 64
    assert meta["pieces"]["train"] + meta["pieces"]["val"] == 10 and meta["pieces"]["val"] >= 1
    assert meta["pieces"]["train_records"] == 6 * meta["pieces"]["train"]  # 3 transpositions × 2 stretches
    assert set(meta["piece_names"]["train"]).isdisjoint(meta["piece_names"]["val"])
    assert all(set(v) == {"mode", "key"} for v in meta["labels"].values()) and len(meta["labels"]) == 10
    assert meta["tokens"] == {"train": len(corpus.train), "val": len(corpus.val)}
    assert int((np.asarray(corpus.train) == START).sum()) == meta["pieces"]["train_records"]
    assert int((np.asarray(corpus.val) == END).sum()) == meta["pieces"]["val"]
    tok = corpus.tokenizer
    assert isinstance(tok, MidiEventTokenizer) and tok.token_name(int(corpus.val[1])).startswith("LABEL_mode=")
    assert tok.velocities is not None and len(tok.velocities) == 1  # music21 writes one velocity
    real = recipes.val_sequences(corpus)
    assert len(real) == meta["pieces"]["val"] and all(len(s) > 50 for s in real)

    start = time.perf_counter()
    again = recipes.prepare(path, cache_dir=tmp_path / "cache")
    assert time.perf_counter() - start < 2.0
    assert again.meta["cache_dir"] == meta["cache_dir"]
    assert np.array_equal(again.train, corpus.train)


def test_split_is_fixed_by_piece_name(tmp_path: Path):
    r = recipes.load_recipe(recipe(tmp_path, "r", 'source = "music21-chorales"\n'))
    listed = __import__("genrnn.music.notation", fromlist=["x"]).chorale_paths()
    names = [n for n, _ in listed]
    assert len(set(names)) == len(names) == len({p.resolve() for _, p in listed}) > 300  # each file once
    held = [n for n in names if is_held_out(n, r.val_percent, r.split_salt)]
    assert 0.05 < len(held) / len(names) < 0.15
    assert held == [n for n in names if is_held_out(n, r.val_percent, r.split_salt)]
    assert held_out_names(names, r.val_percent, r.split_salt) == set(held)  # the harmonizer's split: the same


def test_recipe_change_means_new_cache(tmp_path: Path):
    a = recipes.prepare(recipe(tmp_path, "x", 'source = "music21-chorales"\nlimit = 3\n'), cache_dir=tmp_path)
    b = recipes.prepare(recipe(tmp_path, "x", 'source = "music21-chorales"\nlimit = 4\n'), cache_dir=tmp_path)
    assert a.meta["cache_dir"] != b.meta["cache_dir"]


def make_midi_folder(folder: Path) -> dict[str, str]:
    """A folder of good files and every kind of bad one; returns name → expected reason."""
    folder.mkdir()
    (folder / "sub").mkdir()
    good = NoteSequence([Note(60 + i % 12, 90, i * 0.25, i * 0.25 + 0.5) for i in range(40)], tempo_bpm=120)
    for i in range(6):
        write_midi(good.transposed(i), folder / ("sub" if i % 2 else ".") / f"good{i}.mid")
    write_midi(NoteSequence([Note(36, 100, 0, 0.1, is_drum=True)]), folder / "drums.mid")
    valid = (folder / "good0.mid").read_bytes()
    bad = {
        "empty.mid": b"",
        "random.mid": bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8)),
        "text.midi": b"hello, not midi at all",
        "truncated.mid": valid[: len(valid) // 2],
        "zero_division.mid": valid[:12] + b"\x00\x00" + valid[14:],
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("ignored: not a .mid file")
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("program_change", program=3)]))
    mid.save(folder / "sub" / "silent.mid")
    return {
        "empty.mid": "empty file", "random.mid": "not a MIDI file", "text.midi": "not a MIDI file",
        "truncated.mid": "truncated track", "zero_division.mid": "zero ticks per beat",
        "drums.mid": "only drums", "sub/silent.mid": "no notes",
    }


def test_folder_of_good_and_bad_files_is_counted(tmp_path: Path):
    expected = make_midi_folder(tmp_path / "midi")
    path = recipe(tmp_path, "mine", 'source = "folder"\nfolder = "midi"\nval_percent = 20\n')
    corpus = recipes.prepare(path, cache_dir=tmp_path / "cache")
    skipped = corpus.meta["skipped"]
    assert skipped["count"] == 7 and corpus.meta["files"] == 13
    assert skipped["by_reason"] == {"not a MIDI file": 2, "empty file": 1, "truncated track": 1,
                                   "zero ticks per beat": 1, "only drums": 1, "no notes": 1}
    assert skipped["summary"].startswith("skipped 7 of 13 files: 2 not a MIDI file, ")
    log = Path(skipped["log"]).read_text().splitlines()
    assert sorted(line.split("\t")[1] for line in log) == sorted(expected.values())
    assert all(line.startswith(str(tmp_path / "midi")) for line in log)
    assert corpus.meta["pieces"]["train"] + corpus.meta["pieces"]["val"] == 6


def test_strict_mode_names_the_first_bad_file(tmp_path: Path):
    make_midi_folder(tmp_path / "midi")
    path = recipe(tmp_path, "mine", 'source = "folder"\nfolder = "midi"\n')
    with pytest.raises(CorpusError, match=r"midi/drums\.mid: only drums \(strict mode\)"):
        recipes.prepare(path, cache_dir=tmp_path / "cache", strict=True)


def test_folder_with_only_bad_files_is_an_error(tmp_path: Path):
    (tmp_path / "midi").mkdir()
    (tmp_path / "midi" / "a.mid").write_bytes(b"junk")
    with pytest.raises(CorpusError, match="no usable training pieces.*1 not a MIDI file"):
        recipes.prepare(recipe(tmp_path, "m", 'source = "folder"\nfolder = "midi"\n'), cache_dir=tmp_path)


def test_abc_recipe_one_tune_per_record(tmp_path: Path):
    path = recipe(tmp_path, "folk", 'source = "music21-abc"\ncollections = ["oneills1850"]\nlimit = 20\nval_percent = 20\n')
    corpus = recipes.prepare(path, cache_dir=tmp_path / "cache")
    assert corpus.meta["kind"] == "abc" and isinstance(corpus.tokenizer, CharTokenizer)
    text = corpus.tokenizer.decode(corpus.train)
    tunes = [t for t in text.split("\n\n") if t.strip()]
    assert len(tunes) == corpus.meta["pieces"]["train"] > 10
    assert all(t.startswith("M:") and "\nK:" in t and "X:" not in t and "T:" not in t for t in tunes)
    val = recipes.val_tunes(corpus)
    assert len(val) == corpus.meta["pieces"]["val"]


def test_abc_record_cleanup():
    tune = 'X:3\nT:Name\nM:6/8\nL:1/8\nR:jig\nK:D\n"D"A2B % comment\nW:words\nK:G\nd2e|]\n'
    assert recipes.abc_record(tune) == "M:6/8\nL:1/8\nK:D\nA2B\nK:G\nd2e|]\n"


@pytest.mark.parametrize(
    ("body", "match"),
    [('source = "nowhere"\n', "'source'"), ('source = "music21-chorales"\ntranspose = [3, -3]\n', "'transpose'"),
     ('source = "music21-chorales"\nstretch = [9]\n', "'stretch'"), ('source = "music21-chorales"\nbogus = 1\n', "unknown field"),
     ('source = "music21-abc"\nlabels = ["mode"]\n', "'labels'"), ('source = "music21-chorales"\ntokenizer = "chars"\n', "does not fit"),
     ('source = "music21-chorales"\nlimit = "x"\n', "'limit'"), ("source = [", "not valid TOML"),
     ('source = "music21-chorales"\npitch_order = "sideways"\n', "'pitch_order'")],
)
def test_bad_recipes_name_the_field(tmp_path: Path, body: str, match: str):
    with pytest.raises(ConfigError, match=match):
        recipes.load_recipe(recipe(tmp_path, "bad", body))


def test_shipped_recipes_load():
    for name in ("bach_chorales", "folk_abc", "midi_folder"):
        r = recipes.load_recipe(REPO / "corpora" / f"{name}.toml")
        assert r.description


def test_cli_prepare_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "200")
    make_midi_folder(tmp_path / "midi")
    recipe(tmp_path, "mine", 'source = "folder"\nfolder = "midi"\ndescription = "my files"\n')
    cache = tmp_path / "cache"
    assert main(["corpus", "list", "--dir", str(tmp_path), "--cache", str(cache)]) == 0
    assert "not prepared" in capsys.readouterr().out
    assert main(["corpus", "prepare", str(tmp_path / "mine.toml"), "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "skipped 7 of 13 files" in out and "skipped.log" in out
    assert main(["corpus", "list", "--dir", str(tmp_path), "--cache", str(cache)]) == 0
    assert "cached" in capsys.readouterr().out
    assert main(["corpus", "prepare", str(tmp_path / "mine.toml"), "--strict", "--cache", str(tmp_path / "c2")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "strict mode" in err


def test_cache_meta_is_json(tmp_path: Path):
    corpus = recipes.prepare(recipe(tmp_path, "c", 'source = "music21-chorales"\nlimit = 2\n'), cache_dir=tmp_path)
    meta = json.loads((Path(corpus.meta["cache_dir"]) / "meta.json").read_text())
    assert meta["tokenizer"]["kind"] == "midi_events"
