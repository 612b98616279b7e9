"""The text pipeline through the real `genrnn` command: signals, errors, streaming, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genrnn.session import load_model

GENRNN = [sys.executable, "-m", "genrnn.cli"]


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*GENRNN, *args], capture_output=True, text=True, timeout=180, **kw)


def _start_training(text_file: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*GENRNN, "train", "--text", str(text_file), "--out", str(out), "--preset", "tiny",
                             "--time-budget", "120", "--checkpoint-interval", "0.5", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while not path.exists():
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_and_exits_zero(text_file, tmp_path, sig):
    proc = _start_training(text_file, tmp_path)
    _wait_for(tmp_path / "last.safetensors")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    last_line = err.strip().splitlines()[-1]
    assert "stopped at step" in last_line and "--resume" in last_line
    assert "Traceback" not in err
    ckpt = load_model(tmp_path / "last.safetensors")
    assert ckpt.training["steps"] > 0
    # And it resumes from there.
    resumed = run("train", "--resume", str(tmp_path), "--max-steps", str(ckpt.training["steps"] + 5),
                  "--time-budget", "1000")
    assert resumed.returncode == 0, resumed.stderr
    assert load_model(tmp_path / "last.safetensors").training["steps"] == ckpt.training["steps"] + 5


def test_kill_9_leaves_previous_checkpoint_loadable(text_file, tmp_path):
    proc = _start_training(text_file, tmp_path)
    _wait_for(tmp_path / "last.state.safetensors")
    time.sleep(1.5)  # several more checkpoint writes are under way
    proc.kill()
    proc.wait(timeout=30)
    ckpt = load_model(tmp_path / "last.safetensors")  # whatever the kill cut short, the last whole file loads
    assert ckpt.training["steps"] > 0
    # A writer killed mid-write leaves its temporary file (whether this kill did depends on timing,
    # so plant one from a process that is surely gone): the resumed run clears it, and only it.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f".last.safetensors.tmp{int(dead.stdout)}").write_bytes(b"half a checkpoint")
    (tmp_path / "notes.txt").write_text("mine")
    steps = ckpt.training["steps"]
    resumed = run("train", "--resume", str(tmp_path), "--max-steps", str(steps + 3), "--time-budget", "1000")
    assert resumed.returncode == 0, resumed.stderr
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert load_model(tmp_path / "last.safetensors").training["steps"] == steps + 3


def test_sample_streams_to_stdout_and_is_reproducible(tiny_run):
    a = run("sample", str(tiny_run), "--length", "300", "--seed", "11", "--prime", "KING:\n")
    b = run("sample", str(tiny_run), "--length", "300", "--seed", "11", "--prime", "KING:\n")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("KING:\n") and len(a.stdout) >= 300


def test_sample_num_out_writes_files(tiny_run, tmp_path):
    r = run("sample", str(tiny_run), "--num", "3", "--length", "50", "--seed", "2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("*.txt"))
    assert len(files) == 3 and all(len(f.read_text()) == 50 for f in files)


def test_info_and_eval(tiny_run, text_file):
    info = run("info", str(tiny_run / "best.safetensors"), "--json")
    data = json.loads(info.stdout)
    assert data["model_config"]["hidden"] == 48 and data["parameters"] > 0
    ev = run("eval", str(tiny_run), "--text", str(text_file), "--json")
    row = json.loads(ev.stdout)
    assert 0 < row["nats_per_token"] < 3 and abs(row["bits_per_token"] * 0.693147 - row["nats_per_token"]) < 1e-3


def _bad_inputs(tmp_path: Path, tiny_run: Path, text_file: Path) -> list[tuple[list[str], str]]:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"abc\xe9def")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    one = tmp_path / "one.txt"
    one.write_text("x")
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij" * 3)
    pickle_file = tmp_path / "model.safetensors"
    pickle_file.write_bytes(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    ck = str(tiny_run)
    return [
        (["train", "--text", str(latin), "--out", str(tmp_path / "r1"), "--max-steps", "2"], "byte offset 3"),
        (["train", "--text", str(empty), "--out", str(tmp_path / "r2"), "--max-steps", "2"], "empty"),
        (["train", "--text", str(one), "--out", str(tmp_path / "r3"), "--max-steps", "2"], "fewer than two distinct"),
        (["train", "--text", str(short), "--out", str(tmp_path / "r4"), "--max-steps", "2"], "shorter than one batch"),
        (["train", "--text", str(text_file), "--out", str(a_file), "--max-steps", "2"], "is a file"),
        (["sample", ck, "--prime", "KING ¤ Ω"], "'¤', 'Ω'"),
        (["sample", ck, "--temperature", "-1"], "temperature = -1.0"),
        (["sample", ck, "--top-p", "1.5"], "top_p = 1.5"),
        (["sample", ck, "--top-p", "0"], "top_p = 0.0"),
        (["sample", str(tmp_path / "missing.safetensors")], "no such checkpoint"),
        (["sample", str(pickle_file)], "not a safetensors file"),
        (["sample", ck, "--out", str(a_file)], "is a file"),
    ]


def test_bad_input_is_one_line_exit_2(tiny_run, text_file, tmp_path):
    for args, words in _bad_inputs(tmp_path, tiny_run, text_file):
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, (args, r.stderr)
        assert words in lines[0], (args, lines[0])


def test_out_folder_with_a_run_is_not_overwritten(tiny_run, text_file, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    r = run("train", "--text", str(text_file), "--out", str(run_dir), "--max-steps", "2")
    assert r.returncode == 2 and "--resume" in r.stderr
    assert os.path.exists(run_dir / "best.safetensors")


def test_tui_py_takes_the_tui_commands_options() -> None:
    """`python tui.py --help` prints the options (it used to open the app and ignore them)."""
    done = subprocess.run([sys.executable, "tui.py", "--help"], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "--runs DIR" in done.stdout and "--save-dir DIR" in done.stdout
