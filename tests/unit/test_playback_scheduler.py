"""The scheduler under a fake clock: exact timings, lookahead, and cleanup however play ends."""

from __future__ import annotations

from collections.abc import Iterator

import mido
import pytest

from genrnn.errors import PlaybackError
from genrnn.playback.clock import FakeClock
from genrnn.playback.events import TimedMessage
from genrnn.playback.ports import Output
from genrnn.playback.scheduler import Scheduler


class RecordingPort:
    """A sink that records (clock time, message); can fail at the n-th send, once or for good."""

    def __init__(self, clock: FakeClock, fail_at: int | None = None, dead_after_fail: bool = False,
                 on_send=None) -> None:
        self.clock, self.fail_at, self.dead_after_fail, self.on_send = clock, fail_at, dead_after_fail, on_send
        self.log: list[tuple[float, mido.Message]] = []
        self.attempts = 0
        self.dead = False
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        self.attempts += 1
        if self.dead or self.attempts == self.fail_at:
            self.dead = self.dead_after_fail
            raise OSError(32, "Broken pipe")
        self.log.append((self.clock.now(), msg))
        if self.on_send:
            self.on_send(len(self.log))

    def close(self) -> None:
        self.closed = True

    def notes(self) -> list[tuple[float, str, int]]:
        return [(t, m.type, m.note) for t, m in self.log if m.type in ("note_on", "note_off")]

    def hanging(self) -> int:
        level: dict[tuple[int, int], int] = {}
        for _, m in self.log:
            if m.type == "note_on" and m.velocity > 0:
                level[(m.channel, m.note)] = level.get((m.channel, m.note), 0) + 1
            elif m.type in ("note_on", "note_off"):
                level[(m.channel, m.note)] = level.get((m.channel, m.note), 0) - 1
        assert all(v >= 0 for v in level.values()), "a note_off for a note never sounded"
        return sum(level.values())

    def cc_channels(self, control: int) -> set[int]:
        return {m.channel for _, m in self.log if m.type == "control_change" and m.control == control}


def on(t: float, note: int, channel: int = 0) -> TimedMessage:
    return TimedMessage(t, mido.Message("note_on", channel=channel, note=note, velocity=80))


def off(t: float, note: int, channel: int = 0) -> TimedMessage:
    return TimedMessage(t, mido.Message("note_off", channel=channel, note=note))


def scale(n: int = 8, step: float = 0.5, channel: int = 0) -> list[TimedMessage]:
    """n notes, each held for ``step`` seconds, one after another."""
    events: list[TimedMessage] = []
    for i in range(n):
        events += [on(i * step, 60 + i, channel), off((i + 1) * step, 60 + i, channel)]
    return sorted(events, key=lambda e: (e.time, e.msg.type != "note_off"))


