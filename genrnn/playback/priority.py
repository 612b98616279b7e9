"""Best-effort real-time priority for the thread that sends MIDI, as JACK and FluidSynth do.

On a busy machine an ordinary thread waking from sleep can wait several milliseconds for a
CPU; under SCHED_FIFO it runs at once. Where the OS does not allow it (no permission, not
Linux), nothing changes and playback runs at normal priority.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

REALTIME_PRIORITY = 10  # low among real-time priorities: above every ordinary process


class ThreadPriority:
    """Switch the calling thread between SCHED_FIFO and its original policy."""

    def __init__(self, wanted: bool = True, priority: int = REALTIME_PRIORITY) -> None:
        self.priority = priority
        self.enabled = False
        self._original: tuple[int, os.sched_param] | None = None
        if wanted and hasattr(os, "sched_setscheduler"):
            try:
                self._original = (os.sched_getscheduler(0), os.sched_getparam(0))
                self.enabled = self._set(os.SCHED_FIFO, os.sched_param(priority))
            except OSError:
                self.enabled = False

    @staticmethod
    def _set(policy: int, param: os.sched_param) -> bool:
        try:
            os.sched_setscheduler(0, policy, param)  # pid 0: the calling thread on Linux
        except OSError:  # EPERM without CAP_SYS_NICE / an rtprio limit
            return False
        return True

    def restore(self) -> None:
        if self.enabled and self._original is not None:
            self._set(*self._original)
            self.enabled = False

    @contextmanager
    def normal(self) -> Iterator[None]:
        """Ordinary priority for a block: the source's generation must not starve the machine."""
        if not self.enabled or self._original is None:
            yield
            return
        self._set(*self._original)
        try:
            yield
        finally:
            self._set(os.SCHED_FIFO, os.sched_param(self.priority))


@contextmanager
def realtime_priority(wanted: bool = True) -> Iterator[ThreadPriority]:
    """Real-time priority for the calling thread inside the block, where the OS allows it."""
    prio = ThreadPriority(wanted)
    try:
        yield prio
    finally:
        prio.restore()
