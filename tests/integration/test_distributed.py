"""Data-parallel training: 2 processes on gloo end with identical weights; rank 0 alone writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

HERE = Path(__file__).parent


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_two_gloo_ranks_hold_identical_weights(text_file, tmp_path):
    proc = _torchrun(str(HERE / "ddp_worker.py"), str(text_file), str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # They trained: weights moved away from a fresh model with the same seed.
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 12
    assert (tmp_path / "last.safetensors").exists()


def test_cli_under_torchrun(text_file, tmp_path):
    out = tmp_path / "run"
    proc = _torchrun("-m", "genrnn.cli", "train", "--text", str(text_file), "--out", str(out),
                     "--preset", "tiny", "--max-steps", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = subprocess.run([sys.executable, "-m", "genrnn.cli", "info", str(out), "--json"],
                          capture_output=True, text=True, check=True)
    record = json.loads(info.stdout)["training"]
    assert record["world_size"] == 2 and record["steps"] == 8
    # 2 ranks × 8 streams each: twice the tokens of one process.
    assert record["tokens"] == 8 * 2 * 8 * 32
