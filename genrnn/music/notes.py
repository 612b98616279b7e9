"""Notes and note sequences: the one in-memory form of music in genrnn."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".smf")  # what counts as a MIDI file by name


@dataclass(frozen=True, slots=True)
class Note:
    """One sounding note. Times are in seconds from the start of the piece."""

    pitch: int  # MIDI pitch 0..127
    velocity: int  # 1..127
    start: float
    end: float
    program: int = 0  # General MIDI program 0..127
    is_drum: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(slots=True)
class NoteSequence:
    """A piece: notes sorted by (start, pitch), plus what is known of tempo and metre."""

    notes: list[Note] = field(default_factory=list)
    tempo_bpm: float | None = None
    time_signature: tuple[int, int] | None = None
    # (time in seconds, text) marker meta events, e.g. where a primer ends.
    markers: list[tuple[float, str]] = field(default_factory=list)
    # What the MIDI reader read as a player would hear it rather than as written, one short
    # name each (``midi_io.READ_AS``): e.g. "drums named by their track"; counted by corpus prep.
    read_as: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.notes.sort(key=lambda n: (n.start, n.pitch, n.end))

    @property
    def end_time(self) -> float:
        return max((n.end for n in self.notes), default=0.0)

    def __len__(self) -> int:
        return len(self.notes)

    def note_events(self) -> list[tuple[float, int, int, int, bool]]:
        """Every note as an onset and a release, ``(seconds, pitch, velocity, program,
        is_drum)`` (velocity 0 = off), sorted by time with the releases first at one instant
        (a repeated note retriggers): what ``playback.events.note_event_messages`` plays."""
        events = [(max(0.0, n.start), 1, n.pitch, n.velocity, n.program, n.is_drum) for n in self.notes]
        events += [(max(0.0, n.start, n.end), 0, n.pitch, 0, n.program, n.is_drum) for n in self.notes]
        events.sort(key=lambda e: (e[0], e[1]))
        return [(t, pitch, velocity, program, drum) for t, _, pitch, velocity, program, drum in events]

    def without_drums(self) -> NoteSequence:
        return replace(self, notes=[n for n in self.notes if not n.is_drum], markers=list(self.markers))

    def clipped(self, seconds: float) -> NoteSequence:
        """The notes that start before ``seconds``, cut to end there at the latest."""
        kept = [replace(n, end=min(n.end, seconds)) for n in self.notes if n.start < seconds]
        kept = [n for n in kept if n.end > n.start]
        marks = [(t, s) for t, s in self.markers if t <= seconds]
        return replace(self, notes=kept, markers=marks)

    def transposed(self, semitones: int) -> NoteSequence:
        """Shift every non-drum pitch; notes pushed outside 0..127 are dropped."""
        notes = [
            n if n.is_drum else replace(n, pitch=n.pitch + semitones)
            for n in self.notes
            if n.is_drum or 0 <= n.pitch + semitones <= 127
        ]
        return replace(self, notes=notes, markers=list(self.markers))

    def stretched(self, factor: float) -> NoteSequence:
        """Scale time by ``factor`` (>1 is slower)."""
        notes = [replace(n, start=n.start * factor, end=n.end * factor) for n in self.notes]
        tempo = self.tempo_bpm / factor if self.tempo_bpm else None
        marks = [(t * factor, s) for t, s in self.markers]
        return replace(self, notes=notes, tempo_bpm=tempo, markers=marks)


def resolve_overlaps(notes: list[Note]) -> list[Note]:
    """Notes such that no two of the same (program, drum, pitch) overlap in time.

    A MIDI channel (and the event tokenizer) cannot tell two sounding copies of one pitch
    apart, so a later onset ends the earlier note there (a re-strike); notes that start
    together merge into the longer one. The result is sorted like a NoteSequence.
    """
    ordered = sorted(notes, key=lambda n: (n.program, n.is_drum, n.pitch, n.start, -n.end, -n.velocity))
    out: list[Note] = []
    for note in ordered:
        prev = out[-1] if out else None
        same = prev is not None and (prev.program, prev.is_drum, prev.pitch) == (
            note.program,
            note.is_drum,
            note.pitch,
        )
        if same and note.start < prev.end:
            if note.start <= prev.start:
                continue  # same onset: keep the longer, then the louder (sorted first)
            out[-1] = replace(prev, end=note.start)
        out.append(note)
    out.sort(key=lambda n: (n.start, n.pitch, n.end))
    return out
