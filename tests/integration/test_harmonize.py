"""Harmonize end to end: real chorales on the 16th grid, a tiny model trained for seconds by the
CLI, a melody harmonized into a .mid that pretty_midi reads back with the melody unchanged, and
the errors a user meets (missing or broken MIDI, missing or foreign checkpoint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from genrnn.cli import main
from genrnn.errors import MidiConversionError
from genrnn.music import voices as V
from genrnn.music.midi_io import write_midi
from genrnn.music.notes import Note, NoteSequence

LIMIT = 16  # chorales for the tiny run (the first ones of the corpus)
GENRNN = [sys.executable, "-m", "genrnn.cli"]


def genrnn(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*GENRNN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=240)


@pytest.fixture(scope="module", autouse=True)
def _module_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["GENRNN_CACHE"] = str(tmp_path_factory.getbasetemp() / "genrnn-cache")


@pytest.fixture(scope="module")
def chorales() -> V.ChoraleSet:
    from genrnn.config import HarmonizeConfig
    from genrnn.training.harmonizer_data import chorales

    return chorales(HarmonizeConfig(limit=LIMIT))  # the cache `harmonize train --limit` reads


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, chorales: V.ChoraleSet) -> tuple[Path, dict]:
    """`genrnn harmonize train` on 16 real chorales: a tiny model, about ten seconds."""
    out = tmp_path_factory.mktemp("runs") / "harmonizer"
    proc = genrnn("harmonize", "train", "--out", out, "--limit", LIMIT, "--val-percent", 25, "--time-budget", 9,
                  "--hidden", 48, "--decoder-hidden", 64, "--layers", 1, "--batch-size", 4, "--lr", 0.01,
                  "--seed", 1, "--threads", 1, "--json")
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def folk_mid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain monophonic tune (Frère Jacques, 4/4 at 90 bpm, on a flute), one bar of rest first."""
    steps = [(60, 1), (62, 1), (64, 1), (60, 1)] * 2 + [(64, 1), (65, 1), (67, 2)] * 2
    steps += [(67, 0.5), (69, 0.5), (67, 0.5), (65, 0.5), (64, 1), (60, 1)] * 2 + [(60, 1), (55, 1), (60, 2)] * 2
    beat, t, notes = 60 / 90, 4 * 60 / 90, []
    for pitch, beats in steps:
        notes.append(Note(pitch, 90, t, t + beats * beat * 0.95, program=73))
        t += beats * beat
    path = tmp_path_factory.mktemp("midi") / "frere_jacques.mid"
    write_midi(NoteSequence(notes=notes, tempo_bpm=90.0, time_signature=(4, 4)), path)
    return path


# ---------------------------------------------------------------- the grid


def test_chorales_on_the_grid(chorales: V.ChoraleSet) -> None:
    from genrnn.music.notation import chorale_paths

    files = {p for _, p in chorale_paths(LIMIT)}  # music21 lists some chorales twice: each file once
    assert len(chorales.grids) + chorales.skipped_count == len(files)
    assert len({g.name for g in chorales.grids}) == len(chorales.grids)
    assert chorales.skipped_count == sum(len(v) for v in chorales.skipped.values())
    for g in chorales.grids:
        assert g.tokens.shape == (g.frames, 4) and g.tokens.dtype == np.int16
        assert not (g.tokens[0] == V.HOLD).any()  # every line starts with a note or a rest
        sop, bass = V.sounding_pitches(g.voice("soprano")), V.sounding_pitches(g.voice("bass"))
        both = (sop >= 0) & (bass >= 0)
        assert both.mean() > 0.9 and (sop[both] > bass[both]).mean() > 0.98  # aligned: S above B
        assert set(np.unique(g.meter)) <= set(range(g.bar_frames))
    again = V.prepare_chorales(Path(os.environ["GENRNN_CACHE"]) / "chorale-grids", limit=LIMIT)
    assert again.cached and [g.name for g in again.grids] == [g.name for g in chorales.grids]
    assert all((a.tokens == b.tokens).all() for a, b in zip(again.grids, chorales.grids, strict=True))


