"""Music from the stream: prime with notes, generate N seconds of musical time, write tunes.

Event models (``midi_events``) are primed with the first seconds of a NoteSequence and run
until the ``EventStreamDecoder``'s musical time passes the bound (or the model ends the piece);
ABC models (a char tokenizer trained on ABC tunes) write one tune at a time, up to the blank
line that separates tunes in the corpus. ``note_events`` is the live adapter: timed note
on/off events as the stream yields them, decoded one token at a time (never the whole piece).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from genrnn.errors import ConfigError, MidiConversionError
from genrnn.music import notation
from genrnn.music.notes import NoteSequence
from genrnn.tokenizers.midi_events import (
    END,
    MAX_SHIFT,
    STEP_SECONDS,
    TIME_SHIFT,
    EventStreamDecoder,
    MidiEventTokenizer,
    NoteEvent,
)

if TYPE_CHECKING:  # the torch-free sampler (light.py) streams through these functions too
    from genrnn.generation.stream import Generator

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
    drawn_labels: list[str] = field(default_factory=list)  # labels the model chose (conditions.labels_to_draw)

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


def _time_of(ids: list[int]) -> float:
    decoder = EventStreamDecoder()
    for t in ids:
        decoder.feed(t)
    return decoder.time


def _shift_ids(steps: int) -> list[int]:
    out = []
    while steps > 0:
        n = min(steps, MAX_SHIFT)
        out.append(TIME_SHIFT + n - 1)
        steps -= n
    return out


def primer_from_sequence(tokenizer: MidiEventTokenizer, seq: NoteSequence, seconds: float | None,
                         name: str = "primer", labels: Sequence[str] = ()) -> MusicPrimer:
    """START (+ conditioning ``labels``) + the events of the first ``seconds`` of ``seq``
    (drums dropped), padded with time shifts so generation starts ``seconds`` in (or at the
    end of a shorter primer)."""
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"--primer-seconds {seconds:g}: expected a positive number of seconds")
    whole = seq.without_drums()
    clipped = whole.clipped(seconds) if seconds is not None else whole
    if not clipped.notes:
        where = f"in its first {seconds:g} s" if seconds is not None else "(drums only)"
        raise MidiConversionError(f"{name}: the primer has no notes {where}")
    ids = [*tokenizer.start_tokens(labels), *(int(t) for t in tokenizer.encode(clipped))]
    target = min(seconds, whole.end_time) if seconds is not None else whole.end_time
    ids += _shift_ids(round((target - _time_of(ids)) / STEP_SECONDS))
    return MusicPrimer(ids, clipped, _time_of(ids))


def empty_primer(tokenizer: MidiEventTokenizer, labels: Sequence[str] = ()) -> MusicPrimer:
    """START and the conditioning ``labels``: a piece from nothing but its labels (one-to-many)."""
    return MusicPrimer(list(tokenizer.start_tokens(labels)), NoteSequence(), 0.0)


def next_token(stream: Generator, allow_end: bool = True) -> int:
    """Stream 0's next token, drawn under the event grammar (``generation/grammar.py``); with
    ``allow_end=False`` END is never drawn, so a piece runs to the caller's time bound."""
    stream.allow_end = allow_end
    return next(stream).token


def generate_events(stream: Generator, start_time: float, seconds: float,
                    max_tokens: int | None = None, allow_end: bool = True) -> tuple[list[int], bool]:
    """Step stream 0 until its musical time reaches ``start_time + seconds``, END (unless
    ``allow_end`` is False), or ``max_tokens``. Returns (generated ids, whether END came first)."""
    cap = max_tokens or int(seconds * TOKENS_PER_SECOND_CAP) + 100
    decoder = EventStreamDecoder()
    decoder.step = round(start_time / STEP_SECONDS)
    limit = start_time + seconds - 1e-9
    out: list[int] = []
    for _ in range(cap):
        token = next_token(stream, allow_end)
        out.append(token)
        if token == END:
            return out, True
        decoder.feed(token)
        if decoder.time >= limit:
            break
    return out, False


def build_sample(tokenizer: MidiEventTokenizer, primer: MusicPrimer, tokens: list[int],
                 seconds: float, ended: bool, seed: int = 0) -> MusicSample:
    """Primer + generated ids → one NoteSequence cut at the time bound, marked where the
    primer ends; tempo and metre are the primer's."""
    seq = tokenizer.decode(primer.ids + tokens).clipped(primer.end_time + seconds)
    seq = replace(seq, tempo_bpm=primer.sequence.tempo_bpm, time_signature=primer.sequence.time_signature,
                  markers=[(primer.end_time, PRIMER_MARKER)] if primer.sequence.notes else [])
    return MusicSample(seq, tokens, primer.end_time, ended, seed)


def note_events(stream: Generator, seconds: float | None = None, start_time: float = 0.0,
                record: list[int] | None = None, max_tokens: int | None = None,
                allow_end: bool = True) -> Iterator[NoteEvent]:
    """The live adapter: stream 0's tokens as timed note on/off events (velocity 0 = off),
    ``start_time`` + musical time from the decoder, O(1) per token. Stops at END (never
    drawn when ``allow_end`` is False), after
    ``seconds`` of music, or after ``max_tokens``; then closes the notes still sounding.
    Generated ids are appended to ``record`` when given (to save what was played)."""
    decoder = EventStreamDecoder()
    decoder.step = round(start_time / STEP_SECONDS)
    limit = None if seconds is None else start_time + seconds
    count = 0
    while max_tokens is None or count < max_tokens:
        token = next_token(stream, allow_end)
        count += 1
        if record is not None:
            record.append(token)
        if token == END:
            break
        events = decoder.feed(token)
        if limit is not None and decoder.time >= limit - 1e-9:
            yield from events
            break
        yield from events
    for ev in decoder.close():
        yield NoteEvent(ev.time if limit is None else min(ev.time, max(limit, start_time)), ev.pitch, 0)


# ---------------------------------------------------------------- ABC (char) models


def generate_tune(stream: Generator, chars: list[str], head: str, max_chars: int) -> tuple[str, bool]:
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


def check_tune(text: str, name: str) -> tuple[str | None, NoteSequence | None]:
    """(None, notes) when music21 parses the tune, else (the reason, None)."""
    try:
        return None, notation.abc_to_sequence(text, name=name)
    except MidiConversionError as exc:
        return str(exc).removeprefix(f"{name}: "), None


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
