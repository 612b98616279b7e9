"""Mute and solo, for listening: which instruments sound when a take plays.

An instrument is a ``(program, is_drum)`` key (the drum kit is one instrument, whatever program
its notes carry). The mix is changed on the UI thread and read by the player's thread at every
note it is about to send, so a change applies from the next note on. Saving a take never
consults it: files keep every instrument.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from genrnn.music.notes import Note

InstrumentKey = tuple[int, bool]  # (GM program 0..127, is_drum); the kit is (0, True)


def instrument_key(program: int, is_drum: bool) -> InstrumentKey:
    return (0, True) if is_drum else (int(program), False)


def instruments_of(notes: Iterable[Note], events: Iterable[tuple] = ()) -> list[InstrumentKey]:
    """The instruments that play in ``notes`` and in note ``events`` ((seconds, pitch, velocity)
    with or without ``program, is_drum`` after them): programs in GM order, the kit last."""
    keys = {instrument_key(n.program, n.is_drum) for n in notes}
    keys.update(instrument_key(int(e[3]), bool(e[4])) if len(e) > 3 else (0, False) for e in events)
    return sorted(keys, key=lambda k: (k[1], k[0]))


class Mix:
    """Muted and soloed instruments, thread-safe. An instrument sounds unless it is muted or
    another one is soloed (mute wins over solo: a muted, soloed instrument stays silent)."""

    def __init__(self) -> None:
        self._muted: set[InstrumentKey] = set()
        self._solo: set[InstrumentKey] = set()
        self._lock = threading.Lock()

    def audible(self, program: int, is_drum: bool) -> bool:
        key = instrument_key(program, is_drum)
        with self._lock:
            return key not in self._muted and (not self._solo or key in self._solo)

    def toggle_mute(self, key: InstrumentKey) -> bool:
        """Mute ``key``, or unmute it; True when it is muted now."""
        return self._toggle(self._muted, key)

    def toggle_solo(self, key: InstrumentKey) -> bool:
        """Solo ``key`` (with any others soloed), or take its solo off; True when soloed now."""
        return self._toggle(self._solo, key)

    def _toggle(self, keys: set[InstrumentKey], key: InstrumentKey) -> bool:
        with self._lock:
            if key in keys:
                keys.discard(key)
                return False
            keys.add(key)
            return True

    def muted(self, key: InstrumentKey) -> bool:
        with self._lock:
            return key in self._muted

    def soloed(self, key: InstrumentKey) -> bool:
        with self._lock:
            return key in self._solo

    def state(self, key: InstrumentKey) -> str:
        """What the legend says: "muted", "solo", "silent" (another one is soloed) or ""."""
        with self._lock:
            if key in self._muted:
                return "muted"
            if key in self._solo:
                return "solo"
            return "silent" if self._solo else ""
