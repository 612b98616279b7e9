"""Where a player's phrase ends: pure logic on times it is given (no clock, no sleeping).

A phrase starts at its first note-on and ends, whichever comes first:

- ``gap``: every key is up and nothing has been played for ``gap`` seconds (AI Duet: 0.6 s);
  with ``adaptive``, the gap follows the player: ``gap_factor`` × the median time between their
  recent note-ons, within ``min_gap`` .. ``gap`` (a fast player is answered sooner);
- ``max-call``: the phrase has lasted ``max_call`` seconds (keys may still be down);
- ``trigger``: the trigger controller (the sustain pedal, CC 64, by default) is pressed
  (value ≥ 64) while a phrase is open;
- an input that goes away (``closed``) releases its keys then, and the gap rule ends the phrase.

The caller feeds events with their times and asks ``due()`` (when the phrase will end if
nothing else happens) and ``poll(now)`` (the phrase, once it has ended).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from genrnn.config import check_range
from genrnn.errors import ConfigError

PEDAL_DOWN = 64
IOI_KEPT = 16  # recent note-on spacings the adaptive gap looks at


@dataclass(frozen=True)
class PhraseRules:
    gap: float = 0.6
    max_call: float = 8.0
    trigger_cc: int | None = 64  # None: no controller ends a phrase
    adaptive: bool = False
    min_gap: float | None = None  # the adaptive gap's floor; None: 0.2 s, or the gap if shorter
    gap_factor: float = 2.5

    def __post_init__(self) -> None:
        if self.min_gap is None:
            object.__setattr__(self, "min_gap", min(0.2, self.gap))
        try:
            check_range("--gap", self.gap, 0.0, 60.0, lo_open=True)
            check_range("--max-call", self.max_call, 0.0, 3600.0, lo_open=True)
            check_range("--min-gap", self.min_gap, 0.0, self.gap)
            check_range("--gap-factor", self.gap_factor, 0.0, 100.0, lo_open=True)
        except ConfigError as exc:
            raise ConfigError(f"phrase rules: {exc}") from None
        if self.trigger_cc is not None and not 0 <= self.trigger_cc <= 127:
            raise ConfigError(f"--trigger-cc {self.trigger_cc}: expected a controller number 0..127 or none")


@dataclass
class Phrase:
    """One ended phrase: times on the caller's clock."""

    start: float  # its first note-on
    last: float  # its last event (the silence began here)
    due: float  # the moment the rule fired (for gap: last + gap), the gap excluded from latency
    reason: str  # "gap" | "max-call" | "trigger"
    notes: int  # note-ons in it
    held: list[tuple[int, int]] = field(default_factory=list)  # (channel, pitch) still down at the end

    @property
    def length(self) -> float:
        return max(0.0, self.last - self.start)


class PhraseDetector:
    """Feed it note-ons, note-offs and controllers with their times; it says when a phrase ends."""

    def __init__(self, rules: PhraseRules | None = None) -> None:
        self.rules = rules or PhraseRules()
        self.down: dict[tuple[int, int], int] = {}  # (channel, pitch) → times struck and not released
        self.start: float | None = None  # the open phrase's first note-on
        self.last = 0.0
        self.notes = 0
        self._pending: Phrase | None = None  # ended by a trigger or a closed input, not yet polled
        self._onsets: deque[float] = deque(maxlen=IOI_KEPT + 1)

    @property
    def open(self) -> bool:
        return self.start is not None

    @property
    def keys_down(self) -> int:
        return sum(self.down.values())

    def note_on(self, t: float, channel: int, pitch: int) -> None:
        if self.start is None:
            self.start, self.notes = t, 0
        self.down[(channel, pitch)] = self.down.get((channel, pitch), 0) + 1
        self.notes += 1
        self.last = max(self.last, t)
        self._onsets.append(t)

    def note_off(self, t: float, channel: int, pitch: int) -> bool:
        """False for a note-off of a key that is not down (an orphan: ignored)."""
        times = self.down.get((channel, pitch), 0)
        if times == 0:
            return False
        if times > 1:
            self.down[(channel, pitch)] = times - 1
        else:
            del self.down[(channel, pitch)]
        self.last = max(self.last, t)
        return True

    def control(self, t: float, control: int, value: int) -> bool:
        """True when this controller ends the open phrase (the trigger pressed)."""
        if control != self.rules.trigger_cc or value < PEDAL_DOWN or self.start is None:
            return False
        self._pending = self._end(t, t, "trigger")
        return True

    def closed(self, t: float) -> list[tuple[int, int]]:
        """The input went away: every key is up from ``t``; returns the keys that were down."""
        held = [key for key, times in sorted(self.down.items()) for _ in range(times)]
        self.down.clear()
        if held and self.start is not None:
            self.last = max(self.last, t)
        return held

    def gap(self) -> float:
        """The silence that ends a phrase now: ``rules.gap``, or the adaptive one."""
        r = self.rules
        if not r.adaptive or len(self._onsets) < 4:
            return r.gap
        times = list(self._onsets)
        spacings = sorted(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
        if not spacings:
            return r.gap
        return min(r.gap, max(r.min_gap, r.gap_factor * spacings[len(spacings) // 2]))

    def due(self) -> float | None:
        """When the open phrase ends if nothing else comes (None: no phrase open)."""
        if self._pending is not None:
            return self._pending.due
        if self.start is None:
            return None
        by_length = self.start + self.rules.max_call
        if self.down:
            return by_length
        return min(by_length, self.last + self.gap())

    def poll(self, now: float) -> Phrase | None:
        """The phrase that has ended by ``now`` (once), else None."""
        if self._pending is not None:
            phrase, self._pending = self._pending, None
            return phrase
        due = self.due()
        if due is None or now < due:
            return None
        assert self.start is not None
        by_gap = None if self.down else self.last + self.gap()
        reason = "gap" if by_gap is not None and by_gap <= self.start + self.rules.max_call else "max-call"
        return self._end(min(self.last, due), due, reason)

    def _end(self, last: float, due: float, reason: str) -> Phrase:
        assert self.start is not None
        phrase = Phrase(self.start, max(last, self.start), due, reason, self.notes,
                        [key for key, times in sorted(self.down.items()) for _ in range(times)])
        self.start, self.notes = None, 0
        return phrase
