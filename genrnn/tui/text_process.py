"""Text and ABC streams in their own process, so the screen never holds up the model.

In one process the stream's worker thread and Textual's UI thread share the GIL: the NumPy step
gives it up and takes it back some twenty times a token, and every frame Textual renders (~15 ms
of Python) made the stream wait, so the app streamed text at 0.6-0.87× `genrnn sample`'s rate
(benchmarks/README.md, "tui_rate.py"). Here the stream runs ``engine.run_text``, the very loop
the app used to run in a thread, in a child process (``python -m genrnn.tui.text_process``) that
lives as long as the app and keeps its models loaded. Nothing is pickled: the two talk in JSON
lines over the child's stdin and stdout.

    app → child   {"op": "generate", "request": {...}}   one take at a time
                  {"op": "settings", "settings": {...}}  applies to the very next token
                  {"op": "stop"}
    child → app   {"op": "start", "seed": S, "head": "…", "labels": […]} the stream is open
                  {"op": "chunk", "pieces": [[text, T], …], "tokens": [ids], "done": false,
                   "stopped": false}                     stopped: ended before its length
                  {"op": "error", "message": "…"}         the take failed (a bad primer, a model)

The child's stdout carries only these lines: anything a library prints goes to its stderr, whose
tail becomes the error if the child dies. It ends when its stdin closes (the app has gone).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from genrnn.config import SampleConfig, from_dict, to_dict
from genrnn.errors import GenrnnError
from genrnn.tui.engine import (
    Chunk,
    GenerateRequest,
    ModelCache,
    StreamControl,
    error_text,
    run_text,
)
from genrnn.tui.takes import Take

STDERR_TAIL = 2000  # characters of the child's stderr quoted when it dies
# The screen's share while text streams: each update costs Textual some milliseconds of CPU
# (~10 on the 2-core box), taken from the cores the model's matrix products run on. Chunks
# are merged and handed to the screen no more often than keeps the app's own CPU near this
# share of one core, and never less often than POST_INTERVAL's upper bound.
UI_CPU_SHARE = 0.05
POST_INTERVAL = (0.1, 0.5)  # seconds between screen updates: the bounds of the adaptive pace


class Pace:
    """When to hand the screen the next update: the process CPU used since the last one (its
    rendering included) over ``UI_CPU_SHARE`` is the next interval, within ``POST_INTERVAL``."""

    def __init__(self, share: float = UI_CPU_SHARE, bounds: tuple[float, float] = POST_INTERVAL) -> None:
        self.share, self.bounds = share, bounds
        self.interval = bounds[0]
        self._last, self._cpu = time.monotonic(), time.process_time()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

    def posted(self) -> None:
        cpu = time.process_time()
        self.interval = min(max((cpu - self._cpu) / self.share, self.bounds[0]), self.bounds[1])
        self._last, self._cpu = time.monotonic(), cpu


def request_json(req: GenerateRequest) -> dict[str, Any]:
    return {"path": str(req.path.resolve()), "name": req.name, "kind": req.kind, "settings": to_dict(req.settings),
            "length": req.length, "primer_text": req.primer_text, "conditions": list(req.conditions),
            "primer_file": None if req.primer_file is None else str(req.primer_file.resolve())}


def request_from_json(data: dict[str, Any]) -> GenerateRequest:
    return GenerateRequest(Path(data["path"]), data["name"], data["kind"], from_dict(SampleConfig, data["settings"]),
                           length=int(data["length"]), primer_text=data["primer_text"],
                           primer_file=None if data["primer_file"] is None else Path(data["primer_file"]),
                           conditions=tuple(data["conditions"]))


class TextProcess:
    """The app's side: starts the child on first use, runs one take at a time in it."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._run_lock = threading.Lock()  # one take at a time: the next waits for the last one's end
        self._write_lock = threading.Lock()  # the UI thread (settings, stop) and the worker both write
        self._loaded: set[Path] = set()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def loaded(self, path: Path) -> bool:
        return path.resolve() in self._loaded

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._closed:
            raise GenrnnError("the app is closing: no new takes")
        self._loaded.clear()
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self._proc = subprocess.Popen([sys.executable, "-m", "genrnn.tui.text_process"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, text=True, encoding="utf-8",
                                      bufsize=1)
        return self._proc

    def _send(self, proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
        with self._write_lock:
            self._write(proc, message)

    @staticmethod
    def _write(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):  # it died: the reader says why
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()

    def _died(self, proc: subprocess.Popen[str]) -> GenrnnError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        tail = ""
        if self._stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stderr.seek(0)
                tail = self._stderr.read()[-STDERR_TAIL:].strip()
        code = proc.returncode
        return GenrnnError(f"the text stream's process ended (exit code {code})" + (f":\n{tail}" if tail else ""))

    def run(self, req: GenerateRequest, take: Take, control: StreamControl, emit: Callable[[Chunk], None]) -> None:
        """Stream ``req`` into ``take`` in the child, emitting its chunks (merged, at ``Pace``'s
        interval) as they come; the last one has ``done``. Settings changes and stop on
        ``control`` go to the child at once."""

        def forward(op: str, settings: SampleConfig | None = None) -> None:
            self._send(proc, {"op": op} if settings is None else {"op": op, "settings": to_dict(settings)})

        with self._run_lock:
            proc = self._start()
            with self._write_lock:  # a change made meanwhile is in the request or follows it on the pipe
                control.listen(forward)
                req = dataclasses.replace(req, settings=control.settings)
                self._write(proc, {"op": "generate", "request": request_json(req)})
            if control.stop.is_set():  # stopped before it began
                forward("stop")
            try:
                self._receive(proc, req, take, control, emit)
            finally:
                control.listen(None)

    def _receive(self, proc: subprocess.Popen[str], req: GenerateRequest, take: Take, control: StreamControl,
                 emit: Callable[[Chunk], None]) -> None:
        assert proc.stdout is not None
        temperature = req.settings.temperature
        pace, chunk = Pace(), Chunk()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise self._died(proc)
            message = json.loads(line)
            op = message["op"]
            if op == "error":
                raise GenrnnError(message["message"])
            if op == "start":
                self._loaded.add(req.path.resolve())
                take.seed, take.text, take.labels = message["seed"], message["head"], message["labels"]
                continue
            chunk.tokens += len(message["tokens"])
            chunk.done = message["done"]
            take.tokens.extend(message["tokens"])
            for text, at in message["pieces"]:
                if at != temperature:  # as engine.run_text marks it: where the change took effect
                    take.marks.append((len(take.text), at))
                    temperature = at
                take.text += text
                chunk.add_text(text, at)
            if message.get("stopped"):  # ended early in the child (a stop, or the app closing)
                control.stop.set()
            if chunk.done or pace.due():
                emit(chunk)
                if chunk.done:
                    return
                chunk = Chunk()
                pace.posted()

    def close(self) -> None:
        """End the child (the app is closing); a take still streaming ends with an error."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.close()  # the child's signal to end
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# ------------------------------------------------------------------------------- the child


def serve(commands: IO[str], out: IO[str]) -> int:
    """The child's loop: read commands, stream each take through ``engine.run_text``."""
    cache = ModelCache()
    queued: list[tuple[GenerateRequest, StreamControl]] = []
    ready = threading.Condition()
    eof = threading.Event()

    def read() -> None:  # stdin, on its own thread: settings and stop reach a running take at once
        control: StreamControl | None = None  # the last take asked for: what settings and stop are about
        for line in commands:
            message = json.loads(line)
            if message["op"] == "generate":
                req = request_from_json(message["request"])
                control = StreamControl(req.settings)
                with ready:
                    queued.append((req, control))
                    ready.notify()
            elif control is not None and message["op"] == "settings":
                control.update(from_dict(SampleConfig, message["settings"]))
            elif control is not None and message["op"] == "stop":
                control.stop.set()
        eof.set()
        with ready:
            for _, waiting in queued:
                waiting.stop.set()
            if control is not None:
                control.stop.set()
            ready.notify()

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    threading.Thread(target=read, name="commands", daemon=True).start()
    while True:
        with ready:
            while not queued and not eof.is_set():
                ready.wait()
            if not queued:
                return 0
            req, control = queued.pop(0)
        _stream_take(cache, req, control, send)


def _stream_take(cache: Any, req: GenerateRequest, control: StreamControl,
                 send: Callable[[dict[str, Any]], None]) -> None:
    """One take in the child: ``engine.run_text``, its chunks and any error sent as lines."""
    take = Take(0, req.name, req.kind, req.settings.temperature)
    sent = 0

    def emit(chunk: Chunk) -> None:
        nonlocal sent
        tokens, sent = take.tokens[sent:], len(take.tokens)
        send({"op": "chunk", "pieces": chunk.pieces, "tokens": tokens, "done": chunk.done,
              "stopped": chunk.done and control.stop.is_set()})

    try:
        run_text(cache.get(req.path), req, take, control, emit, lambda: False,
                  opened=lambda t: send({"op": "start", "seed": t.seed, "head": t.text, "labels": t.labels}))
    except Exception as exc:  # a bad primer, a damaged model: the app shows it, the child lives on
        send({"op": "error", "message": error_text(exc)})


def main() -> int:
    # The protocol gets its own copy of stdout; fd 1 becomes stderr, so a stray print from any
    # library lands in the error log and never in the middle of a JSON line.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    commands = open(sys.stdin.fileno(), encoding="utf-8", closefd=False)  # noqa: SIM115
    return serve(commands, out)


if __name__ == "__main__":
    sys.exit(main())
