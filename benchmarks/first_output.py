"""Issue 8's figure: seconds from `genrnn sample checkpoints/X.safetensors --seed 1` starting to
its first byte of output (stdout or stderr), for each shipped model, twice each (the first run
may read the file cold). Last line: one JSON object.

    .venv/bin/python benchmarks/first_output.py
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENRNN = [sys.executable, "-m", "genrnn.cli"]


def first_output(checkpoint: Path, cwd: str) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([*GENRNN, "sample", str(checkpoint), "--seed", "1"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    first = None
    while first is None and proc.poll() is None:
        for key, _ in sel.select(timeout=0.05):
            if key.fileobj.read1(1 << 16):
                first = time.perf_counter() - start
                break
    proc.communicate()
    return first if first is not None else float("nan"), time.perf_counter() - start, proc.returncode


def main() -> None:
    rows = {}
    with tempfile.TemporaryDirectory() as cwd:  # music samples land in the current folder
        for name in ("shakespeare", "bach", "folk"):
            runs = [first_output(REPO / "checkpoints" / f"{name}.safetensors", cwd) for _ in range(2)]
            for first, total, rc in runs:
                print(f"{name}: first output {first:.2f} s, exit {rc} after {total:.2f} s")
            rows[name] = {"first_output_s": [round(r[0], 3) for r in runs], "total_s": [round(r[1], 3) for r in runs],
                          "exit": [r[2] for r in runs]}
    print(json.dumps({"benchmark": "first_output", "target_s": 1.0, "models": rows,
                      "passes": all(max(r["first_output_s"]) <= 1.0 and not any(r["exit"]) for r in rows.values())}))


if __name__ == "__main__":
    main()
