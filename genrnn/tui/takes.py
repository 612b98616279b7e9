"""Takes: each generation of the session, what it can be saved as, and saving it.

A take is plain data (text, token ids, notes, the temperature marks); saving goes through
``music/`` and ``playback/`` (MIDI, MusicXML, WAV) and never touches torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrnn.music.notes import Note, NoteSequence

FORMATS = {
    "text": ("txt",),
    "abc": ("abc", "mid", "musicxml", "wav"),
    "midi_events": ("mid", "musicxml", "wav"),
}


@dataclass
class Take:
    """One generation: what model made it, with what settings, and what came out."""

    number: int
    model_name: str
    kind: str  # "text" | "abc" | "midi_events"
    temperature: float
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    text: str = ""
    tokens: list[int] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    # (position, temperature): a char index for text, seconds for music
    marks: list[tuple[float, float]] = field(default_factory=list)
    # MIDI-events takes: every decoded (seconds, pitch, velocity (0 = off), program, is_drum) in
    # stream order, appended by the generating worker, so a take plays while it is being made.
    events: list[tuple[float, int, int, int, bool]] = field(default_factory=list)
    done: bool = False
    stopped: bool = False
    error: str | None = None
    best_of: int = 1  # music: the pieces asked for; the critic kept the one it rated most real
    candidates: int = 0  # of them, drawn so far
    score: float | None = None  # the kept piece's P(real) by the critic
    labels: list[str] = field(default_factory=list)  # the labels it was made from, asked for or drawn, in training order


    @property
    def is_music(self) -> bool:
        return self.kind in ("abc", "midi_events")

    @property
    def formats(self) -> tuple[str, ...]:
        return FORMATS.get(self.kind, ("txt",))

    @property
    def size(self) -> str:
        if self.kind == "midi_events":
            end = max((n.end for n in self.notes), default=0.0)
            return f"{len(self.notes)} notes, {end:.1f} s"
        return f"{len(self.text)} chars"

    @property
    def label(self) -> str:
        state = "" if self.done else " …"
        temps = " → ".join(f"{t:.2f}" for t in self.temperatures)
        labels = f" · {' '.join(self.labels)}" if self.labels else ""
        return f"#{self.number} {self.model_name} · T {temps} · {self.size}{self.ranking}{labels}{state}"

    @property
    def ranking(self) -> str:
        """' · best of N (P(real) 0.71)' for a reranked take; '' otherwise."""
        if self.best_of <= 1:
            return ""
        if self.score is None:
            return f" · drawing {self.candidates} of {self.best_of}"
        return f" · best of {self.candidates} (P(real) {self.score:.2f})"

    @property
    def temperatures(self) -> list[float]:
        return [self.temperature, *[t for _, t in self.marks]]

    @property
    def stem(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.model_name).strip("-") or "take"
        return f"{safe}-take{self.number}"

    def sequence(self) -> NoteSequence:
        """The take's notes (an ABC take is parsed with music21 on first use)."""
        if self.kind == "abc" and not self.notes:
            from genrnn.music.notation import abc_to_sequence

            self.notes = list(abc_to_sequence(self.text, name=self.stem).notes)
        return NoteSequence(list(self.notes))

    def summary(self) -> dict[str, Any]:
        return {"take": self.number, "model": self.model_name, "kind": self.kind,
                "temperatures": self.temperatures, "top_k": self.top_k, "top_p": self.top_p,
                "seed": self.seed, "size": self.size, "best_of": self.best_of, "critic_score": self.score}


def save_take(take: Take, folder: Path, fmt: str) -> Path:
    """Write ``take`` as ``fmt`` into ``folder``; returns the path. Raises GenrnnError/OSError."""
    if fmt not in take.formats:
        raise ValueError(f"a {take.kind} take saves as {', '.join(take.formats)}, not .{fmt}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{take.stem}.{fmt}"
    if fmt in ("txt", "abc"):
        path.write_text(take.text, encoding="utf-8")
    elif fmt == "mid":
        from genrnn.music.midi_io import write_midi

        write_midi(take.sequence(), path)
    elif fmt == "musicxml":
        _write_musicxml(take, path)
    elif fmt == "wav":
        from genrnn.playback.synth import render_wav

        render_wav(take.sequence(), path)
    return path


def _write_musicxml(take: Take, path: Path) -> None:
    if take.kind == "abc":
        import warnings

        from genrnn.music.notation import abc_to_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            abc_to_score(take.text, name=take.stem).write("musicxml", fp=str(path))
        return
    from genrnn.music.notation import write_musicxml

    write_musicxml(take.sequence(), path)
