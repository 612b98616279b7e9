"""The one file format (genrnn/fileformat.py): language models, training state, harmonizers and
classifiers read and written through it, with one version rule and one meaning of a run folder."""

import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from genrnn import fileformat, session
from genrnn.errors import CheckpointError
from genrnn.models.info import read_info, state_shapes
from genrnn.models.weights import save_model


def _rewrite(src, dst, meta_edit=None, tensor_edit=None):
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta_edit:
        meta_edit(meta)
    if tensor_edit:
        tensor_edit(tensors)
    save_file(tensors, str(dst), metadata=meta)


def test_round_trip_and_a_run_folder_means_its_best_file(tiny_run):
    model = session.load_model(tiny_run)
    assert model.path.name == "best.safetensors" and model.kind == "text"
    assert model.config.hidden == 48 and model.tokenizer.vocab_size == model.config.vocab_size
    assert model.training["steps"] > 0 and model.training["genrnn_version"]
    assert model.training["corpus"]["sha256"]
    assert model.parameters == sum(p.numel() for p in model.module.parameters())


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu", "mingru", "none"])
def test_header_shapes_are_the_modules_state_dict(cell):
    from genrnn.config import ModelConfig
    from genrnn.models.rnn import RNNLanguageModel

    config = ModelConfig(vocab_size=11, cell=cell, embed=5, hidden=7, layers=3, cond_ids=(9, 10), cond_groups=(0, 1),
                         metre_period=4, metre_grids=(2, 3), metre_notes=(1, 5), metre_shifts=(5, 9), metre_resets=(0,))
    assert state_shapes(config) == {k: tuple(v.shape) for k, v in RNNLanguageModel(config).state_dict().items()}


class Exploit:
    def __reduce__(self):
        return (open, ("/tmp/genrnn-pwned", "w"))


def test_pickle_is_refused_and_never_executed(tmp_path):
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps({"weights": Exploit()}))
    with pytest.raises(CheckpointError, match="evil.safetensors: not a safetensors file"):
        session.load_model(bad)
    assert not os.path.exists("/tmp/genrnn-pwned")


def test_truncated_file(tiny_run, tmp_path):
    data = (tiny_run / "best.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        session.load_model(cut)


def test_edited_metadata(tiny_run, tmp_path):
    p = tmp_path / "edited.safetensors"
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(model_config="{not json"))
    with pytest.raises(CheckpointError, match="'model_config' is not valid JSON"):
        session.load_model(p)
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(
        model_config=json.dumps({**json.loads(m["model_config"]), "cell": "bogus"})))
    with pytest.raises(CheckpointError, match="cell = 'bogus'"):
        session.load_model(p)


