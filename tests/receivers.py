"""MIDI socket receivers (genrnn.playback.receiver) for tests that play to ``127.0.0.1:PORT`` and
then count what a listener heard: note-ons, note-offs, hanging notes. ``Receiver`` runs in its
own process (a port that hangs up, a CLI in a subprocess); ``ThreadReceiver`` in a thread of
the test (every connection, for players in the test's own process)."""

from __future__ import annotations

import multiprocessing
import socket
import threading

from genrnn.playback.receiver import Tally, open_server, receive, receiver_main, tally

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


class ThreadReceiver:
    """A mido socket port server on 127.0.0.1 in a thread: every connection's messages, in
    the order they came. ``close()`` (once the players have ended) collects them."""

    def __init__(self) -> None:
        self.server = open_server()
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.connections: list[list] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                got = receive(self.server, idle_timeout=60)
            except OSError:  # no sender came (accept timed out) or the server is closed
                return
            if got:
                self.connections.append(got)
            if self._closing.is_set():
                return

    def close(self) -> list[list]:
        self._closing.set()
        with socket.create_connection(self.server.getsockname(), timeout=5):
            pass  # wakes the accept; a connection still open is read to its end first
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the receiver still has a sender after the test"
        self.server.close()
        return self.connections
