"""Playback figures: timing jitter to a socket receiver, offline render speed, generate-while-playing.

    python benchmarks/playback.py            # full: 60 s jitter, 3 min render, 2 min streaming
    python benchmarks/playback.py --quick    # a short smoke run of the same measurements

The last line printed is one JSON object. Targets (issue 5): jitter p99 <= 3 ms, render of a
3-minute multi-instrument file <= 10 s, first note <= 1 s and no underrun while streaming.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrnn.music.notes import Note, NoteSequence  # noqa: E402
from genrnn.playback import TimedMessage, play_stream, render_wav, sequence_events  # noqa: E402
from genrnn.playback.receiver import receiver_main  # noqa: E402
from genrnn.playback.scheduler import PlaybackStats, percentile  # noqa: E402

CTX = multiprocessing.get_context("spawn")
# (program, low pitch, high pitch, note lengths in beats)
PARTS = ((0, 60, 84, (0.5, 1.0)), (33, 36, 50, (1.0, 2.0)), (48, 55, 72, (2.0, 4.0)), (73, 72, 90, (0.25, 0.5)))


def synthetic_piece(seconds: float, seed: int = 0, bpm: float = 120.0) -> NoteSequence:
    """A multi-instrument piece: piano, bass, strings, flute and a drum kit on every beat."""
    rng = random.Random(seed)
    beat = 60.0 / bpm
    notes: list[Note] = []
    for program, low, high, lengths in PARTS:
        t = 0.0
        while t < seconds:
            length = rng.choice(lengths) * beat
            end = min(t + length * 0.95, seconds)
            notes.append(Note(rng.randint(low, high), rng.randint(60, 110), t, end, program=program))
            t += length
    for i in range(int(seconds / beat)):
        drum = 36 if i % 2 == 0 else 38
        notes += [Note(drum, 100, i * beat, i * beat + 0.1, is_drum=True), Note(42, 70, i * beat, i * beat + 0.05, is_drum=True)]
    return NoteSequence(notes)


class Receiver:
    """A socket receiver in another process."""

    def __init__(self) -> None:
        self.ready, self.results = CTX.Queue(), CTX.Queue()
        self.proc = CTX.Process(target=receiver_main, args=(self.ready, self.results, 600.0))
        self.proc.start()
        self.address = f"127.0.0.1:{self.ready.get(timeout=60)}"

    def received(self) -> list[tuple[float, list[int]]]:
        got = self.results.get(timeout=60)
        self.proc.join(timeout=10)
        return got


def arrival_lateness(events: list[TimedMessage], stats: PlaybackStats, got: list, scale: float = 1.0) -> list[float]:
    """Received time minus scheduled time, per message, in seconds (same monotonic clock)."""
    assert stats.origin is not None
    return [arrived - (stats.origin + ev.time / scale) for ev, (arrived, _) in zip(events, got, strict=False)]


def ms(x: float) -> float:
    return round(x * 1e3, 3)


def bench_jitter(seconds: float) -> dict[str, float | int]:
    events = sequence_events(synthetic_piece(seconds, seed=1))
    receiver = Receiver()
    stats = play_stream(events, receiver.address)
    late = arrival_lateness(events, stats, receiver.received())
    return {
        "jitter_piece_s": seconds,
        "jitter_messages": len(late),
        "jitter_p50_ms": ms(percentile(late, 50)),
        "jitter_p99_ms": ms(percentile(late, 99)),
        "jitter_max_ms": ms(max(late)),
    }


def bench_render(seconds: float) -> dict[str, float | int]:
    from genrnn.music.midi_io import write_midi

    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "piece.mid"
        write_midi(synthetic_piece(seconds, seed=2), mid)
        started = time.perf_counter()
        result = render_wav(mid, Path(tmp) / "piece.wav")
        elapsed = time.perf_counter() - started
    return {"render_piece_s": round(result.seconds, 2), "render_s": round(elapsed, 3), "render_speed_x": round(result.seconds / elapsed, 1)}


def slow_generator(events: Iterable[TimedMessage], first_delay: float = 0.3, per_event: float = 0.004) -> Iterator[TimedMessage]:
    """Emulates a model: a priming pause, then some milliseconds of work before each event."""
    time.sleep(first_delay)
    for ev in events:
        time.sleep(per_event)
        yield ev


def generate_while_playing(source: Iterator[TimedMessage], seconds: float, port: str | None = None) -> dict[str, float | int | bool]:
    """Play any lazy TimedMessage iterator for ``seconds`` of music; first-note delay, underruns, jitter.

    With ``port`` None a socket receiver process is started and arrival jitter is measured too.
    """
    kept: list[TimedMessage] = []

    def limited() -> Iterator[TimedMessage]:
        for ev in source:
            if ev.time > seconds:
                return
            kept.append(ev)
            yield ev

    receiver = Receiver() if port is None else None
    started = time.perf_counter()
    stats = play_stream(limited(), port or receiver.address)  # type: ignore[union-attr]
    result: dict[str, float | int | bool] = {
        "stream_music_s": seconds,
        "stream_wall_s": round(time.perf_counter() - started, 2),
        "stream_first_note_s": round(stats.first_note_delay or -1.0, 3),
        "stream_underruns": stats.underruns,
        "stream_worst_underrun_ms": ms(stats.worst_underrun),
    }
    if receiver is not None:
        late = arrival_lateness(kept, stats, receiver.received())
        result.update(stream_jitter_p50_ms=ms(percentile(late, 50)), stream_jitter_p99_ms=ms(percentile(late, 99)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s jitter, 30 s render, 15 s streaming")
    args = parser.parse_args()
    jitter_s, render_s, stream_s = (10.0, 30.0, 15.0) if args.quick else (60.0, 180.0, 120.0)
    figures: dict[str, object] = {"benchmark": "playback", "quick": args.quick, "machine": platform.machine()}
    figures.update(bench_render(render_s))
    print(f"render: {figures}", file=sys.stderr)
    figures.update(bench_jitter(jitter_s))
    print(f"jitter: {figures}", file=sys.stderr)
    piece = sequence_events(synthetic_piece(stream_s + 1, seed=3))
    figures.update(generate_while_playing(slow_generator(piece), stream_s))
    figures["targets_met"] = bool(
        figures["jitter_p99_ms"] <= 3.0  # type: ignore[operator]
        and figures["render_s"] <= 10.0 * render_s / 180.0  # type: ignore[operator]
        and 0 <= figures["stream_first_note_s"] <= 1.0  # type: ignore[operator]
        and figures["stream_underruns"] == 0
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