def test_soprano_round_trips_through_the_grid(chorales: V.ChoraleSet) -> None:
    """The soprano notes of the score ↔ the grid line, note for note (16ths, no ties)."""
    from genrnn.music.notation import chorale_paths, parse_score

    name, path = next((n, p) for n, p in chorale_paths(LIMIT) if n == chorales.grids[0].name)
    part = parse_score(path).parts[0].stripTies().flatten().notes
    expected = [(round(float(n.offset) * 4), round(float(n.offset + n.duration.quarterLength) * 4), n.pitch.midi)
                for n in part]
    fs = 0.25
    got = [(round(n.start / fs), round(n.end / fs), n.pitch) for n in V.line_notes(chorales.grids[0].voice("soprano"), fs)]
    assert got == expected


def test_four_parts_or_skipped() -> None:
    music21 = pytest.importorskip("music21")
    score = music21.corpus.parse("bach/bwv66.6")
    three = music21.stream.Score([score.parts[i] for i in range(3)])
    with pytest.raises(MidiConversionError, match="not 4 parts"):
        V.chorale_to_grid(three, "three")
    grid = V.chorale_to_grid(score, "bwv66.6")
    assert grid.frames == round(float(score.highestTime) * 4)


def test_a_midi_chorale_gives_its_top_voice(chorale_mid: Path) -> None:
    music21 = pytest.importorskip("music21")
    grid = V.chorale_to_grid(music21.corpus.parse("bach/bwv66.6"), "bwv66.6")
    melody = V.melody_from_midi(chorale_mid)
    assert melody.polyphonic and melody.dropped_notes > 100
    assert any("polyphonic" in line for line in melody.notes_info)
    n = min(melody.frames, grid.frames)
    assert (melody.tokens[:n] == grid.voice("soprano")[:n]).mean() > 0.97


def test_off_grid_rhythm_is_quantized_to_the_nearest_16th(tmp_path: Path) -> None:
    """Played, not quantized: onsets up to 40% of a 16th off; the grid takes the nearest frame."""
    rng = np.random.default_rng(0)
    fs = 60 / 120 / 4
    frames = np.cumsum([0, 4, 2, 2, 4, 3, 1, 4, 8])
    jitter = rng.uniform(-0.4, 0.4, len(frames)) * fs
    notes = [Note(60 + i, 80, f * fs + j, (f + 2) * fs) for i, (f, j) in enumerate(zip(frames, jitter, strict=True))]
    notes[-1] = Note(70, 80, frames[-1] * fs, (frames[-1] + 4) * fs)
    melody = V.melody_from_sequence(NoteSequence(notes=notes, tempo_bpm=120.0))
    assert list(np.flatnonzero(melody.tokens >= 2)) == list(frames)
    assert melody.off_grid_share > 0.2 and any("16th" in line for line in melody.notes_info)


# ---------------------------------------------------------------- training and the CLI


def test_tiny_training_run_writes_a_valid_checkpoint(tiny_run: tuple[Path, dict]) -> None:
    from genrnn.session import load_harmonizer

    out, report = tiny_run
    assert report["epochs"] >= 1 and Path(report["checkpoint"]).is_file()
    assert (out / "history.json").is_file() and (out / "eval.json").is_file()
    ckpt = load_harmonizer(out)
    assert ckpt.voices == ("bass",)
    assert ckpt.training["held_out"]["val_loss"] == pytest.approx(report["held_out"]["val_loss"])
    assert {"evaluation", "wall_seconds", "parameters", "val_names"} <= set(ckpt.training)


def test_brief_training_learns_beyond_chance(tiny_run: tuple[Path, dict], chorales: V.ChoraleSet) -> None:
    """Held-out loss below the entropy of the bass-token frequencies (what a model that ignores
    the melody and its own past can reach), and a bass that stays below the melody."""
    _, report = tiny_run
    from genrnn.config import HarmonizeConfig
    from genrnn.training.harmonizer_data import split

    train, _ = split(chorales, HarmonizeConfig(val_percent=25))
    counts = np.bincount(np.concatenate([g.voice("bass") for g in train]), minlength=V.VOCAB_SIZE)
    p = counts[counts > 0] / counts.sum()
    marginal = float(-(p * np.log(p)).sum())
    assert report["held_out"]["val_loss"] < marginal - 0.1, (report["held_out"], marginal)
    assert report["evaluation"]["bass_below_melody"] > 0.9


