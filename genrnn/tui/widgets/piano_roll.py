"""A scrolling piano roll: pitch (rows) × time (columns), notes drawn as they arrive.

The view follows the newest note while generating and the playhead while playing. Each
refresh draws only the visible window, from notes kept sorted by start time.
"""

from __future__ import annotations

from bisect import bisect_left

from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from genrnn.music.notes import Note

NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK = {1, 3, 6, 8, 10}
GUTTER = 5
MARGIN = 2  # pitches of air above and below the notes

BG = Style.parse("on #1c1c1c")
BG_BLACK = Style.parse("on #121212")
BEAT = Style.parse("#303030 on #1c1c1c")
GUTTER_STYLE = Style.parse("#808080 on #262626")
GUTTER_C = Style.parse("bold #d0d0d0 on #262626")
PLAYHEAD = Style.parse("on #5f5f00")
SOUNDING = Style.parse("#ffffff on #1c1c1c")
MARK = Style.parse("bold #ffd75f on #1c1c1c")


def note_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def velocity_style(velocity: int) -> Style:
    shade = ("#5f87af", "#5fafd7", "#5fd7ff", "#87ffff")[min(3, max(0, velocity) // 32)]
    return Style.parse(f"{shade} on #1c1c1c")


class PianoRoll(Widget, can_focus=True):
    """Pitch × time; ``playhead`` in seconds (None when not playing)."""

    DEFAULT_CSS = """
    PianoRoll { background: #1c1c1c; }
    """

    seconds_per_column: reactive[float] = reactive(0.1)
    playhead: reactive[float | None] = reactive(None)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.notes: list[Note] = []
        self._starts: list[float] = []
        self.sounding: list[Note] = []
        self.marks: list[float] = []  # times where the temperature changed
        self.time = 0.0  # music time generated so far
        self._longest = 0.0

    def clear(self) -> None:
        self.notes, self._starts, self.sounding, self.marks = [], [], [], []
        self.time = self._longest = 0.0
        self.playhead = None
        self.refresh()

    def add(self, notes: list[Note], sounding: list[Note] | None = None, time: float | None = None) -> None:
        for note in notes:
            i = bisect_left(self._starts, note.start)
            self._starts.insert(i, note.start)
            self.notes.insert(i, note)
            self._longest = max(self._longest, note.end - note.start)
        self.sounding = list(sounding or [])
        if time is not None:
            self.time = max(self.time, time)
        self.refresh()

    def show(self, notes: list[Note], marks: list[float] | None = None) -> None:
        self.clear()
        self.marks = list(marks or [])
        ends = [n.end for n in notes]
        self.add(notes, time=max(ends, default=0.0))

    def watch_playhead(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ geometry
    def _pitch_range(self, rows: int) -> tuple[int, int]:
        pitches = [n.pitch for n in self.notes] + [n.pitch for n in self.sounding]
        lo, hi = (min(pitches), max(pitches)) if pitches else (60, 72)
        lo, hi = max(0, lo - MARGIN), min(127, hi + MARGIN)
        if hi - lo + 1 < rows:  # centre the notes in the rows available
            spare = rows - (hi - lo + 1)
            hi = min(127, hi + spare // 2)
            lo = max(0, hi - rows + 1)
            hi = min(127, lo + rows - 1)
        elif hi - lo + 1 > rows:  # too many pitches: the window that holds the most notes
            counts = [0] * 128
            for p in pitches:
                counts[p] += 1
            best = max(range(lo, hi - rows + 2), key=lambda b: sum(counts[b:b + rows]))
            lo, hi = best, best + rows - 1
        return lo, hi

    def _first_column(self, columns: int) -> int:
        focus = self.playhead if self.playhead is not None else self.time
        col = int(focus / self.seconds_per_column)
        return max(0, col - int(columns * (0.5 if self.playhead is not None else 0.85)))

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        columns = max(0, width - GUTTER)
        lo, hi = self._pitch_range(height)
        pitch = hi - y
        if pitch < lo or pitch < 0:
            return Strip.blank(width, BG)
        first = self._first_column(columns)
        return Strip(self._row(pitch, first, columns), width)

    def _row(self, pitch: int, first: int, columns: int) -> list[Segment]:
        spc = self.seconds_per_column
        bg = BG_BLACK if pitch % 12 in BLACK else BG
        cells: list[tuple[str, Style]] = [("·" if (first + c) % 10 == 0 else " ", BEAT if (first + c) % 10 == 0 else bg)
                                          for c in range(columns)]
        t0, t1 = first * spc, (first + columns) * spc
        lo_index = bisect_left(self._starts, t0 - self._longest)
        hi_index = bisect_left(self._starts, t1)
        for note in self.notes[lo_index:hi_index]:
            if note.pitch == pitch:
                self._paint(cells, note, first, columns, velocity_style(note.velocity))
        for note in self.sounding:
            if note.pitch == pitch:
                self._paint(cells, note, first, columns, SOUNDING)
        for t in self.marks:
            c = int(t / spc) - first
            if 0 <= c < columns:
                cells[c] = ("┆", MARK)
        if self.playhead is not None:
            c = int(self.playhead / spc) - first
            if 0 <= c < columns:
                cells[c] = (cells[c][0], cells[c][1] + PLAYHEAD)
        label = note_name(pitch) if pitch % 12 == 0 else ""
        segments = [Segment(f"{label:>4} ", GUTTER_C if label else GUTTER_STYLE)]
        segments.extend(Segment(ch, st) for ch, st in cells)
        return list(Segment.simplify(segments))

    def _paint(self, cells: list[tuple[str, Style]], note: Note, first: int, columns: int, style: Style) -> None:
        spc = self.seconds_per_column
        start = round(note.start / spc) - first
        end = max(start + 1, round(note.end / spc) - first)
        for c in range(max(0, start), min(columns, end)):
            cells[c] = ("█" if c > start else "▐", style)
