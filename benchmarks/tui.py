"""TUI figures, one JSON line: launch to first interactive frame, keypress-to-redraw p95 while a
stream is generating, and how many tokens/s the text pane keeps up with.

    python benchmarks/tui.py [RUN_DIR]      # RUN_DIR: a trained run (default: a tiny one, trained here)

Frames are counted where Textual hands a screen update to the driver (``App._display``), in a
headless app of 80×24; launch is measured in a fresh process from spawn to that first frame
with the model list filled.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = r"""
import asyncio, json, sys, time
from pathlib import Path
from genrnn.tui.app import GenrnnApp
from genrnn.tui.screens.generate import GenerateScreen

async def main():
    app = GenrnnApp(runs=[Path(sys.argv[1])], checkpoints=Path(sys.argv[2]))
    frames = []
    display = app._display
    def spy(screen, renderable):
        display(screen, renderable)
        if renderable is not None and isinstance(app.screen, GenerateScreen) and app.screen.entries:
            frames.append(time.time())
    app._display = spy
    async with app.run_test(size=(80, 24)) as pilot:
        while not frames:
            await asyncio.sleep(0.005)
        print(json.dumps({"first_frame": frames[0], "torch": "torch" in sys.modules}))
        app.exit()

asyncio.run(main())
"""


def tiny_run(base: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import make_text

    from genrnn import session

    text = base / "plays.txt"
    text.write_text(make_text(), encoding="utf-8")
    os.environ.setdefault("GENRNN_CACHE", str(base / "cache"))
    out = base / "tiny-run"
    trainer = session.make_trainer(session.prepare_corpus(text=text), "tiny", {"hidden": 48},
                                   {"max_steps": 150, "seed": 3, "threads": 1}, out)
    trainer.fit()
    return out


def launch_seconds(run: Path, empty: Path, repeats: int = 3) -> tuple[float, bool]:
    times, torch_loaded = [], False
    for _ in range(repeats):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, str(run), str(empty)], capture_output=True,
                             text=True, cwd=REPO, timeout=120, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(row["first_frame"] - start)
        torch_loaded |= row["torch"]
    return min(times), torch_loaded


async def interactive(run: Path, empty: Path) -> dict[str, Any]:
    from textual import events
    from textual.widgets import Input

    from genrnn.tui.app import GenrnnApp
    from genrnn.tui.engine import Chunk
    from genrnn.tui.messages import StreamChunk
    from genrnn.tui.takes import Take

    app = GenrnnApp(runs=[run], checkpoints=empty, save_dir=empty)
    frames: list[float] = []
    display = app._display

    def spy(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())

    app._display = spy  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        while not getattr(screen, "entries", None):
            await asyncio.sleep(0.01)
        screen.query_one("#length", Input).value = "10000000"
        screen.query_one("#models").focus()
        await pilot.press("g")
        while not (screen.takes and len(screen.takes[-1].text) > 200):
            await asyncio.sleep(0.01)
        # keypress → the frame that shows it, while the stream generates
        temperature = screen.query_one("#temperature", Input)
        latencies = []
        for i in range(60):
            key = "right_square_bracket" if i % 2 == 0 else "left_square_bracket"
            before = temperature.value
            event = events.Key(key, "]" if i % 2 == 0 else "[")
            event.set_sender(app)
            sent = time.perf_counter()
            app._driver.send_message(event)  # type: ignore[union-attr]
            while temperature.value == before:
                await asyncio.sleep(0.0005)
            changed = len(frames)
            while len(frames) == changed:
                await asyncio.sleep(0.0005)
            latencies.append(frames[-1] - sent)
            await asyncio.sleep(0.05)
        take = screen.takes[-1]
        live_chars, live_started = len(take.text), time.perf_counter()
        await asyncio.sleep(2.0)
        live_rate = (len(take.text) - live_chars) / (time.perf_counter() - live_started)
        await pilot.press("escape")
        while not take.done:
            await asyncio.sleep(0.01)
        # the text pane alone: 30 ms chunks offered at 20,000 tokens/s for 3 s
        fake = Take(99, "bench", "text", 0.8)
        screen._show(fake)
        view = screen.text_view
        offered, per_chunk, started = 0, 600, time.perf_counter()
        while time.perf_counter() - started < 3.0:
            chunk = Chunk()
            chunk.add_text(("to be or not to be, that is the question.\n" * 15)[:per_chunk], 0.8)
            screen.post_message(StreamChunk(fake, chunk))
            offered += per_chunk
            await asyncio.sleep(0.03)
        while view.chars < offered:
            await asyncio.sleep(0.005)
        pane_rate = view.chars / (time.perf_counter() - started)
    latencies.sort()
    return {"key_to_redraw_p50_ms": round(statistics.median(latencies) * 1e3, 1),
            "key_to_redraw_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1e3, 1),
            "live_generation_tok_s": round(live_rate),
            "text_pane_tok_s": round(pane_rate), "text_pane_offered_tok_s": 20000}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        empty = base / "empty"
        empty.mkdir()
        run = Path(sys.argv[1]) if len(sys.argv) > 1 else tiny_run(base)
        launch, torch_loaded = launch_seconds(run, empty)
        figures = asyncio.run(interactive(run, empty))
    row = {"launch_to_first_frame_s": round(launch, 3), "launch_imports_torch": torch_loaded, **figures,
           "targets": {"launch_s": 1.5, "key_to_redraw_p95_ms": 50, "text_pane_tok_s": 2000}}
    print(json.dumps(row))


if __name__ == "__main__":
    main()
