"""`genrnn compare | diagnose gradients | bench memory | inspect neurons`, and training and
sampling the `none` and `mingru` cells, end to end on tiny inputs (in-process for speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrnn.cli import main


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _assert_png(path: str | Path) -> None:
    from matplotlib.image import imread

    img = imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


def test_compare_trains_each_cell_and_plots(text_file, tmp_path, capsys):
    res = _json(capsys, "compare", "--cells", "lstm,none,mingru", "--text", str(text_file), "--time-budget", "1.5",
                "--preset", "tiny", "--out", str(tmp_path), "--threads", "1", "--json")
    assert [r["cell"] for r in res["runs"]] == ["lstm", "none", "mingru"]
    for r in res["runs"]:
        assert r["parameters"] > 0 and r["steps"] > 0 and r["best_val_loss"] is not None
        assert (tmp_path / r["cell"] / "metrics.jsonl").exists()
    _assert_png(res["plot"])


def test_compare_table(text_file, tmp_path, capsys):
    assert main(["compare", "--cells", "gru,none", "--text", str(text_file), "--time-budget", "1",
                 "--preset", "tiny", "--out", str(tmp_path), "--match-params", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "gru" in out and "val loss" in out and "loss_vs_time.png" in out


def test_diagnose_gradients_cells(text_file, tmp_path, capsys):
    plot = tmp_path / "g.png"
    res = _json(capsys, "diagnose", "gradients", "--cells", "lstm,rnn_tanh", "--text", str(text_file),
                "--steps", "5", "--window", "30", "--preset", "tiny", "--plot", str(plot), "--json")
    phases = {(p["cell"], p["phase"]) for p in res["profiles"]}
    assert ("lstm", "init") in phases and ("rnn_tanh", "trained, no clip") in phases
    assert len(res["profiles"]) == 6
    _assert_png(plot)


def test_diagnose_gradients_checkpoint(tiny_run, tmp_path, capsys):
    plot = tmp_path / "g.png"
    assert main(["diagnose", "gradients", str(tiny_run), "--window", "20", "--plot", str(plot)]) == 0
    assert "checkpoint" in capsys.readouterr().out
    _assert_png(plot)


def test_bench_memory(tmp_path, capsys):
    plot = tmp_path / "m.png"
    res = _json(capsys, "bench", "memory", "--lags", "5,10", "--cells", "lstm,none", "--time-per-cell", "2",
                "--plot", str(plot), "--json")
    assert {(r["cell"], r["lag"]) for r in res["results"]} == {("lstm", 5), ("lstm", 10), ("none", 5), ("none", 10)}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in res["results"])
    _assert_png(plot)


def test_inspect_neurons(tiny_run, text_file, tmp_path, capsys):
    page = tmp_path / "n.html"
    assert main(["inspect", "neurons", str(tiny_run), "--text", str(text_file), "--chars", "600",
                 "--top", "2", "--html", str(page), "--show", "80"]) == 0
    out = capsys.readouterr().out
    assert "position in line" in out and "HTML" in out
    html = page.read_text(encoding="utf-8")
    assert html.count("<span style='background:") >= 600 and "L0.c" in html


def test_bad_arguments_are_one_line_errors(text_file, capsys):
    assert main(["bench", "memory", "--lags", "0,x"]) == 2
    assert "--lags" in capsys.readouterr().err
    assert main(["compare", "--cells", "lstm,bogus", "--text", str(text_file), "--time-budget", "1"]) == 2
    assert "--cells" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["none", "mingru"])
def test_train_and_sample_cell(cell, text_file, tmp_path, capsys):
    out = tmp_path / cell
    assert main(["train", "--text", str(text_file), "--out", str(out), "--preset", "tiny", "--cell", cell,
                 "--max-steps", "40", "--threads", "1"]) == 0
    from genrnn.session import load_model

    assert load_model(out).config.cell == cell
    capsys.readouterr()
    assert main(["sample", str(out), "--length", "60", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) > 0
