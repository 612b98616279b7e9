"""The model's side of a jam: one event stream that hears the player and answers them.

``JamVoice`` holds one ``Stream`` for a whole session: its state is never reset. The player's
notes are fed into it as they come (teacher forcing: TIME_SHIFT for the time since the last
token, VELOCITY when it changes, NOTE_ON / NOTE_OFF; an INSTRUMENT switch for a tokenizer with
instruments), so at the end of a phrase only the last silence is left to feed: O(1) per event.
Then

- ``answer(t, seconds)`` draws the reply through ``music.Performance`` (the one N-seconds loop),
  its first draw held to a NOTE_ON so the answer starts at once, and with a tokenizer that has
  instruments held to the answer's instrument; ``finish_answer(t)`` tells the stream which of
  its notes the playback cut;
- ``accompany(t)`` draws the model's next events right after a player's note, up to its first
  TIME_SHIFT: it plays along, event by event; ``release(t)`` ends its notes.

Times are seconds on the caller's clock; each event returned is ``(time, pitch, velocity,
program, is_drum)`` (velocity 0 = off), what ``playback.events.note_event_messages`` takes.
No torch, no playback here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError, TokenizerError
from genrnn.generation.music import MusicPrimer, Performance
from genrnn.generation.stream import Stream
from genrnn.music.notes import NoteSequence
from genrnn.tokenizers.midi_events import (
    BIN_VELOCITY,
    INSTRUMENT,
    NOTE_OFF,
    NOTE_ON,
    STEP_SECONDS,
    TIME_SHIFT,
    VELOCITY,
    MidiEventTokenizer,
    shift_ids,
    velocity_bin,
)

MAX_REST = 2.0  # a longer silence is fed as this long: the model never trained on minutes of it
ACCOMPANY_TOKENS = 6  # at most this many tokens drawn after each player's note

JamEvent = tuple[float, int, int, int, bool]  # (time, pitch, velocity, program, is_drum)


@dataclass
class VoiceCounts:
    fed: int = 0  # tokens fed from the player (and the silences)
    drawn: int = 0  # tokens the model drew
    accompany_calls: int = 0


class JamVoice:
    """See the module docstring. ``program`` / ``is_drum``: the answer's instrument when the
    caller does not name one (what a tokenizer without instruments plays as)."""

    def __init__(self, stream: Stream, tokenizer: MidiEventTokenizer, max_rest: float = MAX_REST) -> None:
        if getattr(tokenizer, "kind", None) != "midi_events":
            raise ConfigError(f"a jam needs a MIDI-event model; this tokenizer is {getattr(tokenizer, 'kind', '?')!r}")
        self.stream, self.tokenizer, self.max_rest = stream, tokenizer, max_rest
        stream.allow_end = False  # a jam is not ended by the model (accompaniment drew END)
        self._grammar = stream.grammars[0]  # the notes the stream thinks sound, the instrument in force
        self.at: float | None = None  # the clock time the stream's position stands for
        self.vbin = -1  # the velocity bin in force in the stream (-1: the default)
        self.player: Counter[tuple[int, int]] = Counter()  # the player's keys down, per (slot, pitch)
        self.counts = VoiceCounts()
        self._perf: Performance | None = None
        self._answer_drawn = 0  # tokens of the current answer looked at
        self._kept_instruments: tuple[str, ...] | None = None  # the settings' own, during a reply
        self._accomp = tokenizer.stream_decoder()  # decodes the model's drawn accompaniment only
        self._on_ids = [NOTE_ON + p for p in range(128)]

    # -------------------------------------------------------------- the stream, token by token

    @property
    def slot(self) -> int:
        """The instrument slot in force in the stream (0 without instruments)."""
        return self._grammar.slot

    @property
    def sounding(self) -> dict[tuple[int, int], int]:
        """(slot, pitch) → onset step of the notes the stream thinks sound (the grammar's)."""
        return self._grammar.sounding

    def _saw(self, token: int) -> None:
        """Keep the clock and the velocity in step with a fed or drawn token (the grammar keeps
        the notes and the instrument)."""
        if TIME_SHIFT <= token < VELOCITY:
            if self.at is not None:
                self.at += (token - TIME_SHIFT + 1) * STEP_SECONDS
        elif VELOCITY <= token < INSTRUMENT:
            self.vbin = token - VELOCITY

    def _feed(self, ids: list[int]) -> None:
        for token in ids:
            self.stream.feed([token])
            self._saw(token)
        self.counts.fed += len(ids)

    def _draw(self) -> int:
        token = next(self.stream).token
        self._saw(token)
        self.counts.drawn += 1
        return token

    def slot_of(self, program: int, is_drum: bool = False) -> int:
        """The instrument slot a note of ``program`` is fed as (0 without instruments)."""
        if self.tokenizer.instruments is None:
            return 0
        try:
            return self.tokenizer.instrument_id(program, is_drum) - INSTRUMENT
        except TokenizerError as exc:
            raise ConfigError(f"program {program}: {exc}") from exc

    def _switch(self, slot: int) -> list[int]:
        return [INSTRUMENT + slot] if self.tokenizer.instruments is not None and slot != self.slot else []

    # -------------------------------------------------------------- hearing the player

    def wait(self, t: float) -> None:
        """Feed the silence up to ``t`` (at most ``max_rest`` of it)."""
        if self.at is None:
            self.at = t
            return
        steps = round((t - self.at) / STEP_SECONDS)
        if steps <= 0:
            return
        cap = round(self.max_rest / STEP_SECONDS)
        self._feed(shift_ids(min(steps, cap)))
        if steps > cap:
            self.at = t

    def hear(self, t: float, pitch: int, velocity: int, program: int = 0, is_drum: bool = False) -> None:
        """A player's note-on (velocity > 0) or note-off at ``t``. A key struck twice (two
        channels) re-strikes; the model hears it released when the last of them is."""
        self.wait(t)
        slot = self.slot_of(program, is_drum)
        key = (slot, int(pitch))
        if velocity > 0:
            self.player[key] += 1
            b = velocity_bin(velocity)
            self._feed([*self._switch(slot), *([VELOCITY + b] if b != self.vbin else []), NOTE_ON + key[1]])
            return
        if self.player[key] <= 0:
            self.player.pop(key, None)
            return
        self.player[key] -= 1
        if self.player[key] == 0:
            del self.player[key]
            if key in self.sounding:
                self._feed([*self._switch(slot), NOTE_OFF + key[1]])

    def let_go(self, t: float) -> None:
        """The player's keys still down are released for the model (the end of a call that ran
        past ``max_call``, an input that went away); their real note-offs later are ignored."""
        self.wait(t)
        for slot, pitch in sorted(self.player):
            if (slot, pitch) in self.sounding:
                self._feed([*self._switch(slot), NOTE_OFF + pitch])
        self.player.clear()

    # -------------------------------------------------------------- answering

    def answer(self, t: float, seconds: float, program: int = 0, is_drum: bool = False) -> Iterator[JamEvent]:
        """The model's reply, starting at ``t``, ``seconds`` long; times from 0 (the reply's
        start). Lazy: one token drawn per ``next()``. Call ``finish_answer`` after it."""
        self.let_go(t)
        slot = self.slot_of(program, is_drum)
        switch = self._switch(slot)
        self._feed(switch)
        # What the reply's decoder must know: the instrument and the velocity in force.
        context = [INSTRUMENT + slot] if self.tokenizer.instruments is not None else []
        context += [VELOCITY + self.vbin] if self.vbin >= 0 else []
        perf = Performance(self.stream, self.tokenizer, MusicPrimer(context, NoteSequence(), 0.0), seconds)
        self._perf, self._answer_drawn = perf, 0
        self.stream.restrict_next(self._on_ids)  # the reply starts with a note, now
        if self.tokenizer.instruments is not None:  # the reply keeps to its instrument
            self._kept_instruments = self.settings.instruments
            self.settings = replace(self.settings, instruments=("drums" if is_drum else str(program),))
        merged = self.tokenizer.instruments is None
        return self._answer_events(perf, program if merged else None, is_drum)

    def _catch_up(self, perf: Performance) -> None:
        """Look at the reply's tokens drawn since the last look."""
        for token in perf.tokens[self._answer_drawn:]:
            self._saw(token)
        self.counts.drawn += len(perf.tokens) - self._answer_drawn
        self._answer_drawn = len(perf.tokens)

    def _answer_events(self, perf: Performance, program: int | None, is_drum: bool) -> Iterator[JamEvent]:
        for events in perf:
            self._catch_up(perf)
            for ev in events:
                if program is None:
                    yield (ev.time, ev.pitch, ev.velocity, ev.program, ev.is_drum)
                else:
                    yield (ev.time, ev.pitch, ev.velocity, program, is_drum)

    def finish_answer(self, t: float) -> None:
        """After the reply played (or was cut at ``t``): the model's notes still open in the
        stream are released, and the stream's clock is where the reply's drawing reached."""
        perf, self._perf = self._perf, None
        if perf is None:
            return
        self._catch_up(perf)  # drawn but not yet looked at
        perf.close()
        if self._kept_instruments is not None:  # a controller may have moved meanwhile: keep that
            self.settings = replace(self.settings, instruments=self._kept_instruments)
            self._kept_instruments = None
        for slot, pitch in sorted(key for key in self.sounding if key not in self.player):
            self._feed([*self._switch(slot), NOTE_OFF + pitch])
        if self.at is None or self.at < t - self.max_rest:
            self.at = t

    # -------------------------------------------------------------- playing along

    def accompany(self, t: float, max_tokens: int = ACCOMPANY_TOKENS) -> list[JamEvent]:
        """The model's next events after the player's last one: drawn until its first
        TIME_SHIFT (or ``max_tokens``); each is for now (``t``)."""
        self.wait(t)
        dec = self._accomp
        out: list[JamEvent] = []
        self.counts.accompany_calls += 1
        dec.slot = self.slot  # the decoder sees every token drawn from here on
        if self.vbin >= 0:
            dec.velocity = BIN_VELOCITY[self.vbin]
        for _ in range(max_tokens):
            token = self._draw()
            if TIME_SHIFT <= token < VELOCITY:
                break
            out.extend((t, ev.pitch, ev.velocity, ev.program, ev.is_drum) for ev in dec.feed(token))
        return out

    def release(self, t: float) -> list[JamEvent]:
        """Note-offs for the accompaniment still sounding (the end of a phrase, a mode switch)."""
        self.wait(t)
        out = [(t, ev.pitch, 0, ev.program, ev.is_drum) for ev in self._accomp.close()]
        for _, pitch, _, program, drum in out:
            slot = self.slot_of(program, drum)
            if (slot, pitch) in self.sounding and (slot, pitch) not in self.player:
                self._feed([*self._switch(slot), NOTE_OFF + pitch])
        return out

    # -------------------------------------------------------------- settings

    @property
    def settings(self) -> SampleConfig:
        return self.stream.settings

    @settings.setter
    def settings(self, value: SampleConfig) -> None:
        """From the next draw on (a controller moved)."""
        self.stream.settings = value
