"""The terminal app's text rate against the CLI's, in a real terminal (issue 17). Last line: JSON.

    .venv/bin/python benchmarks/tui_rate.py [--chars 8000] [--runs 3] [--model checkpoints/shakespeare.safetensors]
    .venv/bin/python benchmarks/tui_rate.py --no-screen --runs 5   # the text process alone vs the CLI

CLI: `genrnn sample MODEL --length N --seed S` piped into a reader that times from the first
character to the last (start-up excluded). TUI: `python tui.py` in tmux at 120×36, take 1 (600
characters) loads the model, take 2 is N characters; its rate is what the app prints when the
take is done (tokens over the time from `g` to the last chunk); beside it, the app process's own
CPU seconds over that take (/proc/PID/stat: the screen's cost, the text process excluded). The
screen is read with `tmux capture-pane`; while take 2 runs, a plain capture every second, and a
capture after a resize (capture-pane can show a stale frame otherwise) only every tenth: a
resize makes the app repaint the whole screen, which the timed take should not pay for. Needs
tmux; run on a quiet machine. ``--no-screen``: the app's text process driven from here, with no
app at all, against the CLI.
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


def timed_take(process, model: Path, settings, length: int) -> list[tuple[float, int]]:  # noqa: ANN001
    """One text take in ``process``: (arrival time, characters so far) at each chunk."""
    from genrnn.tui.engine import GenerateRequest, StreamControl
    from genrnn.tui.takes import Take

    take, times = Take(1, model.stem, "text", settings.temperature), []
    process.run(GenerateRequest(model, model.stem, "text", settings, length=length), take, StreamControl(settings),
                lambda chunk: times.append((time.perf_counter(), len(take.text))))
    return times


def child_rate(model: Path, chars: int, seed: int) -> float:
    """The app's text process with no screen at all (``TextProcess`` driven from here): take 1
    (600 characters) loads the model, take 2's rate from its first chunk to its last, as the CLI
    reader times it."""
    from genrnn.config import SampleConfig
    from genrnn.tui.text_process import TextProcess

    process = TextProcess()
    try:
        settings = SampleConfig(temperature=0.8, seed=seed)
        timed_take(process, model, settings, 600)
        (t0, n0), *_, (t1, n1) = timed_take(process, model, settings, chars)
        return (n1 - n0) / (t1 - t0)
    finally:
        process.close()


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


def app_pid(runs_dir: Path) -> int:
    """The app's Python process (not the shell tmux started it from)."""
    found = subprocess.run(["pgrep", "-f", f"tui.py --runs {runs_dir}"], capture_output=True, text=True).stdout
    for pid in map(int, found.split()):
        if Path(f"/proc/{pid}/comm").read_text().startswith("python"):
            return pid
    raise RuntimeError(f"no app process for {runs_dir}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tui_rate(model: Path, chars: int, runs_dir: Path) -> tuple[float, float]:
    """(the app's tok/s for take 2, the app process's own CPU seconds from g to the end of it)."""
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
        pid = app_pid(runs_dir)
        cpu = cpu_seconds(pid)
        tmux("send-keys", "-t", session, "g")
        time.sleep(2.5)
        text = wait_screen(session, "take #2 done", 1.0, timeout=300, redraw_every=10)
        cpu = cpu_seconds(pid) - cpu
        found = re.search(r"take #2 done · ([\d,]+) chars · ([\d,]+) tok/s", text)
        if not found or int(found.group(1).replace(",", "")) != chars:
            raise RuntimeError(f"take 2 is not {chars} characters:\n{text}")
        tmux("send-keys", "-t", session, "C-q")
        return float(found.group(2).replace(",", "")), cpu
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "checkpoints" / "shakespeare.safetensors")
    parser.add_argument("--chars", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-screen", action="store_true",
                        help="the app's text process driven without the app, against the CLI (no tmux)")
    args = parser.parse_args()
    model = args.model.resolve()
    if args.no_screen:
        cli, child = [], []
        for run in range(args.runs):
            cli.append(cli_rate(model, args.chars, seed=run + 1))
            child.append(child_rate(model, args.chars, seed=run + 1))
            print(f"run {run + 1}: cli {cli[-1]:,.0f} tok/s, text process {child[-1]:,.0f} tok/s", file=sys.stderr)
        print(json.dumps({"model": model.name, "chars": args.chars, "cpu": cpu_model(), "cores": os.cpu_count(),
                          "cli_tok_s": [round(r) for r in cli], "text_process_tok_s": [round(r) for r in child],
                          "ratio_of_means": round(statistics.mean(child) / statistics.mean(cli), 3)}))
        return
    if shutil.which("tmux") is None:
        sys.exit("tui_rate.py needs tmux")
    cli, tui, app_cpu = [], [], []
    with tempfile.TemporaryDirectory() as empty:  # no training runs: the catalogue lists the shipped models
        for run in range(args.runs):
            cli.append(cli_rate(model, args.chars, seed=run + 1))
            rate, cpu = tui_rate(model, args.chars, Path(empty))
            tui.append(rate)
            app_cpu.append(cpu)
            print(f"run {run + 1}: cli {cli[-1]:,.0f} tok/s, tui {rate:,.0f} tok/s (app CPU {cpu:.2f} s)",
                  file=sys.stderr)
    print(json.dumps({"model": model.name, "chars": args.chars, "cpu": cpu_model(), "cores": os.cpu_count(),
                      "cli_tok_s": [round(r) for r in cli], "tui_tok_s": [round(r) for r in tui],
                      "tui_app_cpu_s": [round(c, 2) for c in app_cpu],
                      "ratio_of_means": round(statistics.mean(tui) / statistics.mean(cli), 3), "target": 0.9}))


if __name__ == "__main__":
    main()
