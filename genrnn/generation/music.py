"""Music from the stream: primers, N seconds of music, ABC tunes, and the files they go to.

Event models (``midi_events``) are primed with the first seconds of a NoteSequence and run
until the ``EventStreamDecoder``'s musical time passes the bound (``Performance``: the one loop
every front end uses, token by token or to the end); ABC models (a char tokenizer trained on
ABC tunes) write one tune at a time, up to the blank line that separates tunes in the corpus.

No torch here. A ``model`` is a ``session.Model`` (``path``, ``kind``, ``tokenizer``,
``training``, ``encode_text`` and ``backend(batch)``); its streams come from
``stream.open_stream``, on the NumPy back-end for an LSTM on the CPU, so a piece is written
before PyTorch could have been imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from genrnn.config import SampleConfig
from genrnn.errors import ConfigError, MidiConversionError
from genrnn.generation.stream import open_stream
from genrnn.music import notation
from genrnn.music.notes import MIDI_SUFFIXES, Note, NoteSequence
from genrnn.tokenizers.midi_events import (
    END,
    STEP_SECONDS,
    EventStreamDecoder,
    MidiEventTokenizer,
    NoteEvent,
    shift_ids,
)

PRIMER_MARKER = "primer end"
TUNE_SEPARATOR = "\n\n"  # records of an ABC corpus are separated by one blank line
TOKENS_PER_SECOND_CAP = 400  # a runaway model that never shifts time stops here


@dataclass
class MusicPrimer:
    """What an event model is primed with: START, then the primer's events."""

    ids: list[int]
    sequence: NoteSequence  # the primer notes as given (clipped to the primer length)
    end_time: float  # seconds: where the primer ends and generation starts


@dataclass
class MusicSample:
    """One generated piece: the primer's notes, then the model's, as one sequence."""

    sequence: NoteSequence
    tokens: list[int]  # generated ids (primer excluded)
    primer_end: float  # seconds
    ended: bool  # the model wrote END before the time bound
    seed: int = 0
    drawn_labels: list[str] = field(default_factory=list)  # labels the model chose (conditions.label_plan)
    labels: list[str] = field(default_factory=list)  # every label it holds, given or drawn, in training order

    @property
    def generated_seconds(self) -> float:
        return max(0.0, self.sequence.end_time - self.primer_end)


@dataclass
class TuneSample:
    """One ABC tune written by a char model; ``error`` says why music21 rejects it, if it does."""

    text: str
    ended: bool  # reached the blank line that ends a tune (else the length cap cut it)
    error: str | None = None
    seed: int = 0
    sequence: NoteSequence | None = field(default=None, repr=False)

    @property
    def parses(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------- event models


def _decoded(tokenizer: MidiEventTokenizer, ids: list[int]) -> EventStreamDecoder:
    """A stream decoder that has read ``ids`` (its time and instrument are theirs)."""
    decoder = tokenizer.stream_decoder()
    for t in ids:
        decoder.feed(t)
    return decoder


def primer_from_sequence(tokenizer: MidiEventTokenizer, seq: NoteSequence, seconds: float | None,
                         name: str = "primer", labels: Sequence[str] = ()) -> MusicPrimer:
    """START (+ conditioning ``labels``) + the events of the first ``seconds`` of ``seq``
    (its instruments and drums kept by a tokenizer with instruments, drums dropped by one
    without), padded with time shifts so generation starts ``seconds`` in (or at the end of a
    shorter primer)."""
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"--primer-seconds {seconds:g}: expected a positive number of seconds")
    whole = seq if tokenizer.instruments is not None else seq.without_drums()
    clipped = whole.clipped(seconds) if seconds is not None else whole
    if not clipped.notes:
        where = f"in its first {seconds:g} s" if seconds is not None else "(drums only)"
        raise MidiConversionError(f"{name}: the primer has no notes {where}")
    ids = [*tokenizer.start_tokens(labels), *(int(t) for t in tokenizer.encode(clipped))]
    target = min(seconds, whole.end_time) if seconds is not None else whole.end_time
    ids += shift_ids(round((target - _decoded(tokenizer, ids).time) / STEP_SECONDS))
    return MusicPrimer(ids, clipped, _decoded(tokenizer, ids).time)


