"""Real-time priority is best effort, confined to play(), and dropped while the source generates."""

from __future__ import annotations

import os

import pytest

from genrnn.playback.priority import ThreadPriority, realtime_priority

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="no POSIX scheduling API")


def test_priority_is_restored_after_the_block() -> None:
    before = os.sched_getscheduler(0)
    with realtime_priority(True) as prio:
        if prio.enabled:
            assert os.sched_getscheduler(0) == os.SCHED_FIFO
            with prio.normal():
                assert os.sched_getscheduler(0) == before
            assert os.sched_getscheduler(0) == os.SCHED_FIFO
    assert os.sched_getscheduler(0) == before


def test_not_wanted_changes_nothing() -> None:
    before = os.sched_getscheduler(0)
    prio = ThreadPriority(False)
    assert not prio.enabled
    with prio.normal():
        assert os.sched_getscheduler(0) == before
