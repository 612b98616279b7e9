"""Many-to-one end to end: train tiny classifiers on a few real chorales (mode, and a critic of
real against generated), label real files written by pretty_midi and music21, and check that
a classifier learns major from minor on synthetic pieces it has not seen."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

from genrnn.config import ClassifyConfig
from genrnn.errors import CheckpointError
from genrnn.inference import classifier as classify
from genrnn.models.classifier import ClassifierConfig, SequenceClassifier
from genrnn.music.midi_io import read_midi
from genrnn.music.notes import Note, NoteSequence
from genrnn.training.classifier import train_classifier
from genrnn.training.classifier_data import data_from_sequences
from tests.cli import TINY, run_cli
from tests.cli import chorale_recipe as recipe_text

ROOT = Path(__file__).resolve().parents[2]
BACH = ROOT / "checkpoints" / "bach.safetensors"


@pytest.fixture(scope="module")
def chorale_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chorale recipe cut to 8 pieces, half of them held out."""
    path = tmp_path_factory.mktemp("recipes") / "bach8.toml"
    path.write_text(recipe_text((0, 0)))
    return path


@pytest.fixture(scope="module")
def mode_run(tmp_path_factory: pytest.TempPathFactory, chorale_recipe: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "mode"
    code, stdout, stderr = run_cli("classify", "train", "--corpus", chorale_recipe, "--label", "mode", "--out", out,
                                   "--steps", "6", "--seed", "1", "--json", *TINY)
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    return out, json.loads(lines[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real files from other libraries, plus a broken one and a missing one."""
    folder = tmp_path_factory.mktemp("pieces")
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]):
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=i * 0.25, end=i * 0.25 + 0.24))
    pm.instruments.append(piano)
    pm.write(str(folder / "scale.mid"))
    music21 = pytest.importorskip("music21")
    music21.corpus.parse("bach/bwv66.6").write("midi", fp=str(folder / "bwv66.6.mid"))
    (folder / "tune.abc").write_text("X:1\nT:test\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA|\n")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x90")
    return {"scale": folder / "scale.mid", "bach": folder / "bwv66.6.mid", "abc": folder / "tune.abc",
            "broken": folder / "broken.mid", "missing": folder / "missing.mid"}


# ---------------------------------------------------------------- mode: train, then label files


def test_train_reports_held_out_accuracy_and_saves(mode_run: tuple[Path, dict]):
    out, payload = mode_run
    assert payload["command"] == "classify train" and payload["classes"] == ["major", "minor"]
    assert 0.0 <= payload["accuracy"] <= 1.0 and 0.0 <= payload["baseline"] <= 1.0
    assert payload["heldout_pieces"] == sum(v["count"] for v in payload["per_class"].values()) > 0
    assert payload["steps"] == 6 and payload["wall_seconds"] > 0
    clf = classify.load_classifier(out)  # the run folder means its classifier.safetensors
    assert clf.path == out / "classifier.safetensors" and clf.classes == ["major", "minor"]
    assert clf.task["label"] == "mode" and clf.task["recipe"] == "bach8" and clf.window == 64
    assert clf.training["accuracy"] == payload["accuracy"] and clf.training["steps"] == 6
    assert clf.model.config.hidden == 16 and clf.tokenizer.labels == []  # label tokens never reach the model
    held = clf.training["heldout"]["predictions"]
    assert len(held) == payload["heldout_pieces"] and all(p["name"].startswith("bach/") for p in held)


def test_classify_files_json(mode_run: tuple[Path, dict], files: dict[str, Path]):
    out, _ = mode_run
    order = ["scale", "bach", "abc", "broken", "missing"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "genrnn.cli", "classify", str(out), *(str(files[k]) for k in order),
                           "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr  # two files failed; the others still answered
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    payload = json.loads(lines[0])
    assert payload["classes"] == ["major", "minor"] and payload["failed"] == 2
    results = dict(zip(order, payload["results"], strict=True))
    for key in ("scale", "bach", "abc"):
        r = results[key]
        assert r["file"] == str(files[key]) and r["label"] in ("major", "minor") and r["windows"] >= 1
        assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-5)
        assert r["probability"] == pytest.approx(max(r["probs"].values()), abs=1e-6)
    assert results["bach"]["windows"] > 1  # a whole chorale is longer than one 64-event window
    assert "broken.mid" in results["broken"]["error"] and "truncated" in results["broken"]["error"]
    assert "missing.mid" in results["missing"]["error"] and "cannot read" in results["missing"]["error"]
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 2 and "Traceback" not in proc.stderr


def test_classify_files_table(mode_run: tuple[Path, dict], files: dict[str, Path]):
    out, _ = mode_run
    code, stdout, stderr = run_cli("classify", out / "classifier.safetensors", files["scale"], files["bach"])
    assert code == 0, stderr
    assert "held-out accuracy" in stdout and "pieces0" in stdout  # the table folds long paths
    assert len(re.findall(r"(major|minor) +│ +\d+\.\d%", stdout)) == 2  # one row per file: label, probability


# ---------------------------------------------------------------- critic: real against generated


@pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")
def test_critic_trains_against_generated_pieces(tmp_path: Path, chorale_recipe: Path):
    out = tmp_path / "critic"
    code, stdout, stderr = run_cli("classify", "train", "--corpus", chorale_recipe, "--label", "real",
                                   "--generator", BACH, "--seconds", "3", "--out", out, "--steps", "5", *TINY)
    assert code == 0, stderr
    assert "musical-quality figure" in stdout and "50%" in stdout
    generated = sorted((out / "generated").glob("*.mid"))
    assert len(generated) == 8  # one per real piece, of the same length
    clf = classify.load_classifier(out)
    assert clf.classes == ["generated", "real"] and clf.task["kind"] == "critic"
    assert clf.task["excerpt_seconds"] == 3 and clf.task["generator"] == str(BACH)
    assert clf.task["real_augmentation"] == {"stretch": [1.0], "transpose": [0, 0]}  # the recipe's
    counts = {c: v["count"] for c, v in clf.training["heldout"]["per_class"].items()}
    assert counts["real"] == counts["generated"] > 0  # each generated piece joins its partner's split
    verdict = classify.classify_file(clf, generated[0])
    ids = classify.piece_ids(clf, read_midi(generated[0]))  # the 3 s excerpt, cut to the window
    assert verdict.label in ("generated", "real") and verdict.windows == len(classify.windows(ids, 64)) >= 1
    assert clf.tokenizer.decode(ids).end_time <= 3.0 + 1e-6  # the excerpt, not the whole piece


# ---------------------------------------------------------------- errors and usage


def test_checkpoint_errors(tmp_path: Path):
    if BACH.exists():
        with pytest.raises(CheckpointError, match="language model, not a classifier"):
            classify.load_classifier(BACH)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="damaged"):
        classify.load_classifier(junk)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        classify.load_classifier(tmp_path / "nothing.safetensors")
    with pytest.raises(CheckpointError, match="a folder without best.safetensors, last.safetensors, classifier.safetensors"):
        classify.load_classifier(tmp_path)
    model = SequenceClassifier(ClassifierConfig(vocab_size=classify.input_tokenizer().vocab_size, num_classes=2))
    bad = classify.save_classifier(tmp_path / "bad.safetensors", model, classify.input_tokenizer(), ["only one"], {}, {})
    with pytest.raises(CheckpointError, match="'classes'"):
        classify.load_classifier(bad)
    code, stdout, stderr = run_cli("classify", junk, tmp_path / "x.mid")
    assert code == 2 and stdout == "" and len(stderr.strip().splitlines()) == 1 and "junk.safetensors" in stderr


def test_usage_and_help(tmp_path: Path):
    code, stdout, _ = run_cli("classify", "--help")
    assert code == 0 and "classify train" in stdout and "--generator" in stdout and "CKPT FILE" in stdout
    code, stdout, _ = run_cli("classify", "train", "--help")
    assert code == 0 and "--time-budget" in stdout and "--label" in stdout
    code, stdout, _ = run_cli("classify")
    assert code == 2 and "classify train" in stdout
    code, _, stderr = run_cli("classify", "train", "--corpus", "x.toml", "--out", tmp_path)
    assert code == 2 and "--label" in stderr and "required" in stderr
    code, _, stderr = run_cli("classify", "train", "--corpus", "x.toml", "--out", tmp_path, "--label", "real")
    assert code == 2 and "needs --generator" in stderr
    code, _, stderr = run_cli("classify", "train", "--corpus", "x.toml", "--out", tmp_path, "--label", "mode",
                              "--generator", "g.safetensors")
    assert code == 2 and "--generator is for --label real" in stderr
    code, _, stderr = run_cli("classify", "train", "--corpus", "x.toml", "--out", tmp_path, "--label", "mode",
                              "--hidden", "0")
    assert code == 2 and "hidden" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = run_cli("classify", "some.safetensors")
    assert code == 2 and "FILE" in stderr


# ---------------------------------------------------------------- the model and its windows


def test_padding_never_changes_an_answer():
    torch.manual_seed(0)
    for cell in ("lstm", "gru"):
        model = SequenceClassifier(ClassifierConfig(vocab_size=391, num_classes=3, cell=cell, hidden=16, embed=8)).eval()
        short = torch.randint(3, 391, (1, 20))
        batch = torch.zeros(2, 50, dtype=torch.long)
        batch[0, :20], batch[1] = short[0], torch.randint(3, 391, (50,))
        alone = model(short, torch.tensor([20]))
        padded = model(batch, torch.tensor([20, 50]))
        assert torch.allclose(alone, padded[:1], atol=1e-5)


def test_windows_cover_the_piece():
    ids = np.arange(1000)
    parts = classify.windows(ids, 300)
    assert [len(p) for p in parts] == [300, 300, 300, 300] and parts[-1][-1] == 999
    assert set(np.concatenate(parts)) == set(ids)
    assert [len(p) for p in classify.windows(ids[:50], 300)] == [50]


# ---------------------------------------------------------------- a check that can fail

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor
PROGRESSIONS = ((0, 3, 4, 0), (0, 4, 0), (0, 5, 3, 4, 0), (0, 3, 0))


def synthetic_piece(mode: str, rng: random.Random) -> NoteSequence:
    """Tonic-subdominant-dominant triads, then the scale up and down, in one of five keys."""
    scale = MAJOR if mode == "major" else MINOR
    tonic = 48 + rng.choice((0, 2, 5, 7, 9))
    notes, t = [], 0.0
    for degree in rng.choice(PROGRESSIONS):
        length = rng.choice((0.4, 0.5, 0.6))
        for k in (0, 2, 4):
            step = degree + k
            notes.append(Note(tonic + scale[step % 7] + 12 * (step // 7), 80, t, t + length))
        t += length
    length = rng.choice((0.15, 0.2, 0.25))
    for step in [*range(8), *range(7, -1, -1)]:
        notes.append(Note(tonic + 12 + scale[step % 7] + 12 * (step // 7), 80, t, t + length))
        t += length
    return NoteSequence(notes)


def synthetic(count: int, seed: int) -> list[tuple[str, NoteSequence, str]]:
    rng = random.Random(seed)
    return [(f"{mode} {i}", synthetic_piece(mode, rng), mode) for i in range(count) for mode in ("major", "minor")]


def test_mode_classifier_beats_chance_on_unseen_pieces(tmp_path: Path):
    data = data_from_sequences(synthetic(60, seed=1), synthetic(20, seed=2), ["major", "minor"])
    cfg = ClassifyConfig(window=128, batch_size=16, lr=3e-3, time_budget=None, max_steps=200, seed=0,
                         threads=1)
    result = train_classifier(data, {"hidden": 32, "embed": 32}, cfg, tmp_path)
    ev = result.evaluation
    assert ev.count == 40 and ev.baseline == 0.5
    # chance is 50%; five seeds scored 100%, and 43-73% with the training labels shuffled
    assert ev.accuracy >= 0.85, ev.per_class
    clf = classify.load_classifier(result.path)
    again = classify.classify_sequences(clf, [(p[0], p[1]) for p in synthetic(20, seed=2)])
    assert np.mean([a.label == p[2] for a, p in zip(again, synthetic(20, seed=2), strict=True)]) == ev.accuracy
