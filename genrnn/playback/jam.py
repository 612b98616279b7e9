"""A jam: live MIDI in, the model's answer out, the whole session saved.

``JamSession`` runs on the calling thread. Inputs (``playback.inputs``) hand it timestamped
messages from their own threads through a queue; it keeps the player's notes, feeds them to a
*voice* (``generation.jam.JamVoice``, reached through the session: this layer imports no model
code) as they come, and finds where phrases end (``playback.phrases``). Then:

- ``answer`` mode: the voice's reply, clamp(call length × ``answer_scale``, ``min_answer``,
  ``max_answer``) seconds, plays through the one playback path: ``note_event_messages`` →
  ``Scheduler`` → ``Output`` (every note it sounds is released however it ends). A note from
  the player cuts the reply short (``interrupt``);
- ``accompany`` mode: after each of the player's notes the voice's next events are sent at once;
  its notes are released when the phrase ends.

MIDI controllers steer it live (``JamControls``): the mod wheel (CC 1) sets the temperature
0.1–2.0, CC 74 top-p 0.05–1.0, CC 80 (or ``toggle_note``) switches answer / accompany, the
sustain pedal (CC 64) ends a phrase at once. Bad input is survived and counted
(``JamStats.bad``). Library code: raises PlaybackError, never prints.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import mido

from genrnn.errors import ConfigError, PlaybackError
from genrnn.music.instruments import ChannelAllocator
from genrnn.music.notes import Note, NoteSequence
from genrnn.playback.clock import Clock, RealClock
from genrnn.playback.events import DRUM_CHANNEL, note_event_messages
from genrnn.playback.inputs import Input
from genrnn.playback.phrases import Phrase, PhraseDetector, PhraseRules
from genrnn.playback.ports import Output
from genrnn.playback.scheduler import Scheduler, percentile

MODES = ("answer", "accompany")
LATENCIES_KEPT = 100_000
# What an input's byte stream held (``InputCounts``), as the session's report names it.
INPUT_BAD = {"running_status": "running-status messages", "sysex": "sysex messages", "clock": "clock messages",
             "active_sensing": "active-sensing messages", "other_realtime": "other real-time messages",
             "system_common": "system-common messages", "stray_bytes": "stray bytes"}


class Voice(Protocol):
    """The model's side (``generation.jam.JamVoice``)."""

    settings: Any

    def hear(self, t: float, pitch: int, velocity: int, program: int = 0, is_drum: bool = False) -> None: ...

    def let_go(self, t: float) -> None: ...

    def answer(self, t: float, seconds: float, program: int = 0, is_drum: bool = False) -> Any: ...

    def finish_answer(self, t: float) -> None: ...

    def accompany(self, t: float) -> list[tuple]: ...

    def release(self, t: float) -> list[tuple]: ...


