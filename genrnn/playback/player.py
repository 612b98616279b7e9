"""One call to play: open a port by name, schedule a stream to it, close it cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from genrnn.music.notes import NoteSequence
from genrnn.playback.clock import Clock
from genrnn.playback.events import TimedMessage, sequence_events
from genrnn.playback.ports import Output, open_output
from genrnn.playback.scheduler import DEFAULT_LOOKAHEAD, PlaybackStats, Scheduler


def play_stream(
    events: Iterable[TimedMessage] | NoteSequence,
    port: str | Output,
    *,
    lookahead: float = DEFAULT_LOOKAHEAD,
    tempo_scale: float = 1.0,
    loop: bool = False,
    clock: Clock | None = None,
    soundfont: str | Path | None = None,
    scheduler: Scheduler | None = None,
) -> PlaybackStats:
    """Play a (possibly lazy, endless) stream to the port named ``port``; return the stats.

    The stream is pulled at most ``lookahead`` seconds ahead of the clock, so a generator
    produces while the music plays. Pass your own ``scheduler`` to stop it from another
    thread (``scheduler.stop()``) or change its tempo; its clock and lookahead then apply.
    The port is opened here and closed here, with every sounding note released, whatever
    happens. Raises PlaybackError for a bad port name or a port that fails.
    """
    if isinstance(events, NoteSequence):
        events = sequence_events(events)
    sched = scheduler or Scheduler(clock, lookahead=lookahead, tempo_scale=tempo_scale)
    if isinstance(port, Output):
        return sched.play(events, port, loop=loop)
    with open_output(port, soundfont=soundfont) as out:
        return sched.play(events, out, loop=loop)


@contextmanager
def stop_on_signals(scheduler: Scheduler) -> Iterator[list[str]]:
    """While inside, Ctrl-C and SIGTERM stop ``scheduler`` instead of killing the process.

    Yields a list that receives the names of the signals caught. Only the main thread can
    install handlers; elsewhere this does nothing.
    """
    caught: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        caught.append(signal.Signals(signum).name)
        scheduler.stop()

    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