def empty_primer(tokenizer: MidiEventTokenizer, labels: Sequence[str] = ()) -> MusicPrimer:
    """START and the conditioning ``labels``: a piece from nothing but its labels (one-to-many)."""
    return MusicPrimer(list(tokenizer.start_tokens(labels)), NoteSequence(), 0.0)


class Performance:
    """The one "N seconds of music" loop: an event model's stream 0 played from a primer for
    ``seconds`` of musical time. ``genrnn sample`` runs it to the end (``run``), the TUI and live
    playback step it one token at a time (iterating gives each token's note events, decoded as
    it comes, O(1) per token), and ``eval`` and the critic draw their pieces through it too.

    It stops at the time bound, at END (only drawn with ``until_end``), or after ``max_tokens``
    (a runaway that never moves time: 400 tokens per second at most), and then closes the
    notes still sounding at the bound. ``close()`` stops it early the same way. ``sample()``
    is the piece: the primer's notes, then the model's, as one ``MusicSample``."""

    def __init__(self, stream: Any, tokenizer: MidiEventTokenizer, primer: MusicPrimer, seconds: float,
                 max_tokens: int | None = None, until_end: bool = False) -> None:
        if seconds <= 0:
            raise ConfigError(f"--seconds {seconds:g}: expected a positive number of seconds")
        self.stream, self.tokenizer, self.primer, self.seconds = stream, tokenizer, primer, seconds
        self.cap = max_tokens or int(seconds * TOKENS_PER_SECOND_CAP) + 100
        self.limit = primer.end_time + seconds
        self.tokens: list[int] = []  # every id drawn (primer excluded)
        self.notes: list[Note] = []  # generated notes closed so far, in the order they closed
        self.sounding: dict[tuple[int, bool, int], tuple[float, int]] = {}  # (program, drum, pitch) → (start, vel)
        self.ended = False  # the model wrote END
        self.done = False
        self._decoder = _decoded(tokenizer, primer.ids)  # the instrument in force after the primer
        self._decoder.step = round(primer.end_time / STEP_SECONDS)
        stream.allow_end = until_end

    @property
    def time(self) -> float:
        """Musical time reached, in seconds from the start of the primer."""
        return min(self._decoder.time, self.limit)

    def __iter__(self) -> Iterator[list[NoteEvent]]:
        return self

    def __next__(self) -> list[NoteEvent]:
        if self.done:
            raise StopIteration
        token = next(self.stream).token
        self.tokens.append(token)
        events = self._decoder.feed(token)
        if token == END:
            self.ended, self.done = True, True
        elif self._decoder.time >= self.limit - 1e-9 or len(self.tokens) >= self.cap:
            events += self._close()
        self._track(events)
        return events

    def close(self) -> list[NoteEvent]:
        """Stop now (a user's stop): note-offs for every note still sounding."""
        events = [] if self.done else self._close()
        self._track(events)
        return events

    def _close(self) -> list[NoteEvent]:
        self.done = True
        return [replace(ev, time=min(ev.time, self.limit)) for ev in self._decoder.close()]

    def _track(self, events: list[NoteEvent]) -> None:
        for ev in events:
            key = (ev.program, ev.is_drum, ev.pitch)
            opened = self.sounding.pop(key, None)  # a re-strike closes the note it ends
            if opened is not None:
                start, velocity = opened
                self.notes.append(Note(ev.pitch, velocity, start, max(ev.time, start + STEP_SECONDS), *key[:2]))
            if ev.is_on:
                self.sounding[key] = (ev.time, ev.velocity)

    def sounding_notes(self) -> list[Note]:
        """The notes still sounding, drawn to the time reached."""
        return [Note(p, v, start, max(self.time, start + STEP_SECONDS), program, drum)
                for (program, drum, p), (start, v) in self.sounding.items()]

    def run(self) -> Performance:
        for _ in self:
            pass
        return self

    def sample(self) -> MusicSample:
        """The piece so far: primer + generated ids → one NoteSequence cut at the time bound,
        marked where the primer ends; tempo and metre are the primer's."""
        seq = self.tokenizer.decode(self.primer.ids + self.tokens).clipped(self.limit)
        seq = replace(seq, tempo_bpm=self.primer.sequence.tempo_bpm, time_signature=self.primer.sequence.time_signature,
                      markers=[(self.primer.end_time, PRIMER_MARKER)] if self.primer.sequence.notes else [])
        return MusicSample(seq, list(self.tokens), self.primer.end_time, self.ended, self.stream.seed,
                           list(getattr(self.stream, "drawn_labels", [])), list(getattr(self.stream, "labels", [])))


