"""A MIDI socket receiver: the other end of a ``HOST:PORT`` output, for tests and benchmarks.

It timestamps every message on arrival with ``time.perf_counter`` (CLOCK_MONOTONIC on Linux,
so comparable with the sender's clock in another process) and can tally what a listener would
hear: note_ons, note_offs, notes left hanging, and the all-notes-off controllers.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

import mido

from genrnn.playback.priority import ThreadPriority

Received = tuple[float, list[int]]  # (arrival time, message bytes)


def open_server(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it with getsockname())."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1)
    return server


def receive(
    server: socket.socket,
    *,
    idle_timeout: float = 60.0,
    close_after: int | None = None,
    connected: Queue | None = None,
) -> list[Received]:
    """Accept one connection and record every message until the sender closes it.

    ``close_after`` drops the connection after that many messages (a port that vanishes);
    ``connected`` gets True when the sender has connected.
    """
    server.settimeout(idle_timeout)
    conn, _ = server.accept()
    if connected is not None:
        connected.put(True)
    conn.settimeout(idle_timeout)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    parser = mido.Parser()
    got: list[Received] = []
    with conn:
        while close_after is None or len(got) < close_after:
            try:
                data = conn.recv(4096)
            except (TimeoutError, ConnectionError):
                break
            now = time.perf_counter()
            if not data:
                break
            parser.feed(data)
            got.extend((now, msg.bytes()) for msg in parser)
    return got[:close_after] if close_after is not None else got


def receiver_main(
    ready: Queue, results: Queue, idle_timeout: float = 60.0, close_after: int | None = None
) -> None:
    """Entry point for a receiver process.

    Puts its port number on ``ready``, then True when a sender connects, then the list of
    messages received on ``results``.
    """
    ThreadPriority(True)  # best effort: a receiver that wakes late would measure its own lag
    with open_server() as server:
        ready.put(server.getsockname()[1])
        results.put(receive(server, idle_timeout=idle_timeout, close_after=close_after, connected=ready))


@dataclass
class Tally:
    """What a listener heard."""

    note_ons: int = 0
    note_offs: int = 0
    hanging: Counter[tuple[int, int]] = field(default_factory=Counter)  # (channel, note) -> on without off
    all_notes_off: set[int] = field(default_factory=set)  # channels that got CC 123
    all_sound_off: set[int] = field(default_factory=set)  # channels that got CC 120
    channels: set[int] = field(default_factory=set)  # channels that got any note_on
    messages: list[mido.Message] = field(default_factory=list)

    @property
    def hanging_notes(self) -> int:
        return sum(self.hanging.values())


def tally(received: list[Received] | list[Any]) -> Tally:
    result = Tally()
    for _, raw in received:
        msg = mido.Message.from_bytes(raw)
        result.messages.append(msg)
        _count(result, msg)
    result.hanging = +result.hanging  # drop zero counts
    return result


def _count(result: Tally, msg: mido.Message) -> None:
    if msg.type == "note_on" and msg.velocity > 0:
        result.note_ons += 1
        result.channels.add(msg.channel)
        result.hanging[(msg.channel, msg.note)] += 1
    elif msg.type in ("note_on", "note_off"):
        result.note_offs += 1
        if result.hanging[(msg.channel, msg.note)] > 0:
            result.hanging[(msg.channel, msg.note)] -= 1
    elif msg.type == "control_change" and msg.control == 123:
        result.all_notes_off.add(msg.channel)
    elif msg.type == "control_change" and msg.control == 120:
        result.all_sound_off.add(msg.channel)
