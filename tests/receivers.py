"""A MIDI socket receiver in its own process (genrnn.playback.receiver), for tests that play to
``127.0.0.1:PORT`` and then count what a listener heard: note-ons, note-offs, hanging notes."""

from __future__ import annotations

import multiprocessing

from genrnn.playback.receiver import Tally, receiver_main, tally

CTX = multiprocessing.get_context("spawn")


class Receiver:
    """A receiver process; ``address`` to connect to, ``result()`` to collect its tally.
    ``close_after``: hang up after that many messages (a port that vanishes)."""

    def __init__(self, close_after: int | None = None, idle_timeout: float = 60.0) -> None:
        self.ready, self.results = CTX.Queue(), CTX.Queue()
        self.proc = CTX.Process(target=receiver_main, args=(self.ready, self.results, idle_timeout, close_after))
        self.proc.start()
        self.port = self.ready.get(timeout=30)
        self.address = f"127.0.0.1:{self.port}"

    def wait_connected(self) -> None:
        assert self.ready.get(timeout=60) is True

    def result(self, timeout: float = 60.0) -> Tally:
        got = self.results.get(timeout=timeout)
        self.proc.join(timeout=10)
        return tally(got)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