def chords(n: int = 10, step: float = 0.5) -> list[TimedMessage]:
    """Two channels, overlapping notes: a stop anywhere leaves several sounding."""
    events = [*scale(n, step, channel=0)]
    for i in range(n):
        events += [on(i * step + 0.25, 40 + i, 3), off(i * step + 0.25 + 2 * step, 40 + i, 3)]
    return sorted(events, key=lambda e: (e.time, e.msg.type != "note_off"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_messages_leave_exactly_on_time(clock: FakeClock) -> None:
    port = RecordingPort(clock)
    stats = Scheduler(clock, preroll=0.0).play(scale(4), port)
    notes = [(t, kind, n) for t, kind, n in port.notes()]
    assert notes == [
        (0.0, "note_on", 60), (0.5, "note_off", 60), (0.5, "note_on", 61), (1.0, "note_off", 61),
        (1.0, "note_on", 62), (1.5, "note_off", 62), (1.5, "note_on", 63), (2.0, "note_off", 63),
    ]
    assert stats.sent == 8 and stats.notes == 4
    assert stats.late_max == 0.0 and stats.underruns == 0
    assert stats.first_note_delay == 0.0 and not stats.stopped


def test_preroll_delays_time_zero(clock: FakeClock) -> None:
    port = RecordingPort(clock)
    clock.advance(10.0)
    stats = Scheduler(clock, preroll=0.25).play(scale(2), port)
    assert [t for t, _, _ in port.notes()][:2] == [10.25, 10.75]
    assert stats.origin == 10.25


def test_tempo_scale_two_plays_twice_as_fast(clock: FakeClock) -> None:
    port = RecordingPort(clock)
    Scheduler(clock, preroll=0.0, tempo_scale=2.0).play(scale(4), port)
    assert [t for t, kind, _ in port.notes() if kind == "note_on"] == [0.0, 0.25, 0.5, 0.75]


def test_tempo_change_mid_play_is_continuous(clock: FakeClock) -> None:
    sched = Scheduler(clock, preroll=0.0)
    # at the third message (t = 0.5) switch to half speed: the rest is twice as far apart
    port = RecordingPort(clock, on_send=lambda n: n == 3 and sched.set_tempo_scale(0.5))
    sched.play(scale(4), port)
    ons = [t for t, kind, _ in port.notes() if kind == "note_on"]
    assert ons == [0.0, 0.5, 1.5, 2.5]


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_tempo_scale_must_be_positive(clock: FakeClock, bad: float) -> None:
    with pytest.raises(PlaybackError, match="tempo scale"):
        Scheduler(clock, tempo_scale=bad)


def test_stop_in_the_middle_releases_every_sounding_note(clock: FakeClock) -> None:
    sched = Scheduler(clock, preroll=0.0)
    port = RecordingPort(clock, on_send=lambda n: n == 9 and sched.stop())
    stats = sched.play(chords(), port)
    assert stats.stopped
    assert stats.sent == 9
    stop_time = port.log[8][0]
    after = [m for t, m in port.log[9:]]
    assert all(t == stop_time for t, _ in port.log[9:]), "cleanup happens at once"
    assert {m.type for m in after} == {"note_off", "control_change"}
    assert port.hanging() == 0
    assert port.cc_channels(123) == {0, 3} and port.cc_channels(120) == {0, 3}
    assert stats.cleanup is not None and stats.cleanup.note_offs >= 2


def test_each_sounding_note_gets_its_own_note_off_before_the_controllers(clock: FakeClock) -> None:
    sched = Scheduler(clock, preroll=0.0)
    events = [on(0.0, 60), on(0.0, 60), on(0.0, 64, 9), off(1.0, 60), off(1.0, 60), off(1.0, 64, 9)]
    port = RecordingPort(clock, on_send=lambda n: n == 3 and sched.stop())
    sched.play(events, port)
    cleanup = [m for _, m in port.log[3:]]
    assert [(m.type, m.channel, getattr(m, "note", None)) for m in cleanup[:3]] == [
        ("note_off", 0, 60), ("note_off", 0, 60), ("note_off", 9, 64)]
    assert [(m.channel, m.control) for m in cleanup[3:]] == [(0, 123), (0, 120), (9, 123), (9, 120)]


def test_exception_from_the_source_releases_notes_and_propagates(clock: FakeClock) -> None:
    def source() -> Iterator[TimedMessage]:
        yield from chords()[:7]
        raise RuntimeError("model blew up")

    port = RecordingPort(clock)
    with pytest.raises(RuntimeError, match="model blew up"):
        Scheduler(clock, preroll=0.0).play(source(), port)
    assert sum(1 for _, kind, _ in port.notes() if kind == "note_on") >= 2
    assert port.hanging() == 0
    assert port.cc_channels(123) == {0, 3} and port.cc_channels(120) == {0, 3}


def test_port_failing_once_mid_piece_raises_and_still_releases_notes(clock: FakeClock) -> None:
    port = RecordingPort(clock, fail_at=10)
    with pytest.raises(PlaybackError, match="flaky: the port failed while playing"):
        Scheduler(clock, preroll=0.0).play(chords(), Output(port, "flaky"))
    assert len([1 for _, kind, _ in port.notes() if kind == "note_on"]) >= 2
    assert port.hanging() == 0
    assert port.cc_channels(123) == {0, 3} and port.cc_channels(120) == {0, 3}


def test_port_dying_mid_piece_raises_once_without_hanging(clock: FakeClock) -> None:
    port = RecordingPort(clock, fail_at=10, dead_after_fail=True)
    out = Output(port, "gone")
    with pytest.raises(PlaybackError, match="gone"):
        Scheduler(clock, preroll=0.0).play(chords(), out)
    assert len(port.log) == 9  # nothing could be sent after the port died
    assert port.attempts == 11  # the failed message, then one cleanup try, then it gave up


def test_ctrl_c_in_the_middle_releases_notes_and_propagates(clock: FakeClock) -> None:
    def interrupt(n: int) -> None:
        if n == 9:
            raise KeyboardInterrupt

    port = RecordingPort(clock, on_send=interrupt)
    with pytest.raises(KeyboardInterrupt):
        Scheduler(clock, preroll=0.0).play(chords(), port)
    assert port.hanging() == 0 and port.cc_channels(123) == {0, 3}


def endless(clock: FakeClock, pulls: list[tuple[float, float]], step: float = 0.1,
            cost: float = 0.0) -> Iterator[TimedMessage]:
    """An infinite generator that records (clock time, event time) per event it yields."""
    i = 0
    while True:
        clock.advance(cost)
        t = i * step
        for ev in (on(t, 60 + i % 12), off(t + step, 60 + i % 12)):
            pulls.append((clock.now(), ev.time))
            yield ev
        i += 1


def test_lookahead_pulls_lazily_from_an_endless_source(clock: FakeClock) -> None:
    pulls: list[tuple[float, float]] = []
    sched = Scheduler(clock, preroll=0.0, lookahead=0.5)
    port = RecordingPort(clock, on_send=lambda n: n == 100 and sched.stop())
    stats = sched.play(endless(clock, pulls), port)
    assert stats.stopped and stats.sent == 100
    # only the event that crosses the horizon may be more than ``lookahead`` ahead of the clock,
    # so every event before it was within the window when pulled
    for (_, prev_time), (now, _) in zip(pulls, pulls[1:], strict=False):
        assert prev_time <= now + 0.5 + 1e-9
    assert max(t for _, t in pulls) <= port.log[99][0] + 0.5 + 0.1 + 1e-9
    assert stats.underruns == 0 and stats.late_max == 0.0


def test_zero_lookahead_still_plays_on_time(clock: FakeClock) -> None:
    port = RecordingPort(clock)
    Scheduler(clock, preroll=0.0, lookahead=0.0).play(scale(3), port)
    assert [t for t, kind, _ in port.notes() if kind == "note_on"] == [0.0, 0.5, 1.0]


def test_slow_but_fast_enough_source_has_no_underrun_and_sends_on_time(clock: FakeClock) -> None:
    pulls: list[tuple[float, float]] = []
    sched = Scheduler(clock, preroll=0.05, lookahead=0.5)
    port = RecordingPort(clock, on_send=lambda n: n == 200 and sched.stop())
    stats = sched.play(endless(clock, pulls, cost=0.03), port)  # 30 ms per 100 ms of music
    assert stats.underruns == 0
    assert stats.late_max == 0.0, "a pull is never started when it would delay a send"
    assert stats.first_note_delay == pytest.approx(0.08)


def test_source_slower_than_real_time_reports_underruns(clock: FakeClock) -> None:
    sched = Scheduler(clock, preroll=0.05)
    port = RecordingPort(clock, on_send=lambda n: n == 40 and sched.stop())
    stats = sched.play(endless(clock, [], cost=0.2), port)  # 200 ms per 100 ms of music
    assert stats.underruns > 5
    assert stats.worst_underrun > 0.5


def test_loop_replays_the_piece_back_to_back(clock: FakeClock) -> None:
    sched = Scheduler(clock, preroll=0.0)
    port = RecordingPort(clock, on_send=lambda n: n == 20 and sched.stop())
    stats = sched.play(scale(4), port, loop=True)  # 8 messages, 2.0 s per pass
    ons = [t for t, kind, _ in port.notes() if kind == "note_on"]
    assert ons[:10] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert stats.passes == 2 and stats.stopped and port.hanging() == 0


def test_loop_refuses_a_one_shot_stream(clock: FakeClock) -> None:
    with pytest.raises(PlaybackError, match="loop needs a source that can be replayed"):
        Scheduler(clock).play(iter(scale(2)), RecordingPort(clock), loop=True)


def test_play_ends_when_the_source_ends_and_sends_controllers(clock: FakeClock) -> None:
    port = RecordingPort(clock)
    stats = Scheduler(clock, preroll=0.0).play(scale(2, channel=5), port)
    assert not stats.stopped and stats.passes == 1
    assert [(m.channel, m.control) for _, m in port.log[-2:]] == [(5, 123), (5, 120)]
    assert port.hanging() == 0
