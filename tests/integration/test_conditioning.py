"""One-to-many: labels learned as tokens (`train --conditioned`), generation from a label alone
(`sample --condition`), for a text folder (a label per file) and for chorales (mode and key)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from genrnn import session
from genrnn.corpora import recipes
from genrnn.tokenizers.chars import CharTokenizer
from genrnn.tokenizers.midi_events import LABEL, START, MidiEventTokenizer
from tests.integration.test_music_training import genrnn, one_line_error


@pytest.fixture(scope="module", autouse=True)
def _module_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["GENRNN_CACHE"] = str(tmp_path_factory.getbasetemp() / "genrnn-cache")


@pytest.fixture(scope="module")
def two_voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two files that share an alphabet but not a manner: one only ever says 'ab ', the other
    'ba.' — which one a sample continues can only come from its label."""
    folder = tmp_path_factory.mktemp("voices")
    rng = np.random.default_rng(0)
    (folder / "alpha.txt").write_text("".join(rng.choice(["ab ", "aab "], 3000)) + "\n")
    (folder / "beta.txt").write_text("".join(rng.choice(["ba.", "bba."], 3000)) + "\n")
    return folder


@pytest.fixture(scope="module")
def text_run(two_voices: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "voices"
    proc = genrnn("train", "--text", two_voices, "--conditioned", "--out", out, "--preset", "tiny",
                  "--hidden", "32", "--seq-len", "32", "--max-steps", "300", "--seed", "1",
                  "--eval-interval", "1000", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    return out


def test_text_folder_gets_one_label_token_per_file(two_voices: Path, tmp_path: Path):
    corpus = session.prepare_corpus(text=two_voices, cache_dir=tmp_path, conditioned=True)
    tok = corpus.tokenizer
    assert isinstance(tok, CharTokenizer) and tok.labels == ["file=alpha", "file=beta"]
    data = np.concatenate([corpus.train, corpus.val])
    assert int(data[0]) == tok.label_id("file=alpha")
    assert (data == tok.label_id("file=beta")).sum() == 1
    assert tok.decode([tok.label_id("file=beta"), *tok.encode("ba.")]) == "ba."
    again = CharTokenizer.from_dict(tok.to_dict())
    assert again.labels == tok.labels and again.vocab_size == tok.vocab_size


def test_sampling_from_a_file_label_writes_in_that_files_manner(text_run: Path):
    written = {}
    for name in ("alpha", "beta"):
        proc = genrnn("sample", text_run, "--condition", f"file={name}", "--length", "300", "--seed", "4")
        assert proc.returncode == 0, proc.stderr
        written[name] = proc.stdout
    alpha, beta = written["alpha"], written["beta"]
    assert alpha.count(" ") > 50 and alpha.count(".") < 3, alpha  # 'ab ' / 'aab '
    assert beta.count(".") > 50 and beta.count(" ") < 3, beta  # 'ba.' / 'bba.'
    assert alpha.count("a") > alpha.count("b") and beta.count("b") > beta.count("a")
    short = genrnn("sample", text_run, "--condition", "beta", "--length", "50", "--seed", "4")
    assert short.returncode == 0 and short.stdout[:50] == beta[:50]  # `NAME` means `file=NAME`


def test_condition_errors_are_one_line(text_run: Path, two_voices: Path, tmp_path: Path):
    assert "not one of" in one_line_error(genrnn("sample", text_run, "--condition", "file=gamma"))
    assert "give each kind once" in one_line_error(
        genrnn("sample", text_run, "--condition", "alpha", "--condition", "beta"))
    one_file = one_line_error(genrnn("train", "--text", two_voices / "alpha.txt", "--conditioned",
                                     "--out", tmp_path / "x", "--max-steps", "1"))
    assert "needs a folder" in one_file


def test_label_dropout_is_reproducible_and_keeps_order():
    recipe = recipes.Recipe("r", Path("r.toml"), "music21-chorales", "midi_events",
                            labels=("mode", "key"), label_dropout=0.5)
    labels = ["mode=minor", "key=A"]
    kept = [recipes._drop_labels(recipe, f"piece{n}", 1.0, 0, labels) for n in range(200)]
    assert kept == [recipes._drop_labels(recipe, f"piece{n}", 1.0, 0, labels) for n in range(200)]
    sizes = [len(k) for k in kept]
    assert 0.35 < np.mean(sizes) / 2 < 0.65 and sizes.count(0) > 10 and sizes.count(2) > 10
    assert all(k == [lb for lb in labels if lb in k] for k in kept)


def test_conditioned_chorales_learn_mode_and_key_then_sample_from_mode_alone(tmp_path: Path):
    recipe = tmp_path / "chorales.toml"
    recipe.write_text('source = "music21-chorales"\nlimit = 6\nval_percent = 20\n')
    corpus = session.prepare_corpus(recipe=recipe, cache_dir=tmp_path / "cache", conditioned=True)
    tok = corpus.tokenizer
    assert tok.labels[:2] == ["mode=major", "mode=minor"] and len(tok.labels) == 2 + 24 + 2 + 12
    assert tok.labels[26:28] == ["rests=yes", "rests=no"] and tok.labels[-12:][3] == "voices=4"
    val = np.asarray(corpus.val)
    assert int(val[0]) == START and LABEL <= int(val[1]) < LABEL + 2 and LABEL + 2 <= int(val[2])
    assert len(corpus.meta["labels"]) == 6
    assert all(set(v) == {"mode", "key", "rests", "voices"} for v in corpus.meta["labels"].values())
    # a key names its mode, so the pair is one token the model cannot split
    assert all(v["key"].endswith("m") == (v["mode"] == "minor") for v in corpus.meta["labels"].values())
    out = tmp_path / "run"
    proc = genrnn("train", "--corpus", recipe, "--conditioned", "--cache", tmp_path / "cache", "--out", out,
                  "--preset", "tiny", "--max-steps", "20", "--seed", "1", "--eval-interval", "1000",
                  "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    config = session.load_model(out).config  # the labels are held at every step, by kind
    tok = MidiEventTokenizer(list(corpus.tokenizer.labels))
    assert config.cond_ids == tuple(tok.label_id(lb) for lb in tok.labels)
    assert config.cond_groups == tuple(["mode", "key", "rests", "voices"].index(lb.split("=")[0]) for lb in tok.labels)
    # eval can give each sample a held-out piece's labels: the same mix on both sides
    names = corpus.meta["piece_names"]["val"]
    assert recipes.val_labels(corpus) == [[f"{k}={corpus.meta['labels'][n][k]}" for k in ("mode", "key", "rests", "voices")]
                                  for n in names]
    proc = genrnn("eval", out, "--corpus", recipe, "--cache", tmp_path / "cache", "--samples", "2",
                  "--seconds", "2", "--labels", "held-out", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["labels"] == "held-out" and report["metrics"]["pieces"]["generated"] == 2
    proc = genrnn("sample", out, "--condition", "mode=minor", "--seconds", "3", "--seed", "2",
                  "--out", tmp_path / "samples", "--num", "2")
    assert proc.returncode == 0, proc.stderr
    assert "conditioned on mode=minor" in proc.stderr and "analysed as" in proc.stderr
    assert "of 2 samples match mode=minor" in proc.stderr
    for mid in sorted((tmp_path / "samples").glob("*.mid")):
        assert pretty_midi.PrettyMIDI(str(mid)).instruments[0].notes
    unknown = one_line_error(genrnn("sample", out, "--condition", "mode=dorian", "--seconds", "2"))
    assert "mode=major, mode=minor" in unknown
    from genrnn.analysis.conditioning import mode_match
    from genrnn.config import SampleConfig

    res = mode_match(session.load_model(out), 2, 3.0, SampleConfig(seed=0))
    assert set(res["per_mode"]) == {"major", "minor"}
    for mode, row in res["per_mode"].items():
        assert row["samples"] == 2 and row["match"] == sum(a == mode for a in row["analysed"])
    assert res["mode_match"] == sum(r["match"] for r in res["per_mode"].values()) / 4
