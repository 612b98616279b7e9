"""The stream's two back-ends: the NumPy LSTM step against the PyTorch model, the file reader
against safetensors' own PyTorch loader, and `genrnn sample` streaming an LSTM without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genrnn import fileformat, session
from genrnn.config import ModelConfig, SampleConfig
from genrnn.generation.light import NumpyLstm
from genrnn.generation.stream import Stream
from genrnn.models.rnn import RNNLanguageModel
from genrnn.models.weights import save_model
from genrnn.tokenizers.chars import CharTokenizer
from tests.conftest import torch_stream

TEXT = "the quick brown fox jumps over the lazy dog.\n"


def _save(tmp_path: Path, cell: str = "lstm", dtype: torch.dtype | None = None, labels=()) -> Path:
    torch.manual_seed(0)
    tok = CharTokenizer(TEXT, labels)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, cell=cell, embed=8, hidden=24, layers=2,
                                         dropout=0.0))
    with torch.no_grad():  # larger weights than the default init: sharper, more varied logits
        for p in model.parameters():
            p.mul_(3.0)
    path = tmp_path / f"{cell}.safetensors"
    save_model(path, model, tok, {"corpus": {"kind": "text"}}, dtype=dtype)
    return path


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_the_file_reader_matches_safetensors_own_torch_loader(tmp_path: Path, dtype):
    path = _save(tmp_path, dtype=dtype)
    header = fileformat.read_header(path).expect(fileformat.LANGUAGE_MODEL)
    arrays = fileformat.read_tensors(header)
    theirs = load_file(str(path))
    assert set(arrays) == set(theirs)
    for name, value in arrays.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, theirs[name].float().numpy())


def test_an_lstm_on_the_cpu_streams_on_numpy_and_follows_the_pytorch_model(tmp_path: Path):
    path = _save(tmp_path)
    model = session.load_model(path)
    assert model.numpy_backend and isinstance(model.backend(), NumpyLstm)
    ids = model.encode_text(TEXT * 3)
    logits, _ = model.module(torch.tensor([ids]))
    backend = model.backend()
    rows = [backend.step(np.array([t]))[0] for t in ids]
    np.testing.assert_allclose(np.stack(rows), logits[0].detach().numpy(), rtol=1e-4, atol=1e-4)
    # argmax continuation: the same text on both back-ends
    greedy = SampleConfig(temperature=0.0, seed=1)
    ours = session.open_stream(model, greedy, ids[:10]).take(60)[0]
    theirs = torch_stream(model.module, model.tokenizer, greedy)
    theirs.prime(ids[:10])
    assert ours == theirs.take(60)[0]


def test_same_seed_same_text_and_labels_never_drawn(tmp_path: Path):
    model = session.load_model(_save(tmp_path, labels=["file=a", "file=b"]))
    runs = [session.open_stream(model, SampleConfig(temperature=1.5, seed=7),
                                [model.tokenizer.label_id("file=b")]).take(400)[0] for _ in range(2)]
    assert runs[0] == runs[1]
    assert max(runs[0]) < len(model.tokenizer.chars)


def test_other_cells_stream_on_pytorch_and_damaged_files_are_one_clear_error(tmp_path: Path):
    from genrnn.errors import CheckpointError
    from genrnn.models.step import TorchStep

    gru = session.load_model(_save(tmp_path, cell="gru"))
    assert not gru.numpy_backend and isinstance(gru.backend(), TorchStep)
    assert len(session.open_stream(gru, SampleConfig(seed=1)).take(20)[0]) == 20
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="broken.safetensors: not a safetensors file"):
        session.load_model(broken)
    with pytest.raises(CheckpointError, match="missing.safetensors: no such checkpoint"):
        session.load_model(tmp_path / "missing.safetensors")


def test_genrnn_sample_streams_a_text_lstm_without_torch(tmp_path: Path):
    path = _save(tmp_path, dtype=torch.bfloat16)
    code = ("import sys; from genrnn.cli import main; "
            f"rc = main(['sample', {str(path)!r}, '--seed', '3', '--length', '80', '--prime', 'the ']); "
            "print('torch loaded:', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "torch loaded: False" in r.stderr
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.startswith("the ")
    assert len(runs[0].stdout) == len("the ") + 80 + 1
    gru = _save(tmp_path, cell="gru")  # the PyTorch back-end, same interface
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "sample", str(gru), "--seed", "3", "--length", "20"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and len(r.stdout) == 21, r.stderr


# ---------------------------------------------------------------- event models and held labels


def _save_events(tmp_path: Path, labels=("mode=major", "mode=minor", "key=C", "key=A")) -> Path:
    from genrnn.models.labels import label_fields
    from genrnn.tokenizers.midi_events import MidiEventTokenizer

    torch.manual_seed(0)
    tok = MidiEventTokenizer(labels)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=24, layers=2, dropout=0.0,
                                         **label_fields(tok)))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    path = tmp_path / "events.safetensors"
    save_model(path, model, tok, {"corpus": {"kind": "midi_events"}}, dtype=torch.bfloat16)
    return path


def test_both_back_ends_follow_a_labelled_event_model_under_the_grammar(tmp_path: Path):
    model = session.load_model(_save_events(tmp_path))
    primer = session.condition_ids(model, ["mode=minor", "key=A"])
    greedy = SampleConfig(temperature=0.0, max_note_seconds=0.5)
    ours = Stream(model.backend(), model.tokenizer, greedy)
    ours.prime(primer)
    theirs = torch_stream(model.module, model.tokenizer, greedy)
    theirs.prime(primer)
    assert ours.take(300) == theirs.take(300)
    assert ours.backend.slots.tolist() == [[2, 4]]  # mode=minor (slot 2) and key=A (slot 4) still held
    drawn = Stream(model.backend(), model.tokenizer, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.5))
    drawn.prime(primer)
    ids = drawn.take(1500)[0]
    assert not set(ids) & {0, 1, *model.config.cond_ids}  # no PAD, START or label mid-piece
    seq = model.tokenizer.decode(primer + ids)
    assert len(seq.notes) > 50 and max(n.end - n.start for n in seq.notes) <= 0.5 + 1e-6  # the cap held


def test_genrnn_sample_writes_a_midi_piece_without_torch(tmp_path: Path):
    import pretty_midi

    path = _save_events(tmp_path)
    code = ("import sys; from genrnn.cli import main; "
            f"rc = main(['sample', {str(path)!r}, '--seed', '3', '--seconds', '6', '--num', '2', "
            f"'--condition', 'mode=minor', '--out', {str(tmp_path / 'out')!r}]); "
            "print('torch loaded:', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "conditioned on mode=minor" in r.stderr and "of 2 samples match mode=minor" in r.stderr
    assert "torch loaded: False" in r.stderr
    for name in ("sample_001.mid", "sample_002.mid"):
        midi = pretty_midi.PrettyMIDI(str(tmp_path / "out" / name))
        notes = [n for inst in midi.instruments for n in inst.notes]
        assert notes and 5.0 < midi.get_end_time() <= 6.0 + 1e-6


def test_guided_streams_agree_on_both_back_ends(tmp_path: Path):
    from genrnn.music.metrics import time_at_polyphony

    path = _save_events(tmp_path, labels=("mode=major", "mode=minor", "key=C", "key=Am", "voices=3"))
    numpy_model, torch_model = session.load_model(path), session.load_model(path, step="torch")
    primer = session.condition_ids(numpy_model, ["mode=minor"])
    tokens = {}
    for w in (1.0, 2.5):
        cfg = SampleConfig(temperature=0.0, max_note_seconds=0.5, guidance=w)
        a, b = session.open_stream(numpy_model, cfg, primer), session.open_stream(torch_model, cfg, primer)
        assert type(a.backend).__name__ == "NumpyLstm" and type(b.backend).__name__ == "TorchStep"
        assert a.drawn_labels == b.drawn_labels == ["key=Am", "voices=3"]  # the key agrees with the mode
        assert (a.guide is not None) == (b.guide is not None) == (w != 1.0)
        tokens[w] = a.take(200)[0]
        assert tokens[w] == b.take(200)[0]
    assert tokens[1.0] != tokens[2.5]  # guidance changed the piece
    seq = numpy_model.tokenizer.decode(primer + tokens[2.5])
    assert seq.notes and len(time_at_polyphony(seq)) - 1 <= 3  # the drawn voices=3 holds
