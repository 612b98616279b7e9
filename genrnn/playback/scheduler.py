"""The real-time scheduler: timed messages out to a port, on time, never a hanging note.

The source may be a list (a file) or a lazy, endless iterator (a model generating while it
plays). The scheduler pulls from it only up to ``lookahead`` seconds ahead of the clock, so a
generator produces as the music advances, and it calls ``next()`` only when no message is
due sooner than the slowest recent ``next()`` took, so generation does not delay sends.
Everything runs on the calling thread; ``stop()`` and ``set_tempo_scale()`` may be called
from any other thread (a signal handler, the TUI).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import mido

from genrnn.errors import PlaybackError
from genrnn.playback.clock import Clock, RealClock
from genrnn.playback.events import TimedMessage
from genrnn.playback.ports import CleanupReport, MidiSink, Output
from genrnn.playback.priority import ThreadPriority, realtime_priority

DEFAULT_LOOKAHEAD = 0.5
DEFAULT_PREROLL = 0.05  # time zero of the piece is this long after the first event arrives
POLL = 0.05  # longest sleep between looks at stop() and tempo changes
PULL_MARGIN = 0.002
LATENESS_KEPT = 200_000


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ranked = sorted(values)
    index = min(len(ranked) - 1, max(0, round(q / 100 * (len(ranked) - 1))))
    return ranked[index]


@dataclass
class PlaybackStats:
    """What happened: messages sent, how late, underruns, and how it ended."""

    sent: int = 0
    notes: int = 0  # note_ons sent
    muted: int = 0  # note_ons a gated output held back (playback.gate), set by its caller
    underruns: int = 0  # events the source delivered after their time had come
    worst_underrun: float = 0.0  # seconds
    first_note_delay: float | None = None  # seconds from play() to the first note_on
    origin: float | None = None  # clock time of piece time zero (at the starting tempo)
    duration: float = 0.0  # seconds play() ran
    passes: int = 0  # times the source was played through (loop)
    stopped: bool = False  # ended by stop() rather than by the source running out
    realtime: bool = False  # the sending thread ran under SCHED_FIFO
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=LATENESS_KEPT))
    cleanup: CleanupReport | None = None

    @property
    def late_p50(self) -> float:
        return percentile(list(self.lateness), 50)

    @property
    def late_p99(self) -> float:
        return percentile(list(self.lateness), 99)

    @property
    def late_max(self) -> float:
        return max(self.lateness, default=0.0)

    def summary(self) -> dict[str, float | int | bool | None]:
        return {
            "sent": self.sent,
            "notes": self.notes,
            "underruns": self.underruns,
            "worst_underrun_ms": round(self.worst_underrun * 1e3, 3),
            "late_p50_ms": round(self.late_p50 * 1e3, 3),
            "late_p99_ms": round(self.late_p99 * 1e3, 3),
            "late_max_ms": round(self.late_max * 1e3, 3),
            "first_note_delay_s": None if self.first_note_delay is None else round(self.first_note_delay, 4),
            "duration_s": round(self.duration, 3),
            "passes": self.passes,
            "stopped": self.stopped,
            "realtime": self.realtime,
        }


def _passes(events: Iterable[TimedMessage], loop: bool, stats: PlaybackStats) -> Iterator[TimedMessage]:
    """The source once, or (loop) again and again, each pass shifted to follow the last."""
    offset = 0.0
    while True:
        last = 0.0
        for ev in events:
            last = max(last, ev.time)
            yield TimedMessage(ev.time + offset, ev.msg) if offset else ev
        stats.passes += 1
        if not loop or last <= 0.0:
            return
        offset += last


class Scheduler:
    """Sends timed messages at their time on ``clock``; see the module docstring."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        lookahead: float = DEFAULT_LOOKAHEAD,
        tempo_scale: float = 1.0,
        preroll: float = DEFAULT_PREROLL,
        realtime: bool | None = None,
    ) -> None:
        """``realtime``: run the sending thread under SCHED_FIFO where the OS allows it
        (default: with the real clock); the source is always pulled at normal priority."""
        if lookahead < 0:
            raise PlaybackError(f"lookahead {lookahead}: expected 0 seconds or more")
        self.clock: Clock = clock or RealClock()
        self.lookahead = lookahead
        self.preroll = preroll
        self.tempo_scale = _check_scale(tempo_scale)
        self._wanted_scale = self.tempo_scale
        self._stop = threading.Event()
        self.realtime = isinstance(self.clock, RealClock) if realtime is None else realtime

    # -- control, from any thread ----------------------------------------------------------

    def stop(self) -> None:
        """End play() soon (within ``POLL`` seconds, or after the source's current next())."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def set_tempo_scale(self, scale: float) -> None:
        """Change speed from the next message on (2.0 = twice as fast); the music stays continuous."""
        self._wanted_scale = _check_scale(scale)

    # -- playing ---------------------------------------------------------------------------

    def play(self, events: Iterable[TimedMessage], output: Output | MidiSink, *, loop: bool = False) -> PlaybackStats:
        """Play ``events`` to ``output`` until the source ends or stop() is called.

        However it ends (source exhausted, stop, an exception from the source or the port,
        Ctrl-C), every note sounded gets its note_off and each channel used gets CC 123 and
        CC 120 before this returns or raises. ``loop`` replays a re-iterable source (a list).
        """
        if loop and iter(events) is events:
            raise PlaybackError("loop needs a source that can be replayed (a file or a list), not a one-shot stream")
        out = output if isinstance(output, Output) else Output(output, getattr(output, "name", "output"))
        stats = PlaybackStats()
        with realtime_priority(self.realtime) as priority:
            stats.realtime = priority.enabled
            run = _Run(self, _passes(events, loop, stats), out, stats, priority)
            try:
                run.loop()
            finally:
                self._finish(run, out, stats)
        return stats

    def _finish(self, run: _Run, out: Output, stats: PlaybackStats) -> None:
        stats.stopped = self._stop.is_set()
        stats.cleanup = out.silence()
        stats.duration = self.clock.now() - run.started


def _check_scale(scale: float) -> float:
    if not scale > 0:
        raise PlaybackError(f"tempo scale {scale}: expected a positive factor (0.5 = half speed, 2 = double)")
    return float(scale)


class _Run:
    """The state of one play(): what was pulled, when piece time zero is, how long pulls take."""

    def __init__(
        self, sched: Scheduler, source: Iterator[TimedMessage], out: Output, stats: PlaybackStats, priority: ThreadPriority
    ) -> None:
        self.sched, self.source, self.out, self.stats = sched, source, out, stats
        self.priority = priority
        self.clock = sched.clock
        self.scale = sched.tempo_scale
        self.pending: deque[TimedMessage] = deque()
        self.exhausted = False
        self.origin: float | None = None
        self.pull_cost = 0.0  # a decaying maximum of how long next() took
        self.last_time = 0.0
        self.started = self.clock.now()

    def due(self, piece_time: float) -> float:
        assert self.origin is not None
        return self.origin + piece_time / self.scale

    def loop(self) -> None:
        while not self.sched.stopping:
            self._apply_tempo()
            self._send_due()
            if self.exhausted and not self.pending:
                return
            if self._should_pull():
                self._pull()
            else:
                self.clock.sleep_until(self._wake_time())

    def _apply_tempo(self) -> None:
        wanted = self.sched._wanted_scale
        if wanted != self.scale and self.origin is not None:
            now = self.clock.now()
            position = (now - self.origin) * self.scale
            self.origin = now - position / wanted
        self.scale = wanted

    def _send_due(self) -> None:
        while self.pending and not self.sched.stopping:
            now = self.clock.now()
            due = self.due(self.pending[0].time)
            if due > now:
                return
            self._send(self.pending.popleft().msg, now - due, now)

    def _send(self, msg: mido.Message, late: float, now: float) -> None:
        self.out.send(msg)
        stats = self.stats
        stats.sent += 1
        stats.lateness.append(late)
        if msg.type == "note_on" and msg.velocity > 0:
            stats.notes += 1
            if stats.first_note_delay is None:
                stats.first_note_delay = now - self.started

    def _want_more(self, now: float) -> bool:
        if self.exhausted:
            return False
        return not self.pending or self.due(self.pending[-1].time) <= now + self.sched.lookahead

    def _should_pull(self) -> bool:
        """Pull when the window needs more, unless a send is due before the pull would end."""
        now = self.clock.now()
        if not self._want_more(now):
            return False
        if not self.pending:
            return True
        need = 2 * self.pull_cost + PULL_MARGIN  # room for a pull that runs long (a busy CPU)
        return self.due(self.pending[0].time) - now > need or not self._gap_ahead(need)

    def _gap_ahead(self, need: float) -> bool:
        """Whether a later pause between pending sends is long enough for a pull.

        If none is (a dense burst), waiting would drain the window: pull now, a little late.
        """
        times = [self.due(ev.time) for ev in self.pending]
        return any(b - a > need for a, b in zip(times, times[1:], strict=False))

    def _pull(self) -> None:
        before = self.clock.now()
        try:
            with self.priority.normal():
                ev = next(self.source)
        except StopIteration:
            self.exhausted = True
            return
        after = self.clock.now()
        self.pull_cost = max(self.pull_cost * 0.98, after - before)
        if self.origin is None:
            self.origin = after + self.sched.preroll
            self.stats.origin = self.origin
        time = max(ev.time, self.last_time)  # a source running backwards plays at once
        self.last_time = time
        late = after - self.due(time)
        if late > 0:
            self.stats.underruns += 1
            self.stats.worst_underrun = max(self.stats.worst_underrun, late)
        self.pending.append(TimedMessage(time, ev.msg) if time != ev.time else ev)

    def _wake_time(self) -> float:
        """The next send, or the moment the lookahead window needs more, or a poll."""
        now = self.clock.now()
        wake = now + POLL
        if self.pending:
            wake = min(wake, self.due(self.pending[0].time))
            if not self.exhausted and not self._want_more(now):
                wake = min(wake, self.due(self.pending[-1].time) - self.sched.lookahead)
        return wake
