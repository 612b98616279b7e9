"""Clocks for the scheduler: the real monotonic one, and a fake one that tests drive."""

from __future__ import annotations

import threading
import time
from typing import Protocol

# Below this much time left, ``RealClock.sleep_until`` stops sleeping and spins: the OS sleep
# overshoots by up to a millisecond or two, the spin does not.
SPIN_SECONDS = 0.0015


class Clock(Protocol):
    """Seconds on a monotonic scale, and a way to wait for a moment on it."""

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> None: ...


class RealClock:
    """``time.perf_counter`` (CLOCK_MONOTONIC on Linux, so comparable across processes)."""

    def __init__(self, spin: float = SPIN_SECONDS) -> None:
        self.spin = spin

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, t: float) -> None:
        """Sleep coarsely, then spin the last ``spin`` seconds for sub-millisecond precision."""
        remaining = t - time.perf_counter()
        if remaining > self.spin:
            time.sleep(remaining - self.spin)
        while time.perf_counter() < t:
            pass


class FakeClock:
    """A clock that only moves when slept on (or advanced): exact, instant, deterministic."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []  # every target passed to sleep_until, for assertions

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep_until(self, t: float) -> None:
        with self._lock:
            self.sleeps.append(t)
            self._t = max(self._t, t)

    def advance(self, seconds: float) -> None:
        """Let time pass without a sleep, e.g. to emulate a slow generator step."""
        with self._lock:
            self._t += seconds
