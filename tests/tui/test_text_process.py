"""Text streams in their own process (genrnn.tui.text_process): the same take as in a thread,
settings and stop that reach the child mid-stream, a child that dies, and a clean close."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from genrnn.config import SampleConfig
from genrnn.errors import GenrnnError
from genrnn.tui.engine import Chunk, GenerateRequest, ModelCache, StreamControl, run_generation
from genrnn.tui.takes import Take
from genrnn.tui.text_process import TextProcess


@pytest.fixture
def text_process():
    process = TextProcess()
    yield process
    process.close()


def generate(process: TextProcess | None, path: Path, settings: SampleConfig, length: int,
             control: StreamControl | None = None, emit=None) -> tuple[Take, list[Chunk]]:  # noqa: ANN001
    take, chunks = Take(1, "tiny", "text", settings.temperature), []

    def record(chunk: Chunk) -> None:
        chunks.append(chunk)
        if emit is not None:
            emit(take)

    run_generation(GenerateRequest(path, "tiny", "text", settings, length=length), take,
                   control or StreamControl(settings), ModelCache(), record, text_process=process)
    return take, chunks


def test_the_child_streams_the_take_a_thread_would(tiny_run: Path, text_process: TextProcess) -> None:
    settings = SampleConfig(temperature=0.9, top_k=20, seed=11)
    assert not text_process.loaded(tiny_run)
    theirs, chunks = generate(text_process, tiny_run, settings, 400)
    ours, _ = generate(None, tiny_run, settings, 400)
    assert theirs.text == ours.text and theirs.tokens == ours.tokens and len(theirs.text) >= 400
    assert theirs.seed == 11 and theirs.done and not theirs.stopped
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])
    assert "".join(text for c in chunks for text, _ in c.pieces) == theirs.text
    assert sum(c.tokens for c in chunks) == len(theirs.tokens)
    assert text_process.loaded(tiny_run) and text_process.pid is not None
    again, _ = generate(text_process, tiny_run, settings, 400)  # the same child, the model kept
    assert again.text == theirs.text


def test_settings_and_stop_reach_the_child_mid_stream(tiny_run: Path, text_process: TextProcess) -> None:
    settings = SampleConfig(temperature=0.8, seed=3)
    control = StreamControl(settings)
    steps: list[str] = []

    def steer(take: Take) -> None:  # on the chunks' thread, as the UI thread would
        if len(take.text) > 100 and not steps:
            steps.append("hot")
            control.update(SampleConfig(temperature=1.5, seed=3))
        elif take.marks and len(take.text) > take.marks[0][0] + 200 and len(steps) == 1:
            steps.append("stop")
            control.halt()

    take, _ = generate(text_process, tiny_run, settings, 10_000_000, control, steer)
    assert steps == ["hot", "stop"]
    assert take.done and take.stopped
    assert [t for _, t in take.marks] == [1.5] and 100 < take.marks[0][0] < len(take.text)
    assert len(take.text) < 1_000_000


def test_a_child_that_dies_fails_the_take_and_the_next_one_starts_afresh(tiny_run: Path,
                                                                        text_process: TextProcess) -> None:
    settings = SampleConfig(temperature=0.8, seed=5)
    killed: list[int] = []

    def kill(take: Take) -> None:
        if not killed and text_process.pid is not None:
            killed.append(text_process.pid)
            os.kill(text_process.pid, signal.SIGKILL)

    with pytest.raises(GenrnnError, match="text stream's process ended"):
        generate(text_process, tiny_run, settings, 10_000_000, emit=kill)
    take, _ = generate(text_process, tiny_run, settings, 200)
    assert len(take.text) >= 200 and take.done and text_process.pid not in (None, killed[0])


def test_a_bad_primer_is_the_takes_error_and_the_child_lives_on(tiny_run: Path, text_process: TextProcess,
                                                                 tmp_path: Path) -> None:
    settings = SampleConfig(seed=1)
    take = Take(1, "tiny", "text", 0.8)
    bad = GenerateRequest(tiny_run, "tiny", "text", settings, length=50, primer_file=tmp_path / "tune.mid")
    with pytest.raises(GenrnnError, match="tune.mid: a MIDI primer needs a MIDI-events model"):
        run_generation(bad, take, StreamControl(settings), ModelCache(), lambda chunk: None, text_process=text_process)
    pid = text_process.pid
    good, _ = generate(text_process, tiny_run, settings, 50)
    assert len(good.text) >= 50 and text_process.pid == pid


def test_close_ends_the_child_and_a_take_in_flight(tiny_run: Path) -> None:
    process = TextProcess()
    settings = SampleConfig(seed=2)
    result: dict[str, object] = {}

    def long_take() -> None:
        try:
            result["take"] = generate(process, tiny_run, settings, 10_000_000)[0]
        except GenrnnError as exc:
            result["error"] = exc

    worker = threading.Thread(target=long_take)
    worker.start()
    deadline = time.monotonic() + 60
    while not process.loaded(tiny_run) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = process.pid
    assert pid is not None
    process.close()
    worker.join(timeout=30)
    assert not worker.is_alive()
    take = result.get("take")
    assert take is None or (take.done and take.stopped)  # ended by the child, or cut off
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped
    with pytest.raises(GenrnnError, match="closing"):
        generate(process, tiny_run, settings, 10)