# ---------------------------------------------------------------- ABC (char) models


def generate_tune(stream: Any, chars: list[str], head: str, max_chars: int) -> tuple[str, bool]:
    """Characters of stream 0 after ``head`` until a blank line ends the tune or ``max_chars``."""
    body: list[str] = []
    tail = head[-1:] if head else ""
    for _ in range(max_chars):
        c = chars[next(stream).token]
        if c == "\n" and tail == "\n":
            return head + "".join(body), True
        body.append(c)
        tail = c
    return head + "".join(body), False


def check_tune(tune: TuneSample, name: str) -> TuneSample:
    """The tune with music21's verdict: its notes, or why it does not parse."""
    try:
        tune.sequence, tune.error = notation.abc_to_sequence(tune.text, name=name), None
    except MidiConversionError as exc:
        tune.sequence, tune.error = None, str(exc).removeprefix(f"{name}: ")
    return tune


def abc_primer_text(text: str, header_fields: tuple[str, ...]) -> str:
    """A user's ABC primer in the corpus's record form (kept header fields, K: last, body),
    its last newline dropped so the model continues the last line."""
    from genrnn.corpora.recipes import abc_record
    from genrnn.errors import CorpusError

    tunes = notation.split_abc_tunes(text) or [text]
    try:
        record = abc_record(tunes[0], header_fields)
    except CorpusError:
        return text.strip("\n")
    return record.rstrip("\n")


# ---------------------------------------------------------------- whole pieces from a model


KIND_WORDS = {"midi_events": "MIDI-event", "text": "text", "abc": "ABC"}  # in messages to a user


def require_kind(model: Any, kinds: tuple[str, ...], what: str) -> None:
    if model.kind not in kinds:
        wanted = " or ".join(KIND_WORDS.get(k, k) for k in kinds)
        raise ConfigError(f"{model.path}: {what} needs a {wanted} model; this one is a "
                          f"{KIND_WORDS.get(model.kind, model.kind)} model")


def read_primer(model: Any, path: str | Path, seconds: float | None = 4.0, labels: Sequence[str] = ()
                ) -> MusicPrimer:
    """A .mid primer for an event model: its first ``seconds`` (all when None) as a
    ``MusicPrimer``. Wrong kind of model or file, unreadable MIDI, no notes → one-line errors."""
    from genrnn.music.midi_io import read_midi

    p = Path(path)
    if model.kind != "midi_events":
        raise ConfigError(f"--primer {p}: a MIDI primer needs a MIDI-event model; {model.path.name} is "
                          f"a {model.kind} model (give a text or .abc file)")
    if not p.is_file():
        raise ConfigError(f"--primer {p}: no such file")
    with p.open("rb") as fh:
        magic = fh.read(4)
    if p.suffix.lower() not in MIDI_SUFFIXES and magic != b"MThd":
        raise ConfigError(f"--primer {p}: not a MIDI file; {model.path.name} is a MIDI-event model "
                          f"(give a .mid file)")
    return primer_from_sequence(model.tokenizer, read_midi(p), seconds, name=f"--primer {p}", labels=labels)


