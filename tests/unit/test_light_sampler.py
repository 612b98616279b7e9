"""The torch-free sampler: the NumPy safetensors reader, LightStream against the PyTorch model,
and `genrnn sample` streaming a text LSTM without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genrnn import session
from genrnn.config import ModelConfig, SampleConfig
from genrnn.generation.light import LightStream, load_light
from genrnn.generation.stream import Generator
from genrnn.models.checkpoint_format import read_numpy
from genrnn.models.rnn import RNNLanguageModel
from genrnn.tokenizers.chars import CharTokenizer
from genrnn.training import checkpoint as ckpt

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
    ckpt.save_model(path, model, tok, {"corpus": {"kind": "text"}}, dtype=dtype)
    return path


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_numpy_reader_matches_safetensors_torch(tmp_path: Path, dtype):
    path = _save(tmp_path, dtype=dtype)
    meta, arrays = read_numpy(path)
    loaded = ckpt.load_model(path)
    assert meta["format"] == "genrnn-checkpoint"
    state = loaded.model.state_dict()
    assert set(arrays) == set(state)
    for name, value in arrays.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, state[name].numpy())


def test_light_stream_follows_the_pytorch_model(tmp_path: Path):
    path = _save(tmp_path)
    light = load_light(path)
    assert light is not None
    model = session.load_model(path)
    ids = model.encode_text(TEXT * 3)
    logits, _ = model.checkpoint.model(torch.tensor([ids]))
    stream = LightStream(light, SampleConfig(temperature=0.0))
    rows = []
    for t in ids:
        stream.prime([t])
        rows.append(stream.logits[0])
    np.testing.assert_allclose(np.stack(rows), logits[0].detach().numpy(), rtol=1e-4, atol=1e-4)
    # argmax continuation: the same text as the PyTorch Generator
    greedy = SampleConfig(temperature=0.0, seed=1)
    gen = Generator(model.checkpoint.model, model.tokenizer, greedy)
    gen.prime(ids[:10])
    stream = LightStream(light, greedy)
    stream.prime(ids[:10])
    assert [next(stream).token for _ in range(60)] == [step.token for _, step in zip(range(60), gen, strict=False)]


def test_same_seed_same_text_and_labels_never_drawn(tmp_path: Path):
    path = _save(tmp_path, labels=["file=a", "file=b"])
    light = load_light(path)
    assert light is not None
    runs = []
    for _ in range(2):
        stream = LightStream(light, SampleConfig(temperature=1.5, seed=7))
        stream.prime([light.tokenizer.label_id("file=b")])
        runs.append([next(stream).token for _ in range(400)])
    assert runs[0] == runs[1]
    assert max(runs[0]) < len(light.tokenizer.chars)


def test_other_cells_and_damaged_files_are_left_to_the_pytorch_path(tmp_path: Path):
    assert load_light(_save(tmp_path, cell="gru")) is None
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert load_light(broken) is None
    assert load_light(tmp_path / "missing.safetensors") is None


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
    gru = _save(tmp_path, cell="gru")  # not served by the light path: PyTorch's, same interface
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
    ckpt.save_model(path, model, tok, {"corpus": {"kind": "midi_events"}}, dtype=torch.bfloat16)
    return path


def test_light_stream_follows_a_labelled_event_model_under_the_grammar(tmp_path: Path):
    path = _save_events(tmp_path)
    light = load_light(path)
    assert light is not None and light.arrays.cond is not None
    model = session.load_model(path)
    primer = session.condition_ids(model, ["mode=minor", "key=A"])
    greedy = SampleConfig(temperature=0.0, max_note_seconds=0.5)
    gen = Generator(model.checkpoint.model, model.tokenizer, greedy)
    gen.prime(primer)
    stream = LightStream(light, greedy)
    stream.prime(primer)
    ours = [next(stream).token for _ in range(300)]
    assert ours == [step.token for _, step in zip(range(300), gen, strict=False)]
    assert stream.slots.tolist() == [[2, 4]]  # mode=minor (slot 2) and key=A (slot 4) still held
    drawn = LightStream(light, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.5))
    drawn.prime(primer)
    ids = [next(drawn).token for _ in range(1500)]
    assert not set(ids) & {0, 1, *light.config.cond_ids}  # no PAD, START or label mid-piece
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


def test_guided_light_stream_equals_the_guided_generator(tmp_path: Path):
    from genrnn.generation.light import open_light
    from genrnn.music.metrics import time_at_polyphony

    path = _save_events(tmp_path, labels=("mode=major", "mode=minor", "key=C", "key=Am", "voices=3"))
    light, model = load_light(path), session.load_model(path)
    primer = session.condition_ids(model, ["mode=minor"])
    tokens = {}
    for w in (1.0, 2.5):
        cfg = SampleConfig(temperature=0.0, max_note_seconds=0.5, guidance=w)
        a, b = open_light(light, cfg, primer), session.open_stream(model, cfg, primer)
        assert a.drawn_labels == b.drawn_labels == ["key=Am", "voices=3"]  # the key agrees with the mode
        assert (a.guide is not None) == (b.guide is not None) == (w != 1.0)
        ours = [next(a).token for _ in range(200)]
        assert ours == [step.token for _, step in zip(range(200), b, strict=False)]
        tokens[w] = ours
    assert tokens[1.0] != tokens[2.5]  # guidance changed the piece
    seq = model.tokenizer.decode(primer + tokens[2.5])
    assert seq.notes and len(time_at_polyphony(seq)) - 1 <= 3  # the drawn voices=3 holds
