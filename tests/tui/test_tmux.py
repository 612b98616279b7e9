"""A scripted tmux run: start ``python tui.py`` as a user would, read the screen, quit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,  # ~10-20 s on a busy 2-core box
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True, timeout=30).stdout


def screen_text(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_screen(session: str, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = screen_text(session)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared on screen:\n{screen_text(session)}")


def test_tmux_start_read_quit(tiny_run: Path, tmp_path: Path) -> None:
    session = f"genrnn-tui-{os.getpid()}"
    env = f"GENRNN_RUNS={tiny_run} TERM=xterm-256color"
    command = f"cd {REPO} && {env} {sys.executable} tui.py; echo EXITED-$?; sleep 30"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        text = wait_screen(session, "temperature")
        assert "Models" in text and "Output" in text
        wait_screen(session, "tiny-run")
        tmux("send-keys", "-t", session, "g")
        wait_screen(session, "take #1 done", timeout=60)
        tmux("send-keys", "-t", session, "F1")
        wait_screen(session, "Help")
        tmux("send-keys", "-t", session, "Escape")
        tmux("send-keys", "-t", session, "C-q")
        wait_screen(session, "EXITED-0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=30)