def perform(model: Any, settings: SampleConfig, primer: MusicPrimer | None = None, seconds: float = 30.0,
            max_tokens: int | None = None, until_end: bool = False) -> Performance:
    """An event model's ``Performance``, ready to step: primer (or START alone), then up to
    ``seconds`` of generated music. The model's END is masked unless ``until_end``, which lets
    it finish the piece before ``seconds``."""
    require_kind(model, ("midi_events",), "sampling music")
    primer = primer or empty_primer(model.tokenizer)
    stream = open_stream(model, settings, primer.ids)  # the labels not given are drawn here (conditions.py)
    return Performance(stream, model.tokenizer, primer, seconds, max_tokens, until_end)


def sample_piece(model: Any, settings: SampleConfig, primer: MusicPrimer | None = None,
                 seconds: float = 30.0, max_tokens: int | None = None, until_end: bool = False) -> MusicSample:
    """One whole piece (``perform`` run to its end) → ``MusicSample``."""
    return perform(model, settings, primer, seconds, max_tokens, until_end).run().sample()


def save_piece(sample: MusicSample, path: str | Path, musicxml: bool = False) -> list[Path]:
    """Write a ``MusicSample`` as .mid (the primer-end marker included), plus .musicxml."""
    from genrnn.music.midi_io import write_midi

    p = Path(path)
    written = [write_midi(sample.sequence, p.with_suffix(".mid"))]
    if musicxml:
        from genrnn.music.notation import write_musicxml

        written.append(write_musicxml(sample.sequence, p.with_suffix(".musicxml")))
    return written


def abc_primer_ids(model: Any, text: str | None) -> tuple[str, list[int]]:
    """(head text, primer ids) for an ABC model: the tune separator, then the user's primer
    in the corpus's record form."""
    require_kind(model, ("abc",), "an ABC primer")
    fields = model.training.get("corpus", {}).get("recipe_settings", {}).get("header_fields")
    head = abc_primer_text(text, tuple(fields or ("M", "L", "K"))) if text else ""
    return head, model.encode_text(TUNE_SEPARATOR + head)


def write_tune(model: Any, settings: SampleConfig, primer_text: str | None = None,
               max_chars: int = 1500) -> TuneSample:
    """One whole tune's text from an ABC model (not parsed yet: ``check_tune``).

    The model first writes one tune that is thrown away: a fresh state primed with a bare
    separator is unlike any state seen in training (4× fewer unparseable tunes, measured)."""
    head, ids = abc_primer_ids(model, primer_text)
    chars = model.tokenizer.chars
    stream = open_stream(model, settings, model.encode_text(TUNE_SEPARATOR))
    _, ended = generate_tune(stream, chars, "", max_chars)  # warm-up tune
    if not ended:  # cut by the cap: end it with a separator (then the primer)
        stream.prime(ids)
    elif head:
        stream.prime(model.encode_text(head))
    text, ended = generate_tune(stream, chars, head, max_chars)
    return TuneSample(text, ended, None, stream.seed)


def save_tune_text(tune: TuneSample, path: str | Path) -> Path:
    abc = Path(path).with_suffix(".abc")
    abc.write_text(f"X:1\n{tune.text.rstrip()}\n", encoding="utf-8")
    return abc


def save_tune(tune: TuneSample, path: str | Path) -> list[Path]:
    """Write a ``TuneSample`` as .abc (always) and .mid (when it parses)."""
    written = [save_tune_text(tune, path)]
    if tune.sequence is not None:
        from genrnn.music.midi_io import write_midi

        written.append(write_midi(tune.sequence, Path(path).with_suffix(".mid")))
    return written
