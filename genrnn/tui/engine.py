"""The TUI's one door to the model layers: ``genrnn.session``, imported on first use.

Everything here runs in worker threads. ``genrnn.session`` imports torch, so it is imported
inside functions, never at module import: the app draws its first frame without torch.
Results go back through an ``emit`` callable (the worker posts them as messages).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError, GenrnnError
from genrnn.music.notes import Note
from genrnn.tui.mix import Mix
from genrnn.tui.takes import Take

EMIT_INTERVAL = 0.03  # seconds between UI updates from a music stream (the roll, live playback)
# Text: seconds between chunks from the stream's loop. In the app the loop runs in its own
# process (text_process), whose chunks the screen takes at the pace its CPU budget allows.
TEXT_EMIT_INTERVAL = 0.1
MAX_MUSIC_TOKENS = 200_000


def session() -> ModuleType:
    import genrnn.session

    return genrnn.session


class ModelCache:
    """Loaded models by path; loading happens once, in whichever worker asks first."""

    def __init__(self) -> None:
        self._models: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Any:
        with self._lock:
            key = path.resolve()
            if key not in self._models:
                self._models[key] = session().load_model(path)
            return self._models[key]

    def loaded(self, path: Path) -> bool:
        return path.resolve() in self._models


def primer_ids(model: Any, kind: str, text: str, file: Path | None,
               conditions: Sequence[str] = ()) -> tuple[str, list[int] | None]:
    """(text shown before the stream, primer token ids) for a text or ABC model: the labels
    asked for (``file=hamlet``), then typed text, or a .txt/.abc file (ABC primers in the
    corpus's header form, through the session)."""
    if file is not None:
        if file.suffix.lower() in (".mid", ".midi"):
            raise ConfigError(f"{file.name}: a MIDI primer needs a MIDI-events model; this is a {kind} model")
        if file.suffix.lower() not in (".txt", ".abc"):
            raise ConfigError(f"{file.name}: a primer is a .txt, .abc or .mid file")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read the primer ({exc})") from None
    if kind == "abc":  # the tune separator, then the primer in the corpus's header form
        session().condition_labels(model, conditions)  # ABC models have no labels: asked for one, one clear error
        return session().abc_primer_ids(model, text or None)
    ids = session().condition_ids(model, conditions) + (model.encode_text(text) if text else [])
    return text, (ids or None)


def music_primer(model: Any, text: str, file: Path | None, conditions: Sequence[str] = ()) -> Any:
    """A MIDI-events model's primer: the labels asked for (the model draws the others when the
    stream opens), then the first seconds of a .mid file; None for neither."""
    if text:
        raise ConfigError("a MIDI-events model takes a .mid primer (ctrl+o), not typed text")
    labels = session().condition_labels(model, conditions)
    if file is not None:
        return session().read_music_primer(model, file, labels=labels)
    return session().label_primer(model, labels) if labels else None


@dataclass
class GenerateRequest:
    path: Path
    name: str
    kind: str
    settings: SampleConfig
    length: int = 500  # characters (text, ABC)
    seconds: float = 20.0  # music
    primer_text: str = ""
    primer_file: Path | None = None
    best_of: int = 1  # music: draw N pieces, keep the one the model's critic rates most real
    conditions: tuple[str, ...] = ()  # labels asked for (``mode=minor``): `genrnn sample --condition`


@dataclass
class Chunk:
    """What a stream produced since the last chunk."""

    pieces: list[tuple[str, float]] = field(default_factory=list)  # (text, temperature)
    notes: list[Note] = field(default_factory=list)  # closed notes
    sounding: list[Note] = field(default_factory=list)  # open notes, drawn to ``time``
    time: float = 0.0
    tokens: int = 0
    done: bool = False

    def add_text(self, text: str, temperature: float) -> None:
        if self.pieces and self.pieces[-1][1] == temperature:
            self.pieces[-1] = (self.pieces[-1][0] + text, temperature)
        else:
            self.pieces.append((text, temperature))


class StreamControl:
    """The UI thread's handle on a running stream: new settings and stop, thread-safe. A stream
    in another process (``text_process``) listens, and passes both on as they happen."""

    def __init__(self, settings: SampleConfig) -> None:
        self.settings = settings
        self._pending: SampleConfig | None = None
        self._listener: Callable[..., None] | None = None
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def listen(self, listener: Callable[..., None] | None) -> None:
        """``listener("settings", settings)`` on each update, ``listener("stop")`` on halt."""
        with self._lock:
            self._listener = listener

    def update(self, settings: SampleConfig) -> None:
        with self._lock:
            self._pending = settings
            self.settings = settings
            listener = self._listener
        if listener is not None:  # outside the lock: the listener may wait for its pipe
            listener("settings", settings)

    def halt(self) -> None:
        """Stop the stream (the take ends as stopped)."""
        self.stop.set()
        with self._lock:
            listener = self._listener
        if listener is not None:
            listener("stop")

    def pending(self) -> SampleConfig | None:
        with self._lock:
            pending, self._pending = self._pending, None
            return pending


def run_generation(req: GenerateRequest, take: Take, control: StreamControl, cache: ModelCache,
                   emit: Callable[[Chunk], None], cancelled: Callable[[], bool] = lambda: False,
                   text_process: Any = None) -> Take:
    """Stream from the model into ``take``, emitting a Chunk every ``EMIT_INTERVAL`` (music) or
    ``TEXT_EMIT_INTERVAL`` (text).
    A settings change from ``control`` applies to the very next token and is marked in the take.
    The take is marked done before its last chunk goes out, so the screen that gets it sees it
    done. Text and ABC run in ``text_process`` (a ``text_process.TextProcess``) when given,
    else here; MIDI events always here (the player reads their notes as they are made)."""

    def finish(chunk: Chunk) -> None:
        if chunk.done:
            take.stopped = control.stop.is_set() or cancelled()
            take.done = True
        emit(chunk)

    if req.kind == "midi_events":
        _run_music(cache.get(req.path), req, take, control, finish, cancelled)
    elif text_process is not None:
        text_process.run(req, take, control, finish)
    else:
        run_text(cache.get(req.path), req, take, control, finish, cancelled)
    return take  # marked done (and stopped or not) by its last chunk


def run_text(model: Any, req: GenerateRequest, take: Take, control: StreamControl,
              emit: Callable[[Chunk], None], cancelled: Callable[[], bool],
              opened: Callable[[Take], None] = lambda take: None) -> None:
    """The text and ABC loop (here, or in ``text_process``'s child); ``opened(take)`` once the
    stream is primed, with the seed and an ABC tune's header in the take."""
    head, primer = primer_ids(model, req.kind, req.primer_text, req.primer_file, req.conditions)
    stream = session().open_stream(model, req.settings, primer)
    take.labels = stream.labels
    if req.kind == "abc" and head:
        take.text = head  # the tune's header is part of the take (saved, parsed)
    take.seed = stream.seed
    opened(take)
    chunk, last = Chunk(), time.monotonic()
    temperature = req.settings.temperature
    while len(take.text) < req.length and not (control.stop.is_set() or cancelled()):
        pending = control.pending()
        if pending is not None:
            stream.settings = pending  # the very next token is drawn with it
            if pending.temperature != temperature:
                temperature = pending.temperature
                take.marks.append((len(take.text), temperature))
        token = next(stream).token
        take.tokens.append(token)
        piece = model.decode([token])
        take.text += piece
        chunk.tokens += 1
        chunk.add_text(piece, temperature)
        if time.monotonic() - last >= TEXT_EMIT_INTERVAL:
            emit(chunk)
            chunk, last = Chunk(), time.monotonic()
    chunk.done = True
    emit(chunk)


def _run_music(model: Any, req: GenerateRequest, take: Take, control: StreamControl,
               emit: Callable[[Chunk], None], cancelled: Callable[[], bool]) -> None:
    """The session's one music loop (``Performance``), as `genrnn sample` runs it: the primer's
    notes, then the model's, to the seconds asked. Every note event goes into the take as it is
    decoded (a take plays while it is made), every closed note into the take and the chunk."""
    from genrnn.music import midi_io  # noqa: F401  # pretty_midi (the legend's GM names) loads here, not on the UI thread

    primer = music_primer(model, req.primer_text, req.primer_file, req.conditions)
    if req.best_of > 1:
        _run_best_of(model, req, take, control, emit, cancelled, primer)
        return
    performance = session().perform(model, req.settings, primer, req.seconds, MAX_MUSIC_TOKENS)
    take.seed = performance.stream.seed
    take.labels = performance.stream.labels
    chunk, last, seen = Chunk(), time.monotonic(), 0
    if primer is not None:
        take.notes.extend(primer.sequence.notes)
        chunk.notes.extend(primer.sequence.notes)
        take.events.extend(primer.sequence.note_events())

    def record(events: list[Any]) -> None:
        nonlocal seen
        take.events.extend((ev.time, ev.pitch, ev.velocity, ev.program, ev.is_drum) for ev in events)
        closed, seen = performance.notes[seen:], len(performance.notes)
        take.notes.extend(closed)
        chunk.notes.extend(closed)

    temperature = req.settings.temperature
    while not performance.done and not (control.stop.is_set() or cancelled()):
        pending = control.pending()
        if pending is not None:
            performance.stream.settings = pending  # the very next token is drawn with it
            if pending.temperature != temperature:
                temperature = pending.temperature
                take.marks.append((performance.time, temperature))
        record(next(performance))
        take.tokens.append(performance.tokens[-1])
        chunk.tokens += 1
        if time.monotonic() - last >= EMIT_INTERVAL and not performance.done:
            chunk.time, chunk.sounding = performance.time, performance.sounding_notes()
            emit(chunk)
            chunk, last = Chunk(), time.monotonic()
    record(performance.close())
    chunk.time, chunk.done = performance.time, True
    emit(chunk)


def _run_best_of(model: Any, req: GenerateRequest, take: Take, control: StreamControl,
                 emit: Callable[[Chunk], None], cancelled: Callable[[], bool], primer: Any) -> None:
    """Best of N (``session.rerank``, as `genrnn sample --best-of N`): the pieces are drawn out
    of sight, a chunk after each (the status counts them), and the one the model's critic
    (``NAME.critic.safetensors`` beside it) rates most real becomes the take. Stop keeps the
    best of those drawn so far."""
    critic = session().model_critic(model)
    stop = lambda: control.stop.is_set() or cancelled()  # noqa: E731

    def progress(drawn: int, total: int) -> None:
        take.candidates = drawn
        if drawn < total:
            emit(Chunk())

    ranked = session().rerank(model, req.settings, req.best_of, critic, primer, req.seconds, MAX_MUSIC_TOKENS,
                              cancelled=stop, progress=progress)
    sample = ranked.sample
    take.seed, take.score, take.candidates = sample.seed, ranked.score, len(ranked.scores)
    take.labels = sample.labels
    take.tokens.extend(sample.tokens)
    take.notes.extend(sample.sequence.notes)
    take.events.extend(sample.sequence.note_events())
    emit(Chunk(notes=list(sample.sequence.notes), time=sample.sequence.end_time, tokens=len(sample.tokens),
               done=True))


# ---------------------------------------------------------------------------------- playback


class Player:
    """Plays one take at a time to a named output; stop() from any thread.

    ``start`` claims the player on the UI thread, and from then until ``play`` returns it is
    ``playing``: while an ABC take is parsed (music21 can take a second) as well as while it
    sounds. So a second press of space stops it, never starts a second player that the first
    could no longer be told apart from.

    ``mix`` is the mute and solo of instruments: asked at every note about to be sent, so a
    change while a take plays applies from the next note on (``playback.gate``)."""

    def __init__(self) -> None:
        self.scheduler: Any = None
        self.started: float | None = None
        self.take: Take | None = None
        self.mix = Mix()
        self._lock = threading.Lock()

    @property
    def playing(self) -> bool:
        """Preparing or sounding."""
        return self.scheduler is not None

    def position(self) -> float | None:
        return None if self.started is None else time.monotonic() - self.started

    def start(self, take: Take) -> Any:
        """Claim the player for ``take``: its Scheduler, or None when it is already busy."""
        from genrnn.playback import Scheduler

        with self._lock:
            if self.scheduler is not None:
                return None
            self.scheduler, self.take, self.started = Scheduler(), take, None
            return self.scheduler

    def play(self, take: Take, port: str, claim: Any = None) -> Any:
        """Blocking: play ``take`` to ``port`` and return the PlaybackStats. ``claim`` is what
        ``start(take)`` returned (without it the player is claimed here). A MIDI-events take
        still being generated plays as it is made (the model runs far ahead of real time). A
        stop() before the take is ready ends it there: nothing is sent, the stats say stopped.
        Instruments the mix silences are not sent: ``stats.notes`` counts the notes heard,
        ``stats.muted`` those held back."""
        from genrnn.errors import PlaybackError

        sched = claim if claim is not None else self.start(take)
        if sched is None:
            raise PlaybackError("the player is busy: stop it first")
        try:
            from genrnn.playback import PlaybackStats, play_stream, sequence_events
            from genrnn.playback.gate import open_gated

            if take.kind == "midi_events" and not take.done:
                events: Any = live_messages(take, stopping=lambda: sched.stopping)
            else:
                events = sequence_events(take.sequence())
                if not events:
                    raise ConfigError(f"take #{take.number} has no notes to play")
            if sched.stopping:
                return PlaybackStats(stopped=True)
            with open_gated(port, self.mix.audible) as out:
                self.started = time.monotonic()
                stats = play_stream(events, out, scheduler=sched)
            stats.notes -= out.held_back
            stats.muted = out.held_back
            return stats
        finally:
            with self._lock:
                if self.scheduler is sched:
                    self.scheduler, self.started = None, None

    def stop(self) -> None:
        sched = self.scheduler
        if sched is not None:
            sched.stop()


def live_messages(take: Take, poll: float = 0.005, stopping: Callable[[], bool] = lambda: False) -> Any:
    """The take's note events as TimedMessages while the worker appends them; waits when it has
    caught up with the generator, ends when the take is done and every event has been sent, or
    at once when ``stopping()`` (a stop never waits for the generator)."""
    from genrnn.playback.events import note_event_messages

    def events() -> Any:
        sent = 0
        while not stopping():
            if sent < len(take.events):
                sent += 1
                yield take.events[sent - 1]
            elif take.done:
                return
            else:
                time.sleep(poll)

    return note_event_messages(events())


def list_ports() -> tuple[list[tuple[str, str, bool]], str | None]:
    """(name, description, available) for every output, and why OS ports are missing."""
    from genrnn.playback import list_outputs

    listing = list_outputs()
    return [(o.name, o.description, o.available) for o in listing.ports], listing.os_error


def error_text(exc: BaseException) -> str:
    if isinstance(exc, GenrnnError | OSError | ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