def test_cli_harmonizes_a_tune_in_time(tiny_run: tuple[Path, dict], folk_mid: Path, tmp_path: Path) -> None:
    out_mid = tmp_path / "harmonized.mid"
    proc = genrnn("harmonize", folk_mid, "--checkpoint", tiny_run[0], "--out", out_mid, "--musicxml", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["voices"] == ["bass"] and report["notes"]["bass"] > 0 and 0 <= report["consonance"] <= 1
    assert Path(report["musicxml"]).is_file() and not report["polyphonic_input"]

    given, written = pretty_midi.PrettyMIDI(str(folk_mid)), pretty_midi.PrettyMIDI(str(out_mid))
    assert written.get_tempo_changes()[1][0] == pytest.approx(90.0, abs=0.01)
    [melody] = [i for i in written.instruments if i.program == 73]
    [bass] = [i for i in written.instruments if i.program != 73]
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in melody.notes] == \
        [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in given.instruments[0].notes]
    frame = 60 / 90 / 4
    starts = np.array([n.start for n in bass.notes])
    assert np.abs(starts / frame - np.round(starts / frame)).max() < 0.01  # on the melody's 16th grid
    assert bass.notes[-1].end <= melody.notes[-1].end + frame + 1e-6
    assert bass.notes[0].start >= melody.notes[0].start - 1e-6  # nothing before the tune begins
    below = [np.mean([b.pitch < m.pitch for m in melody.notes if m.start < b.end and b.start < m.end] or [1.0])
             for b in bass.notes]
    assert np.mean(below) > 0.8


def test_cli_text_output_and_sampling(tiny_run: tuple[Path, dict], chorale_mid: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "bwv66.mid"
    code = main(["harmonize", str(chorale_mid), "--checkpoint", str(tiny_run[0]), "--out", str(target),
                 "--temperature", "0.8", "--seed", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "polyphonic" in captured.err and f"wrote {target}" in captured.out.replace("\n", "")
    assert len(pretty_midi.PrettyMIDI(str(target)).instruments) == 2


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["harmonize", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_clear_errors(tiny_run: tuple[Path, dict], folk_mid: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = str(tiny_run[0])
    assert "no such MIDI file" in _error(capsys, str(tmp_path / "nope.mid"), "--checkpoint", ckpt)
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x00\x90")
    assert "broken.mid: truncated track" in _error(capsys, str(broken), "--checkpoint", ckpt)
    monkeypatch.chdir(tmp_path)  # no runs/harmonizer and no checkpoints/ here
    assert "genrnn harmonize train" in _error(capsys, str(folk_mid))
    assert "no such checkpoint" in _error(capsys, str(folk_mid), "--checkpoint", "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    assert "junk.safetensors" in _error(capsys, str(folk_mid), "--checkpoint", str(junk))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((Path(ckpt) / "best.safetensors").read_bytes()[:5000])
    assert "not a safetensors file or damaged" in _error(capsys, str(folk_mid), "--checkpoint", str(cut))
    language_model = Path(__file__).resolve().parents[2] / "checkpoints" / "bach.safetensors"
    if language_model.is_file():
        assert "not a harmonizer" in _error(capsys, str(folk_mid), "--checkpoint", str(language_model))
    assert "applies to" in _error(capsys, "train", "--checkpoint", ckpt)
    assert "expected a .mid" in _error(capsys, str(folk_mid), "--checkpoint", ckpt, "--out", "x.wav")


def test_three_voices_round_trip_through_a_checkpoint(folk_mid: Path, tmp_path: Path) -> None:
    """--voices atb: alto, tenor and bass each on their own track (an untrained model: wiring only)."""
    import torch

    from genrnn.inference import harmonizer as H
    from genrnn.models.harmonizer import VOICE_ORDERS, Harmonizer, HarmonizerConfig

    torch.manual_seed(0)
    model = Harmonizer(HarmonizerConfig(voices=VOICE_ORDERS["atb"], hidden=16, decoder_hidden=16, layers=1))
    path = H.save_harmonizer(tmp_path / "atb.safetensors", model, {"note": "untrained"}, dtype=torch.bfloat16)
    ckpt = H.load_harmonizer(path)
    assert ckpt.voices == ("bass", "tenor", "alto") and ckpt.training == {"note": "untrained"}
    result = H.harmonize_file(ckpt, folk_mid, tmp_path / "atb.mid", temperature=1.0, seed=5)
    written = pretty_midi.PrettyMIDI(str(result.out))
    assert len(written.instruments) == 4 and set(result.notes) == {"melody", "alto", "tenor", "bass"}
    again = H.harmonize_file(ckpt, folk_mid, tmp_path / "again.mid", temperature=1.0, seed=5)
    assert all((again.lines[v] == result.lines[v]).all() for v in result.lines)  # seeded sampling