def test_weights_that_disagree_with_the_config_are_refused_from_the_header(tiny_run, tmp_path):
    p = tmp_path / "shapes.safetensors"
    _rewrite(tiny_run / "best.safetensors", p, tensor_edit=lambda t: t.update({"head.bias": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"'head.bias' has shape \(3,\)"):
        read_info(p)
    wide = tmp_path / "wide.safetensors"  # metadata says 96 wide, the tensors are 48
    _rewrite(tiny_run / "best.safetensors", wide, meta_edit=lambda m: m.update(
        model_config=json.dumps({**json.loads(m["model_config"]), "hidden": 96})))
    with pytest.raises(CheckpointError, match=r"wide.safetensors: tensor 'head.weight' has shape \(\d+, 48\)"):
        session.load_model(wide)
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "info", str(wide)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "has shape" in r.stderr


def test_newer_versions_are_refused_and_older_ones_read_for_every_kind(tiny_run, tmp_path):
    p = tmp_path / "future.safetensors"
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(format_version="99"))
    with pytest.raises(CheckpointError, match="format version 99 is newer"):
        session.load_model(p)
    old = tmp_path / "old.safetensors"
    _rewrite(tiny_run / "best.safetensors", old, meta_edit=lambda m: m.update(format_version="0"))
    assert session.load_model(old).config.hidden == 48
    for fmt in (fileformat.CLASSIFIER, fileformat.HARMONIZER, fileformat.TRAIN_STATE):
        header = fileformat.Header(p, {"format": fmt, "format_version": "0"}, {}, {})
        assert header.expect(fmt) is header  # one rule: older is read
        newer = fileformat.Header(p, {"format": fmt, "format_version": str(fileformat.VERSIONS[fmt] + 1)}, {}, {})
        with pytest.raises(CheckpointError, match="is newer than this genrnn"):
            newer.expect(fmt)


def test_foreign_and_other_kinds_of_files_say_what_they_are(tiny_run, tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a genrnn language model"):
        session.load_model(foreign)
    with pytest.raises(CheckpointError, match="a genrnn harmonizer, not a language model"):
        session.load_model("checkpoints/harmonizer.safetensors")
    with pytest.raises(CheckpointError, match="a genrnn language model, not a classifier"):
        session.load_classifier(tiny_run)
    with pytest.raises(CheckpointError, match="a genrnn language model, not a harmonizer"):
        session.load_harmonizer(tiny_run)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        session.load_model(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="a folder without best.safetensors"):
        session.load_model(tmp_path)


def test_a_killed_writers_temp_file_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".last.safetensors.tmp{int(dead.stdout)}"
    live = tmp_path / f".best.safetensors.tmp{os.getpid()}"
    other = tmp_path / "notes.tmp1"
    for p in (stale, live, other):
        p.write_bytes(b"half a file")
    assert fileformat.remove_stale_temps(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_bf16_export_halves_the_file_and_loads_as_fp32(tiny_run, tmp_path):
    model = session.load_model(tiny_run)
    out = save_model(tmp_path / "small.safetensors", model.module, model.tokenizer, model.training,
                     dtype=torch.bfloat16)
    assert out.stat().st_size < 0.6 * (tiny_run / "best.safetensors").stat().st_size
    again = session.load_model(out)
    assert fileformat.read_header(out).dtypes["head.weight"] == "BF16"
    for (name, a), b in zip(model.module.state_dict().items(), again.module.state_dict().values(), strict=True):
        assert b.dtype == torch.float32, name
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)
    arrays = fileformat.read_tensors(fileformat.read_header(out))
    np.testing.assert_array_equal(arrays["head.bias"], again.module.state_dict()["head.bias"].numpy())


def test_training_state_round_trips(tmp_path):
    from genrnn.training import checkpoint as ckpt

    tensors = {"rng.torch": torch.get_rng_state(), "opt.0.step": torch.tensor(3.0), "hidden.0": torch.ones(2, 3, 4)}
    ckpt.save_train_state(tmp_path / "last.state.safetensors", tensors, {"step": 3, "optimizer": {"a": [1]}})
    back, info = ckpt.load_train_state(tmp_path / "last.state.safetensors")
    assert info == {"step": 3, "optimizer": {"a": [1]}}
    for k, v in tensors.items():
        assert torch.equal(back[k], v), k
    shutil.rmtree(tmp_path)


def test_a_char_model_without_a_corpus_record_is_a_text_model(tmp_path):
    """The one kind rule: a tokenizer's "chars" reads as "text" for every reader (the session,
    the TUI's picker, `genrnn info`), so such a model takes the text path of `genrnn sample`."""
    from genrnn.config import ModelConfig
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.tokenizers.chars import CharTokenizer
    from genrnn.tui.catalog import describe

    tok = CharTokenizer("abc \n")
    path = save_model(tmp_path / "bare.safetensors", RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size,
                                                                                   hidden=8, embed=4, layers=1)),
                      tok, {})
    assert session.load_model(path).kind == "text" == describe(path, "run").kind
    assert session.checkpoint_info(path)["kind"] == "text"
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "sample", str(path), "--length", "30", "--seed", "1"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0 and len(r.stdout) == 31, r.stderr  # streamed to stdout as text, no .mid written
    assert not list(tmp_path.glob("sample_*"))
