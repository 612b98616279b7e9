"""The terminal app's text rate against the CLI's, in a real terminal (issue 17). Last line: JSON.

    .venv/bin/python benchmarks/tui_rate.py [--chars 8000] [--runs 3] [--model checkpoints/shakespeare.safetensors]

CLI: `genrnn sample MODEL --length N --seed S` piped into a reader that times from the first
character to the last (start-up excluded). TUI: `python tui.py` in tmux at 120×36, take 1 (600
characters) loads the model, take 2 is N characters; its rate is what the app prints when the
take is done (tokens over the time from `g` to the last chunk). The screen is read with
`tmux capture-pane`; while take 2 runs, a plain capture every second, and a capture after a
resize (capture-pane can show a stale frame otherwise) only every tenth: a resize makes the app
repaint the whole screen, which the timed take should not pay for. Needs tmux; run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genrnn.machine import cpu_model  # noqa: E402

READER = r"""
import sys, time
first, n = None, 0
while True:
    b = sys.stdin.buffer.read(64)
    if not b:
        break
    if first is None:
        first = time.perf_counter()
    n += len(b)
print(n / (time.perf_counter() - first))
"""


def cli_rate(model: Path, chars: int, seed: int) -> float:
    sample = subprocess.Popen([sys.executable, "-m", "genrnn", "sample", str(model), "--length", str(chars),
                               "--seed", str(seed)], cwd=REPO, stdout=subprocess.PIPE)
    reader = subprocess.run([sys.executable, "-c", READER], stdin=sample.stdout, capture_output=True, text=True,
                            timeout=600, check=True)
    sample.wait(timeout=60)
    return float(reader.stdout)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30, check=True).stdout


def screen(session: str, redraw: bool = True) -> str:
    if redraw:  # a resize makes the app repaint everything: no stale frame in the capture
        tmux("resize-window", "-t", session, "-x", "121", "-y", "36")
        time.sleep(0.2)
        tmux("resize-window", "-t", session, "-x", "120", "-y", "36")
        time.sleep(0.3)
    return tmux("capture-pane", "-p", "-t", session)


def wait_screen(session: str, needle: str, every: float, timeout: float = 60, redraw_every: int = 1) -> str:
    """Poll the screen for ``needle``; a forced repaint (a resize) only every ``redraw_every``
    polls, so that while a take is timed the polling does not make the app repaint."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        text = screen(session, redraw=polls % redraw_every == 0)
        if needle in text:
            return text
        time.sleep(every)
    raise RuntimeError(f"{needle!r} never appeared:\n{screen(session)}")


def tui_rate(model: Path, chars: int, runs_dir: Path) -> float:
    session = f"genrnn-rate-{os.getpid()}"
    command = (f"cd {REPO} && TERM=xterm-256color {sys.executable} tui.py --runs {runs_dir} "
               f"--checkpoints {model.parent}; sleep 5")
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", command)
    try:
        wait_screen(session, model.stem, 0.5)
        time.sleep(1.0)
        tmux("send-keys", "-t", session, "g")  # take 1: the model loads
        wait_screen(session, "take #1 done", 0.5, timeout=120)
        time.sleep(0.5)
        for _ in range(4):  # the models list → temperature, top-k, top-p, length
            tmux("send-keys", "-t", session, "Tab")
            time.sleep(0.2)
        tmux("send-keys", "-t", session, "End", "C-u")
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "-l", str(chars))
        time.sleep(0.3)
        wait_screen(session, f"length       {chars}", 0.5, timeout=10)  # typed where it belongs
        for _ in range(4):
            tmux("send-keys", "-t", session, "BTab")
            time.sleep(0.2)
        tmux("send-keys", "-t", session, "g")
        time.sleep(2.5)
        text = wait_screen(session, "take #2 done", 1.0, timeout=300, redraw_every=10)
        found = re.search(r"take #2 done · ([\d,]+) chars · ([\d,]+) tok/s", text)
        if not found or int(found.group(1).replace(",", "")) != chars:
            raise RuntimeError(f"take 2 is not {chars} characters:\n{text}")
        tmux("send-keys", "-t", session, "C-q")
        return float(found.group(2).replace(",", ""))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "shakespeare.safetensors")
    parser.add_argument("--chars", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tui_rate.py needs tmux")
    model = args.model.resolve()
    cli, tui = [], []
    with tempfile.TemporaryDirectory() as empty:  # no training runs: the catalogue lists the shipped models
        for run in range(args.runs):
            cli.append(cli_rate(model, args.chars, seed=run + 1))
            tui.append(tui_rate(model, args.chars, Path(empty)))
            print(f"run {run + 1}: cli {cli[-1]:,.0f} tok/s, tui {tui[-1]:,.0f} tok/s", file=sys.stderr)
    print(json.dumps({"model": model.name, "chars": args.chars, "cpu": cpu_model(), "cores": os.cpu_count(),
                      "cli_tok_s": [round(r) for r in cli], "tui_tok_s": [round(r) for r in tui],
                      "ratio_of_means": round(statistics.mean(tui) / statistics.mean(cli), 3), "target": 0.9}))


if __name__ == "__main__":
    main()
