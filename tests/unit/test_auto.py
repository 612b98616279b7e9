"""``--preset auto``: calibration, the fitted loss model, the choice (genrnn/training/auto.py)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from genrnn.training import auto
from genrnn.training.auto import Measurement, choose, count_params, fit_loss_model, predict_loss

CPU = torch.device("cpu")


def test_count_params_matches_the_real_model():
    from genrnn.config import ModelConfig
    from genrnn.models.rnn import RNNLanguageModel

    model = RNNLanguageModel(ModelConfig(vocab_size=65, hidden=96, layers=2, embed=64, dropout=0.0))
    non_embedding = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("embed"))
    assert count_params(65, 96, 2, 64) == non_embedding


def test_the_fit_recovers_a_known_loss_model():
    truth = {"E": 1.1, "A": 40.0, "alpha": 0.5, "B": 300.0, "beta": 0.4, "R_star": 6.0}
    rows = [{"params": n, "tokens": d, "corpus_tokens": u, "val_loss": predict_loss(n, d, u, truth)}
            for n in (2e5, 8e5, 3e6) for d in (1e6, 4e6, 1.6e7) for u in (1e5, 1e6)]
    fit = fit_loss_model(rows)
    assert fit["rmse"] < 0.002, fit
    for n, d, u in ((5e5, 2e6, 1e6), (1.5e6, 3e7, 3e5)):  # between and beyond the data
        assert predict_loss(n, d, u, fit["loss_model"]) == pytest.approx(predict_loss(n, d, u, truth), abs=0.01)


def test_repeated_data_is_worth_less_than_fresh():
    m = auto.LOSS_MODEL
    fresh = predict_loss(1e6, 8e6, 1e8, m)
    repeated = predict_loss(1e6, 8e6, 1e6, m)  # 8 passes over one million tokens
    assert repeated > fresh
    assert auto.effective_tokens(8e6, 1e6, m["R_star"]) < 8e6


def _table(fp32: dict[int, float], bf16: dict[int, float]) -> list[Measurement]:
    return ([Measurement(h, "fp32", v) for h, v in fp32.items()] + [Measurement(h, "bf16", v) for h, v in bf16.items()])


def test_bf16_is_chosen_only_where_it_measured_faster():
    kw = {"time_budget": 150.0, "max_steps": None, "batch": 32, "seq_len": 128}
    slow_bf16 = choose(_table({192: 20_000}, {192: 12_000}), 65, 1_000_000, **kw)
    assert slow_bf16.dtype == "fp32" and "fp32 measured 1.67× bf16" in slow_bf16.reason
    fast_bf16 = choose(_table({192: 20_000}, {192: 45_000}), 65, 1_000_000, **kw)
    assert fast_bf16.dtype == "bf16"


def test_a_longer_budget_never_picks_a_narrower_model():
    measured = _table({128: 60_000, 192: 35_000, 256: 22_000, 384: 11_000, 512: 6_500}, {})
    widths = [choose(measured, 65, 1_000_000, time_budget=t, max_steps=None, batch=32, seq_len=128).hidden
              for t in (10, 60, 150, 900, 5000)]
    assert widths == sorted(widths) and widths[0] < widths[-1], widths


def test_a_run_that_repeats_its_corpus_many_times_is_regularised():
    measured = _table({256: 30_000, 512: 15_000}, {})
    kw = {"max_steps": None, "batch": 32, "seq_len": 64}
    short = choose(measured, 65, 1_000_000, time_budget=150.0, **kw)  # ~4 passes: as it was
    assert (short.dropout, short.ema) == (0.0, 0.0) and "weight average" not in short.reason
    long = choose(measured, 65, 1_000_000, time_budget=900.0, **kw)
    assert (long.dropout, long.ema) == (auto.LONG_RUN_DROPOUT, auto.LONG_RUN_EMA)
    assert "dropout 0.3 and a weight average (0.999)" in long.reason
    big = choose(measured, 65, 100_000_000, time_budget=900.0, **kw)  # a large corpus is seen once
    assert big.dropout == 0.0


def test_failed_and_unmeasured_candidates_are_never_chosen():
    measured = [Measurement(128, "fp32", 30_000), Measurement(128, "bf16", None, "failed: no LSTM primitive"),
                Measurement(512, "fp32", None, "not measured: the calibration's time was up")]
    c = choose(measured, 65, 1_000_000, time_budget=150.0, max_steps=None, batch=32, seq_len=128)
    assert (c.hidden, c.dtype) == (128, "fp32") and "failed here" in c.reason
    with pytest.raises(Exception, match="no candidate could be measured"):
        choose(measured[1:], 65, 1_000_000, time_budget=150.0, max_steps=None, batch=32, seq_len=128)


def test_calibration_measures_real_steps_and_is_cached_per_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "CPU_WIDTHS", (16, 24))
    monkeypatch.setattr(auto, "_busy", lambda: False)
    first, cached = auto.calibrate(40, CPU, ["fp32"], seconds=30.0, cache_dir=tmp_path)
    assert not cached and [(m.hidden, m.dtype) for m in first] == [(16, "fp32"), (24, "fp32")]
    assert all(m.tok_s and m.tok_s > 100 for m in first)
    monkeypatch.setattr(auto, "_time_candidate", lambda *a, **k: pytest.fail("measured again"))
    again, cached = auto.calibrate(40, CPU, ["fp32"], seconds=30.0, cache_dir=tmp_path)
    assert cached and again == first
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # another kind of CPU: its own calibration
    monkeypatch.setattr(auto, "_time_candidate", lambda *a, **k: 1234.0)
    other, cached = auto.calibrate(40, CPU, ["fp32"], seconds=30.0, cache_dir=tmp_path)
    assert not cached and other[0].tok_s == 1234.0


def test_a_candidate_that_fails_here_is_recorded_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "CPU_WIDTHS", (16,))

    def fake(vocab, hidden, dtype, *rest):
        if dtype == "bf16":
            raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive")
        return 5000.0

    monkeypatch.setattr(auto, "_time_candidate", fake)
    out, _ = auto.calibrate(40, CPU, ["fp32", "bf16"], seconds=30.0, cache_dir=tmp_path)
    assert out[0].tok_s == 5000.0 and out[1].tok_s is None and "primitive descriptor" in out[1].note


def test_train_without_a_preset_calibrates_chooses_and_records_why(text_file, tmp_path):
    env = {**os.environ, "GENRNN_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "train", "--text", str(text_file), "--out", str(out),
                        "--max-steps", "3", "--batch-size", "4", "--seq-len", "16"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "auto: LSTM 2×" in r.stderr and "predicted val loss" in r.stderr
    from genrnn.models.info import read_info

    info = read_info(out / "last.safetensors")
    record = info.training["auto"]
    assert info.training["preset"] == "auto" and record["hidden"] == info.config.hidden
    assert record["reason"] in r.stderr and {row["hidden"] for row in record["table"]} >= {record["hidden"]}
    # an explicit flag still wins: the width given by hand, auto picks only the dtype
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "train", "--text", str(text_file), "--out", str(out),
                        "--force", "--max-steps", "2", "--batch-size", "4", "--seq-len", "16", "--hidden", "40",
                        "--dtype", "fp32"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    info = read_info(out / "last.safetensors")
    assert info.config.hidden == 40 and info.training["auto"]["dtype"] == "fp32"
    assert json.loads(json.dumps(info.training["auto"]))  # JSON-able, as the run record must be


def test_under_an_avx2_cap_the_dtype_is_one_that_runs(text_file, tmp_path):
    """ONEDNN_MAX_CPU_ISA=AVX2 emulates a CPU without AVX-512/AMX. The bf16 flag stays set but
    oneDNN has no bf16 LSTM then: `--dtype auto` used to pick bf16 and crash."""
    env = {**os.environ, "GENRNN_CACHE": str(tmp_path / "cache"), "ONEDNN_MAX_CPU_ISA": "AVX2",
           "ATEN_CPU_CAPABILITY": "avx2"}
    r = subprocess.run([sys.executable, "-m", "genrnn.cli", "train", "--text", str(text_file), "--out",
                        str(tmp_path / "run"), "--preset", "tiny", "--max-steps", "2"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