@dataclass(frozen=True)
class JamControls:
    """Which controller does what (None: nothing does it)."""

    temperature_cc: int | None = 1  # mod wheel
    temperature_range: tuple[float, float] = (0.1, 2.0)
    top_p_cc: int | None = 74  # "brightness", a knob on most controllers
    top_p_range: tuple[float, float] = (0.05, 1.0)
    toggle_cc: int | None = 80  # a button (general purpose 5): value ≥ 64 switches the mode
    toggle_note: int | None = None  # this key switches the mode (and plays nothing)

    def __post_init__(self) -> None:
        for name in ("temperature_cc", "top_p_cc", "toggle_cc", "toggle_note"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 127:
                raise ConfigError(f"--{name.replace('_', '-')} {value}: expected 0..127 or none")
        ccs = [c for c in (self.temperature_cc, self.top_p_cc, self.toggle_cc) if c is not None]
        if len(ccs) != len(set(ccs)):
            raise ConfigError(f"controller numbers {ccs}: each control needs its own CC")

    def describe(self) -> list[str]:
        out = []
        if self.temperature_cc is not None:
            out.append(f"CC {self.temperature_cc} → temperature {self.temperature_range[0]:g}–{self.temperature_range[1]:g}")
        if self.top_p_cc is not None:
            out.append(f"CC {self.top_p_cc} → top-p {self.top_p_range[0]:g}–{self.top_p_range[1]:g}")
        if self.toggle_cc is not None:
            out.append(f"CC {self.toggle_cc} ≥ 64 → switch answer/accompany")
        if self.toggle_note is not None:
            out.append(f"note {self.toggle_note} → switch answer/accompany")
        return out


@dataclass(frozen=True)
class JamOptions:
    mode: str = "answer"
    rules: PhraseRules = field(default_factory=PhraseRules)
    controls: JamControls = field(default_factory=JamControls)
    min_answer: float = 1.0
    max_answer: float = 8.0
    answer_scale: float = 1.0  # the answer lasts the call's length times this (then clamped)
    program: int | None = None  # the answer's GM program (None: the call's)
    interrupt: bool = True  # a note from the player cuts the answer short
    max_notes_per_second: float = 60.0  # past this the player's notes are recorded, not fed
    lookahead: float = 0.25
    preroll: float = 0.005  # the answer's time zero is this long after its first note is drawn
    max_seconds: float | None = None  # end the session after this long
    end_on_close: bool = False  # end the session when an input closes (a file always does)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"--mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if not 0 < self.min_answer <= self.max_answer:
            raise ConfigError(f"answer length {self.min_answer:g}..{self.max_answer:g} s: expected 0 < min ≤ max")
        if not self.answer_scale > 0:
            raise ConfigError(f"--answer-scale {self.answer_scale:g}: expected a positive factor")
        if self.program is not None and not 0 <= self.program <= 127:
            raise ConfigError(f"--program {self.program}: expected a GM program 0..127")
        if not self.max_notes_per_second > 0:
            raise ConfigError(f"--max-notes-per-second {self.max_notes_per_second:g}: expected a positive rate")


@dataclass
class JamStats:
    """What happened in a session. ``bad`` counts the input the session survived."""

    phrases: int = 0
    answers: int = 0
    interrupted: int = 0  # answers cut short by the player
    call_notes: int = 0  # note-ons received
    answer_notes: int = 0  # note-ons sent (answers and accompaniment)
    accompany_calls: int = 0
    accompany_silent: int = 0  # times the model chose to rest after a player's note
    mode_switches: int = 0
    control_changes: int = 0  # temperature / top-p moves
    phrase_reasons: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # phrase end (gap excluded) → first answer note
    accompany_latencies: list[float] = field(default_factory=list)  # input note arrival → model's events sent
    lateness: list[float] = field(default_factory=list)  # answer messages: sent − due (the jitter)
    bad: Counter[str] = field(default_factory=Counter)
    channels: set[int] = field(default_factory=set)  # the channels the player's notes came on
    output_error: str | None = None  # why the output failed (the session then ended, saved)
    ended: str = ""  # how the session ended
    duration: float = 0.0

    def live(self) -> dict[str, Any]:
        """What a live view shows, cheap enough to ask several times a second: the counts and
        the answer latency (one value a phrase; the per-message timing lists are not sorted)."""
        return {"phrases": self.phrases, "answers": self.answers, "call_notes": self.call_notes,
                "answer_notes": self.answer_notes, "latency_p95_ms": _ms(self.latencies, 95), "bad": dict(self.bad)}

    def summary(self) -> dict[str, Any]:
        return {
            **self.live(), "interrupted": self.interrupted,
            "accompany_calls": self.accompany_calls, "accompany_silent": self.accompany_silent,
            "mode_switches": self.mode_switches, "control_changes": self.control_changes,
            "phrase_reasons": dict(self.phrase_reasons), "latency_p50_ms": _ms(self.latencies, 50),
            "accompany_p95_ms": _ms(self.accompany_latencies, 95), "jitter_p99_ms": _ms(self.lateness, 99),
            "channels": sorted(c + 1 for c in self.channels),
            "output_error": self.output_error, "ended": self.ended, "duration_s": round(self.duration, 3),
        }


def _ms(values: list[float], q: float) -> float | None:
    return round(percentile(values, q) * 1e3, 3) if values else None


# Strikes of one instrument's pitch closer than this are kept apart by this much in the record:
# messages read in one socket read share a time stamp, and a .mid (2 ticks at 960 a second)
# cannot hold two notes of one pitch that start together.
RESTRIKE = 0.003


class NoteRecorder:
    """Pairs note-ons and note-offs of a MIDI message stream into ``Note``s (times from ``t0``),
    each with its channel's program; CC 123 / 120 end a channel's notes."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.notes: list[Note] = []
        self.open: dict[tuple[int, int], tuple[float, int]] = {}  # (channel, pitch) → (start, velocity)
        self.programs: dict[int, int] = {}
        self._onsets: dict[tuple[int, bool, int], float] = {}  # (program, drum, pitch) → its last start

    def message(self, t: float, msg: mido.Message) -> list[Note]:
        """Take one message at clock time ``t``; returns the notes it closed."""
        kind = msg.type
        closed: list[Note] = []
        if kind == "program_change":
            self.programs[msg.channel] = msg.program
        elif kind == "note_on" and msg.velocity > 0:
            key = (msg.channel, msg.note)
            if key in self.open:
                closed.append(self._close(key, t))  # a re-strike ends the note it repeats
            ident = (self.programs.get(msg.channel, 0), msg.channel == DRUM_CHANNEL, msg.note)
            start = max(t, self._onsets.get(ident, t - 1.0) + RESTRIKE)
            self._onsets[ident] = start
            self.open[key] = (start, msg.velocity)
        elif kind in ("note_on", "note_off"):
            if (msg.channel, msg.note) in self.open:
                closed.append(self._close((msg.channel, msg.note), t))
        elif kind == "control_change" and msg.control in (120, 123):
            closed += [self._close(key, t) for key in [k for k in self.open if k[0] == msg.channel]]
        return closed

    def release(self, t: float, channel: int, pitch: int) -> None:
        if (channel, pitch) in self.open:
            self._close((channel, pitch), t)

    def _close(self, key: tuple[int, int], t: float) -> Note:
        start, velocity = self.open.pop(key)
        self.notes.append(self._note(key, start, velocity, t))
        return self.notes[-1]

    def _note(self, key: tuple[int, int], start: float, velocity: int, t: float) -> Note:
        channel, pitch = key
        begin = max(0.0, start - self.t0)
        return Note(pitch, velocity, begin, max(begin + 0.001, t - self.t0), self.programs.get(channel, 0),
                    channel == DRUM_CHANNEL)

    def sounding(self, t: float) -> list[Note]:
        """The notes still open, drawn up to ``t`` (a live piano roll)."""
        return [self._note(key, start, velocity, t) for key, (start, velocity) in self.open.items()]

    def close_all(self, t: float) -> None:
        for key in list(self.open):
            self._close(key, t)

    def sequence(self) -> NoteSequence:
        return NoteSequence(notes=list(self.notes), tempo_bpm=120.0)


Listener = Callable[[str, float, mido.Message], None]  # ("call" | "answer", seconds from the start, message)


class RecordingSink:
    """Wraps an output's sink: every message that went out is recorded with its time."""

    def __init__(self, sink: Any, clock: Clock, recorder: NoteRecorder, listener: Listener | None = None) -> None:
        self.sink, self.clock, self.recorder, self.listener = sink, clock, recorder, listener
        self.first_on: float | None = None  # the first note-on since it was last reset

    def send(self, msg: mido.Message) -> None:
        self.sink.send(msg)
        now = self.clock.now()
        if msg.type == "note_on" and msg.velocity > 0 and self.first_on is None:
            self.first_on = now
        self.recorder.message(now, msg)
        if self.listener is not None:
            self.listener("answer", now - self.recorder.t0, msg)

    def close(self) -> None:
        self.sink.close()


class _Closed:
    """Marks an input that went away, in the queue."""


class JamSession:
    """One jam from ``run()`` to its end; see the module docstring."""

    def __init__(self, voice: Voice, output: Output, options: JamOptions | None = None,
                 clock: Clock | None = None, origin: float | None = None, listener: Listener | None = None) -> None:
        """``origin``: the clock time the saved session starts at (default: now). ``listener``
        hears every note and program message of the call as it is taken and of the answer as it
        is sent (a piano roll), on the session's thread: it must return at once."""
        self.voice, self.output = voice, output
        self.options = options or JamOptions()
        self.clock: Clock = clock or RealClock()
        self.mode = self.options.mode
        self.detector = PhraseDetector(self.options.rules)
        self.stats = JamStats()
        self.inputs: list[Input] = []
        self.t0 = self.clock.now() if origin is None else origin
        self.call = NoteRecorder(self.t0)
        self.answer = NoteRecorder(self.t0)
        self.listener = listener
        self.sink = RecordingSink(output.sink, self.clock, self.answer, listener)
        output.sink = self.sink  # everything sent (cleanup too) is recorded
        self._queue: queue.SimpleQueue[tuple[float, mido.Message | _Closed]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._sched: Scheduler | None = None
        self._channels = ChannelAllocator()  # the accompaniment's, kept across its events
        self._skipped: Counter[tuple[int, int]] = Counter()  # notes of a storm: recorded, not fed
        self._bucket = self._capacity = max(8.0, self.options.max_notes_per_second / 2)
        self._bucket_at = self.t0
        self._program = 0  # the call's instrument (its last program change)
        self._closed_inputs = 0
        self._first_channel: int | None = None

    # -------------------------------------------------------------- from other threads

    def deliver(self, t: float, msg: mido.Message | None) -> None:
        """An input's message (or None: the input closed). Any thread: what ``open_input``
        is given."""
        self._queue.put((t, _Closed() if msg is None else msg))
        sched = self._sched
        if (sched is not None and self.options.interrupt and msg is not None and msg.type == "note_on"
                and msg.velocity > 0 and msg.note != self.options.controls.toggle_note):
            sched.stop()

    def stop(self) -> None:
        """End the session soon (Ctrl-C, the TUI). Any thread."""
        self._stop.set()
        sched = self._sched
        if sched is not None:
            sched.stop()

    # -------------------------------------------------------------- the session

    def run(self, inputs: Sequence[Input] = ()) -> JamStats:
        """Listen, answer, until stopped, ``max_seconds`` passed, or (a file, ``end_on_close``)
        the input ended. Whatever ends it, every note sent is released and the notes are kept
        for ``save``. An output that fails ends the session (``stats.output_error``)."""
        self.inputs = list(inputs)
        started = self.clock.now()
        try:
            for inp in self.inputs:
                inp.start()
            self._loop(started)
        except PlaybackError as exc:
            self.stats.output_error = str(exc)
            self.stats.ended = "output failed"
        finally:
            self._finish()
        self.stats.duration = self.clock.now() - started
        return self.stats

    def _loop(self, started: float) -> None:
        limit = None if self.options.max_seconds is None else started + self.options.max_seconds
        while True:
            if self._stop.is_set():
                self.stats.ended = self.stats.ended or "stopped"
                return
            now = self.clock.now()
            if limit is not None and now >= limit:
                self.stats.ended = "time limit"
                return
            if self._finished():
                self.stats.ended = "input ended"
                return
            due = self.detector.due()
            wait = 0.05 if due is None else min(0.05, max(0.0, due - now))
            if limit is not None:
                wait = min(wait, max(0.0, limit - now))
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                item = None
            while item is not None:
                phrase = self.detector.poll(item[0])  # one that ended before this message came
                if phrase is not None:
                    self._phrase_ended(phrase)
                self._take(*item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            phrase = self.detector.poll(self.clock.now())
            if phrase is not None:
                self._phrase_ended(phrase)

    def _finished(self) -> bool:
        """Every input is done (or one closed with ``end_on_close``), nothing waits in the queue
        and no phrase is open."""
        if not self.inputs or self.detector.open or not self._queue.empty():
            return False
        if self.options.end_on_close and self._closed_inputs:
            return True
        return all(inp.done.is_set() and inp.kind == "file" for inp in self.inputs)

    def _finish(self) -> None:
        for inp in self.inputs:
            inp.close()
        self._record_rest()
        for inp in self.inputs:
            for name, count in inp.counts.as_dict().items():
                if count and name in INPUT_BAD:
                    self.stats.bad[INPUT_BAD[name]] += count
        now = self.clock.now()
        if self.stats.output_error is None:
            try:
                self._send_now(self.voice.release(now))
            except PlaybackError as exc:
                self.stats.output_error = str(exc)
        report = self.output.close()
        if report.error and self.stats.output_error is None:
            self.stats.output_error = report.error
        end = self.clock.now()
        self.call.close_all(end)
        self.answer.close_all(end)

    def _record_rest(self) -> None:
        """What the inputs sent that the session had no time to play (it ended): kept in the
        record all the same."""
        while True:
            try:
                t, msg = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(msg, _Closed) or msg.type not in ("note_on", "note_off", "program_change"):
                continue
            if msg.type == "note_on" and msg.velocity > 0:
                self.stats.call_notes += 1
            self.call.message(t, msg)

    # -------------------------------------------------------------- input

    def _take(self, t: float, msg: mido.Message | _Closed) -> None:
        if isinstance(msg, _Closed):
            self._input_closed(t)
            return
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            self._note_on(t, msg)
        elif kind in ("note_on", "note_off"):
            self._note_off(t, msg)
        elif kind == "control_change":
            self._control(t, msg)
        elif kind == "program_change":
            self._heard(t, msg)
            self._program = msg.program
        else:
            self.stats.bad["other messages"] += 1  # pitch bend, aftertouch: heard, not played

    def _input_closed(self, t: float) -> None:
        self._closed_inputs += 1
        held = self.detector.closed(t)
        if held:
            self.stats.bad["input closed mid-phrase"] += 1
            self.stats.bad["keys released by a closed input"] += len(held)
            for channel, pitch in held:
                self.call.release(t, channel, pitch)
            self.voice.let_go(t)

    def _heard(self, t: float, msg: mido.Message) -> None:
        """Into the record (and to the listener)."""
        self.call.message(t, msg)
        if self.listener is not None:
            self.listener("call", t - self.t0, msg)

    def _note_on(self, t: float, msg: mido.Message) -> None:
        controls = self.options.controls
        if msg.note == controls.toggle_note:
            self._toggle(t)
            return
        self.stats.call_notes += 1
        if self._first_channel is None:
            self._first_channel = msg.channel
        elif msg.channel != self._first_channel:
            self.stats.bad["notes on another channel"] += 1
        self.stats.channels.add(msg.channel)
        self._heard(t, msg)
        self.detector.note_on(t, msg.channel, msg.note)
        if not self._admit(t):
            self.stats.bad["storm notes not fed"] += 1
            self._skipped[(msg.channel, msg.note)] += 1
            return
        self.voice.hear(t, msg.note, msg.velocity, self._program, msg.channel == DRUM_CHANNEL)
        if self.mode == "accompany":
            self._accompany(t)

    def _note_off(self, t: float, msg: mido.Message) -> None:
        if msg.note == self.options.controls.toggle_note:
            return
        if not self.detector.note_off(t, msg.channel, msg.note):
            self.stats.bad["note-offs without note-on"] += 1
            return
        self._heard(t, msg)
        key = (msg.channel, msg.note)
        if self._skipped[key] > 0:
            self._skipped[key] -= 1
            if not self._skipped[key]:
                del self._skipped[key]
            return
        self.voice.hear(t, msg.note, 0, self._program, msg.channel == DRUM_CHANNEL)

    def _admit(self, t: float) -> bool:
        """A token bucket: at most ``max_notes_per_second`` notes a second reach the model."""
        rate = self.options.max_notes_per_second
        self._bucket = min(self._capacity, self._bucket + (t - self._bucket_at) * rate)
        self._bucket_at = max(self._bucket_at, t)
        if self._bucket < 1.0:
            return False
        self._bucket -= 1.0
        return True

    def _control(self, t: float, msg: mido.Message) -> None:
        c = self.options.controls
        if msg.control == c.temperature_cc:
            low, high = c.temperature_range
            self._set(temperature=round(low + (high - low) * msg.value / 127, 3))
        elif msg.control == c.top_p_cc:
            low, high = c.top_p_range
            self._set(top_p=round(low + (high - low) * msg.value / 127, 3))
        elif msg.control == c.toggle_cc:
            if msg.value >= 64:
                self._toggle(t)
        elif self.detector.control(t, msg.control, msg.value):
            pass  # the trigger ended the phrase: poll() returns it
        else:
            self.stats.bad["other controllers"] += 1

    def _set(self, **changes: float) -> None:
        self.voice.settings = dataclasses.replace(self.voice.settings, **changes)
        self.stats.control_changes += 1

    def _toggle(self, t: float) -> None:
        if self.mode == "accompany":
            self._send_now(self.voice.release(t))
        self.mode = "accompany" if self.mode == "answer" else "answer"
        self.stats.mode_switches += 1

    # -------------------------------------------------------------- the model's turn

    def _accompany(self, t: float) -> None:
        self.stats.accompany_calls += 1
        events = self.voice.accompany(self.clock.now())
        if not events:
            self.stats.accompany_silent += 1
            return
        self._send_now(events)
        if len(self.stats.accompany_latencies) < LATENCIES_KEPT:
            self.stats.accompany_latencies.append(self.clock.now() - t)

    def _send_now(self, events: list[tuple]) -> None:
        for ev in note_event_messages(events, self._channels):
            self.output.send(ev.msg)
            if ev.msg.type == "note_on" and ev.msg.velocity > 0:
                self.stats.answer_notes += 1

    def _phrase_ended(self, phrase: Phrase) -> None:
        self.stats.phrases += 1
        self.stats.phrase_reasons[phrase.reason] += 1
        now = self.clock.now()
        if self.mode == "accompany":
            self._send_now(self.voice.release(now))
            return
        if phrase.notes == 0:
            return
        o = self.options
        seconds = min(o.max_answer, max(o.min_answer, phrase.length * o.answer_scale))
        program = self._program if o.program is None else o.program
        events = self.voice.answer(now, seconds, program)
        sched = Scheduler(self.clock, lookahead=o.lookahead, preroll=o.preroll)
        self.sink.first_on = None
        self._sched = sched
        if self._stop.is_set():
            sched.stop()
        try:
            played = sched.play(note_event_messages(events), self.output)
        finally:
            self._sched = None
            self.voice.finish_answer(self.clock.now())
        self.stats.answers += 1
        self.stats.answer_notes += played.notes
        if played.cleanup is not None and played.cleanup.error:  # the port died as the answer ended
            raise PlaybackError(played.cleanup.error)
        if played.stopped and not self._stop.is_set():
            self.stats.interrupted += 1
        if self.sink.first_on is not None and len(self.stats.latencies) < LATENCIES_KEPT:
            self.stats.latencies.append(self.sink.first_on - phrase.due)
        if len(self.stats.lateness) < LATENCIES_KEPT * 10:
            self.stats.lateness.extend(played.lateness)

    # -------------------------------------------------------------- the record

    def sequences(self) -> tuple[NoteSequence, NoteSequence]:
        """(the player's notes, the model's notes), times from the session's start."""
        return self.call.sequence(), self.answer.sequence()

    def save(self, path: str | Path) -> Path:
        """The whole session as one .mid: the call's and the answer's notes on their own named
        tracks (``call: …``, ``answer: …``)."""
        from genrnn.music.midi_io import write_midi_parts

        call, answer = self.sequences()
        return write_midi_parts([("call", call), ("answer", answer)], path)
