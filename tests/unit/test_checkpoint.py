import json
import pickle
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from genrnn.errors import CheckpointError
from genrnn.training import checkpoint as ckpt


def _rewrite(src, dst, meta_edit=None, tensor_edit=None):
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta_edit:
        meta_edit(meta)
    if tensor_edit:
        tensor_edit(tensors)
    save_file(tensors, str(dst), metadata=meta)


def test_round_trip(tiny_run):
    loaded = ckpt.load_model(tiny_run / "best.safetensors")
    assert loaded.config.hidden == 48 and loaded.tokenizer.vocab_size == loaded.config.vocab_size
    assert loaded.training["steps"] > 0 and loaded.training["genrnn_version"]
    assert loaded.training["corpus"]["sha256"]
    assert ckpt.resolve_checkpoint_path(tiny_run).name == "best.safetensors"


class Exploit:
    def __reduce__(self):
        return (open, ("/tmp/genrnn-pwned", "w"))


def test_pickle_is_refused_and_never_executed(tmp_path):
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps({"weights": Exploit()}))
    with pytest.raises(CheckpointError, match="evil.safetensors: not a safetensors file"):
        ckpt.load_model(bad)
    import os
    assert not os.path.exists("/tmp/genrnn-pwned")


def test_truncated_file(tiny_run, tmp_path):
    data = (tiny_run / "best.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        ckpt.load_model(cut)


def test_edited_metadata(tiny_run, tmp_path):
    p = tmp_path / "edited.safetensors"
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(model_config="{not json"))
    with pytest.raises(CheckpointError, match="'model_config' is not valid JSON"):
        ckpt.load_model(p)
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(
        model_config=json.dumps({**json.loads(m["model_config"]), "cell": "bogus"})))
    with pytest.raises(CheckpointError, match="cell = 'bogus'"):
        ckpt.load_model(p)


def test_wrong_shapes(tiny_run, tmp_path):
    p = tmp_path / "shapes.safetensors"
    _rewrite(tiny_run / "best.safetensors", p,
             tensor_edit=lambda t: t.update({"head.bias": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"'head.bias' has shape \(3,\)"):
        ckpt.load_model(p)


def test_future_version_and_foreign_file(tiny_run, tmp_path):
    p = tmp_path / "future.safetensors"
    _rewrite(tiny_run / "best.safetensors", p, meta_edit=lambda m: m.update(format_version="99"))
    with pytest.raises(CheckpointError, match="format version 99 is newer"):
        ckpt.load_model(p)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a genrnn file"):
        ckpt.load_model(foreign)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        ckpt.load_model(tmp_path / "missing.safetensors")


def test_no_temp_files_left(tiny_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    assert not [p for p in run.iterdir() if ".tmp" in p.name]


def test_bf16_export_halves_the_file_and_loads_as_fp32(tiny_run, tmp_path):
    loaded = ckpt.load_model(tiny_run / "best.safetensors")
    out = ckpt.save_model(tmp_path / "small.safetensors", loaded.model, loaded.tokenizer, loaded.training,
                          dtype=torch.bfloat16)
    assert out.stat().st_size < 0.6 * (tiny_run / "best.safetensors").stat().st_size
    again = ckpt.load_model(out)
    for (name, a), b in zip(loaded.model.state_dict().items(), again.model.state_dict().values(), strict=True):
        assert b.dtype == torch.float32, name
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)
