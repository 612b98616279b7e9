"""Critic-reranked sampling end to end (`genrnn sample --best-of N`, files written and read
back) and the critic over several seeds (`genrnn classify train --label real --seeds N`)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from genrnn import session
from genrnn.config import sample_config
from genrnn.inference.feature_critic import FeatureCritic, load_feature_critic, save_feature_critic
from genrnn.music import features
from genrnn.music.midi_io import read_midi, write_midi
from tests.cli import TINY, chorale_recipe, run_cli

ROOT = Path(__file__).resolve().parents[2]
BACH = ROOT / "checkpoints" / "bach.safetensors"
pytestmark = pytest.mark.skipif(not BACH.exists(), reason="needs the shipped checkpoints/bach.safetensors")


def density_critic(path: Path) -> Path:
    """A critic that likes dense music and nothing else: P(real) rises with notes per second."""
    size = len(features.FEATURES)
    weights = np.zeros(size)
    weights[features.FEATURES.index("note_density")] = 3.0
    mean = np.zeros(size)
    mean[features.FEATURES.index("note_density")] = 7.0
    return save_feature_critic(FeatureCritic(mean, np.ones(size), weights, 0.0, task={"excerpt_seconds": 15.0}), path)


def notes_of(seq) -> list[tuple[int, float, float]]:  # noqa: ANN001
    return [(n.pitch, round(n.start, 2), round(n.end, 2)) for n in seq.notes]


def test_best_of_keeps_the_piece_the_critic_rates_most_real(tmp_path: Path):
    critic_path = density_critic(tmp_path / "dense.safetensors")
    out = tmp_path / "samples"
    code, _, stderr = run_cli("sample", BACH, "--best-of", 3, "--critic", critic_path, "--seconds", 4, "--num", 2,
                              "--seed", 11, "--out", out)
    assert code == 0, stderr
    kept = [int(s) for s in re.findall(r"kept seed (\d+)", stderr)]
    assert len(kept) == 2
    model, critic = session.load_model(BACH), load_feature_critic(critic_path)
    for n in range(2):  # sample n is the best of seeds 11 + 3n … 11 + 3n + 2
        seeds = [11 + 3 * n + k for k in range(3)]
        drawn = [session.sample_music(model, sample_config(model.kind, seed=s), None, 4.0) for s in seeds]
        scores = critic.real_probability([d.sequence for d in drawn])
        best = int(np.argmax(scores))
        assert kept[n] == seeds[best]
        densities = [features.excerpt_features(d.sequence)[features.FEATURES.index("note_density")] for d in drawn]
        assert densities[best] == max(densities)  # the critic's one taste, honoured
        write_midi(drawn[best].sequence, tmp_path / f"expected_{n}.mid")
        written = read_midi(out / f"sample_{n + 1:03d}.mid")
        assert notes_of(written) == notes_of(read_midi(tmp_path / f"expected_{n}.mid"))
        assert f"P(real) {scores[best]:.2f}" in stderr


def test_sample_pieces_best_of_reranks_with_the_models_own_critic_when_given_none(tmp_path: Path):
    """It used to crash (None has no real_probability) unless a critic was passed."""
    model = session.load_model(BACH)
    own = session.model_critic(model)  # checkpoints/bach.critic.safetensors
    [piece] = session.sample_pieces(model, 1, sample_config(model.kind, seed=5), 3.0, best_of=2)
    drawn = [session.sample_music(model, sample_config(model.kind, seed=s), None, 3.0) for s in (5, 6)]
    best = int(np.argmax(own.real_probability([d.sequence for d in drawn])))
    assert notes_of(piece.sequence) == notes_of(drawn[best].sequence)


def test_best_of_finds_the_models_own_critic_and_says_where_it_looked(tmp_path: Path):
    shutil.copyfile(BACH, tmp_path / "bach.safetensors")
    code, _, stderr = run_cli("sample", tmp_path / "bach.safetensors", "--best-of", 2, "--seconds", 2,
                              "--out", tmp_path / "a")
    assert code == 2 and f"{tmp_path / 'bach.critic.safetensors'} does not exist" in stderr
    assert "--critic FILE" in stderr and len(stderr.strip().splitlines()) == 1
    density_critic(tmp_path / "bach.critic.safetensors")
    code, _, stderr = run_cli("sample", tmp_path / "bach.safetensors", "--best-of", 2, "--seconds", 2,
                              "--seed", 1, "--out", tmp_path / "b")
    assert code == 0, stderr
    assert "bach.critic.safetensors rates most real" in stderr and read_midi(tmp_path / "b" / "sample_001.mid").notes


def test_a_classifier_that_is_no_critic_cannot_rerank(tmp_path: Path):
    from genrnn.inference.classifier import input_tokenizer, save_classifier
    from genrnn.models.classifier import ClassifierConfig, SequenceClassifier

    model = SequenceClassifier(ClassifierConfig(vocab_size=input_tokenizer().vocab_size, num_classes=2, hidden=8, embed=4))
    path = save_classifier(tmp_path / "mode.safetensors", model, input_tokenizer(), ["major", "minor"],
                           {"kind": "label", "label": "mode"}, {})
    code, _, stderr = run_cli("sample", BACH, "--best-of", 2, "--critic", path, "--seconds", 1, "--out", tmp_path / "x")
    assert code == 2 and "mode.safetensors: a classifier of 'mode', not a critic" in stderr


def test_best_of_usage_errors(tmp_path: Path):
    critic = density_critic(tmp_path / "c.safetensors")
    for args, expected in ((["--best-of", 0], "--best-of 0: expected"),
                           (["--critic", critic], "--critic is the reranker of --best-of N"),
                           (["--best-of", 2, "--critic", BACH], "language model, not a feature critic")):
        code, _, stderr = run_cli("sample", BACH, "--seconds", 1, "--out", tmp_path / "x", *args)
        assert code == 2 and expected in stderr, stderr
    shakespeare = ROOT / "checkpoints" / "shakespeare.safetensors"
    if shakespeare.exists():
        code, _, stderr = run_cli("sample", shakespeare, "--best-of", 2, "--length", 5)
        assert code == 2 and "--best-of" in stderr and "text model" in stderr


def test_critic_over_seeds_reports_both_critics_mean_and_sd(tmp_path: Path):
    recipe = tmp_path / "bach8.toml"
    recipe.write_text(chorale_recipe((0, 0)))
    out = tmp_path / "critic"
    code, stdout, stderr = run_cli("classify", "train", "--corpus", recipe, "--label", "real", "--generator", BACH,
                                   "--seconds", 3, "--out", out, "--steps", 3, "--seeds", 2, "--seed", 4, "--json", *TINY)
    assert code == 0, stderr
    payload = json.loads(stdout.strip().splitlines()[-1])
    assert payload["seeds"] == [4, 5] and len(payload["runs"]) == 2
    for key in ("neural", "features"):
        values = payload["summary"][key]["values"]
        assert len(values) == 2 and payload["summary"][key]["mean"] == pytest.approx(np.mean(values))
        assert payload["summary"][key]["sd"] == pytest.approx(np.std(values, ddof=1))
    for run in payload["runs"]:
        folder = out / f"seed{run['seed']}"
        critic = load_feature_critic(folder)
        assert critic.training["accuracy"] == run["feature_critic"]["accuracy"]
        assert critic.task["excerpt_seconds"] == 3 and critic.task["generation_seed"] == run["seed"]
        counts = critic.training["heldout_examples"]
        assert counts["real"] == counts["generated"] > 0  # both classes from the held-out split
        assert (folder / "classifier.safetensors").exists()
        assert critic.task["sampling"]["seed"] == 100_000 * run["seed"]  # the pieces of two seeds are disjoint
    first = [notes_of(read_midi(p)) for p in sorted((out / "seed4" / "generated").glob("*.mid"))]
    second = [notes_of(read_midi(p)) for p in sorted((out / "seed5" / "generated").glob("*.mid"))]
    assert len(first) == len(second) == 8 and not any(a == b for a in first for b in second)
    for piece in (out / "seed4" / "generated").glob("*.mid"):  # as long as the real excerpts: 3 s
        assert read_midi(piece).end_time <= 3.0 + 1e-6
    # the neural critic reranks too (it loads PyTorch): the kept seed is its favourite
    neural = out / "seed4" / "classifier.safetensors"
    code, _, stderr = run_cli("sample", BACH, "--best-of", 3, "--critic", neural, "--seconds", 3, "--seed", 2,
                              "--out", tmp_path / "ranked")
    assert code == 0, stderr
    model, judge = session.load_model(BACH), session.load_critic(neural)
    drawn = [session.sample_music(model, sample_config(model.kind, seed=2 + k), None, 3.0).sequence for k in range(3)]
    assert f"kept seed {2 + int(np.argmax(judge.real_probability(drawn)))}:" in stderr


def test_classify_files_with_a_feature_critic(tmp_path: Path):
    """`genrnn classify CRITIC FILES`: P(real) per file, and the feature that leaned it."""
    import pretty_midi

    critic = density_critic(tmp_path / "dense.safetensors")
    for name, step in (("dense", 0.05), ("sparse", 0.5)):
        pm = pretty_midi.PrettyMIDI()
        piano = pretty_midi.Instrument(program=0)
        for i in range(int(4 / step)):
            piano.notes.append(pretty_midi.Note(velocity=80, pitch=60 + i % 12, start=i * step, end=(i + 1) * step))
        pm.instruments.append(piano)
        pm.write(str(tmp_path / f"{name}.mid"))
    code, stdout, stderr = run_cli("classify", critic, tmp_path / "dense.mid", tmp_path / "sparse.mid",
                                   tmp_path / "missing.mid", "--json")
    assert code == 2 and "missing.mid" in stderr  # one file failed, the others answered
    results = json.loads(stdout)["results"]
    assert [r.get("label") for r in results] == ["real", "generated", None]
    assert results[0]["probs"]["real"] > 0.99 and results[1]["probs"]["real"] < 0.01
    assert results[0]["leaning"][0][0] == "note_density" and results[0]["leaning"][0][1] > 0
    assert results[1]["leaning"][0][0] == "note_density" and results[1]["leaning"][0][1] < 0
    code, stdout, _ = run_cli("classify", critic, tmp_path / "dense.mid")
    assert code == 0 and "note_density +" in stdout and "real" in stdout


def test_best_of_plays_the_piece_it_kept(tmp_path: Path):
    """--play with --best-of: the kept piece, once finished, goes to the port, note for note."""
    from tests.receivers import Receiver

    critic = density_critic(tmp_path / "dense.safetensors")
    rec = Receiver()
    try:
        code, _, stderr = run_cli("sample", BACH, "--best-of", 2, "--critic", critic, "--seconds", 2, "--seed", 3,
                                  "--out", tmp_path / "out", "--play", rec.address)
        heard = rec.result()
    finally:
        rec.kill()
    assert code == 0, stderr
    saved = read_midi(tmp_path / "out" / "sample_001.mid")
    assert heard.note_ons == heard.note_offs == len(saved.notes) > 0 and heard.hanging_notes == 0
    assert f"played to {rec.address}" in stderr


def test_the_critic_can_grade_best_of_n_sampling(tmp_path: Path):
    """classify train --best-of N --rerank-critic FILE: each generated piece is the best of N, as
    `genrnn sample --best-of N` keeps it, and the record says so."""
    recipe = tmp_path / "bach4.toml"
    recipe.write_text('source = "music21-chorales"\ntokenizer = "midi_events"\nlimit = 4\n'
                      'val_percent = 50\nsplit_salt = "genrnn"\ntranspose = [0, 0]\n')
    critic_path = density_critic(tmp_path / "dense.safetensors")
    out = tmp_path / "graded"
    code, _, stderr = run_cli("classify", "train", "--corpus", recipe, "--label", "real", "--generator", BACH,
                              "--seconds", 3, "--out", out, "--steps", 2, "--best-of", 2, "--rerank-critic", critic_path,
                              *TINY)
    assert code == 0, stderr
    critic = load_feature_critic(out)
    assert critic.task["best_of"]["n"] == 2 and critic.task["best_of"]["critic"] == str(critic_path)
    model, judge = session.load_model(BACH), load_feature_critic(critic_path)
    for n, path in enumerate(sorted((out / "generated").glob("*.mid"))[:2]):  # piece n: seeds 2n and 2n + 1
        drawn = [session.sample_music(model, sample_config(model.kind, seed=2 * n + k), None, 3.0).sequence for k in range(2)]
        best = drawn[int(np.argmax(judge.real_probability(drawn)))]
        write_midi(best, tmp_path / "best.mid")
        assert notes_of(read_midi(path)) == notes_of(read_midi(tmp_path / "best.mid"))
    code, _, stderr = run_cli("classify", "train", "--corpus", recipe, "--label", "mode", "--out", tmp_path / "m",
                              "--best-of", 2)
    assert code == 2 and "--best-of and --rerank-critic are the critic's generator's" in stderr
