"""Playing to a real mido socket port on 127.0.0.1, with the receiver in another process.

The receiver counts what a listener would hear: after a normal end, a stop, a SIGTERM or
Ctrl-C of the player, every note_on has its note_off and each used channel got CC 123/120.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from genrnn.errors import PlaybackError
from genrnn.playback import Scheduler, file_events, play_stream
from genrnn.playback.receiver import Tally
from tests.receivers import Receiver

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(idle_timeout=30.0)
    yield rec
    rec.kill()


def assert_nothing_hangs(heard: Tally) -> None:
    assert heard.note_ons > 0
    assert heard.note_ons == heard.note_offs
    assert heard.hanging_notes == 0
    assert heard.channels <= heard.all_notes_off and heard.channels <= heard.all_sound_off


def test_whole_piece_arrives_with_equal_note_counts(receiver: Receiver, chorale_mid: Path) -> None:
    events = file_events(chorale_mid)
    expected_ons = sum(1 for e in events if e.msg.type == "note_on" and e.msg.velocity > 0)
    stats = play_stream(events, receiver.address, tempo_scale=10.0)
    heard = receiver.result()
    assert_nothing_hangs(heard)
    assert heard.note_ons == expected_ons == stats.notes
    assert not stats.stopped and stats.underruns == 0
    assert stats.late_p50 < 0.005  # loose: CI machines are shared


def test_stop_mid_piece_leaves_nothing_hanging(receiver: Receiver, chorale_mid: Path) -> None:
    events = file_events(chorale_mid)
    sched = Scheduler()
    timer = threading.Timer(0.8, sched.stop)  # another thread, as the TUI would
    timer.start()
    stats = play_stream(events, receiver.address, tempo_scale=4.0, scheduler=sched)
    heard = receiver.result()
    assert stats.stopped
    assert 0 < heard.note_ons < sum(1 for e in events if e.msg.type == "note_on")
    assert stats.cleanup is not None and stats.cleanup.note_offs > 0, "stopped while notes sounded"
    assert_nothing_hangs(heard)


def test_receiver_vanishing_mid_piece_is_one_playback_error(chorale_mid: Path) -> None:
    rec = Receiver(close_after=40)
    try:
        with pytest.raises(PlaybackError, match=rf"{rec.address}: the port failed while playing"):
            play_stream(file_events(chorale_mid), rec.address, tempo_scale=8.0)
        assert rec.result().note_ons > 0
    finally:
        rec.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_player_stops_cleanly(receiver: Receiver, chorale_mid: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    player = subprocess.Popen(
        [sys.executable, "-m", "genrnn.cli", "play", str(chorale_mid), "--port", receiver.address, "--loop"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        receiver.wait_connected()
        threading.Event().wait(1.0)  # let some notes sound
        player.send_signal(sig)
        out, err = player.communicate(timeout=20)
    finally:
        player.kill()
    assert player.returncode == 0, err
    assert err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stopped ({sig.name})"), out
    assert_nothing_hangs(receiver.result())
