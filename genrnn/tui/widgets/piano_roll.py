"""A scrolling piano roll: pitch (rows) × time (columns), notes drawn as they arrive.

Each instrument has its colour (a hue per General MIDI family, lighter or darker by the program
within it; brighter for louder notes), named in a legend on the top line with its mute / solo
state. Drums are not pitches: they get their own lane at the bottom (hats and cymbals, toms and
other percussion, snare, kick, by GM drum note), so a kick (note 36) never looks like a low bass.

The view follows the newest note while generating and the playhead while playing. Each
refresh draws only the visible window, from notes kept sorted by start time.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from genrnn.music.instruments import (
    CYMBALS,
    FAMILIES,
    KICKS,
    SNARES,
    family_of,
    group_name,
    instrument_name,
)
from genrnn.music.notes import Note
from genrnn.tui.mix import InstrumentKey, Mix, instrument_key

NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK = {1, 3, 6, 8, 10}
GUTTER = 6
MARGIN = 2  # pitches of air above and below the notes

BG_HEX = "#1c1c1c"
BG = Style.parse(f"on {BG_HEX}")
BG_BLACK = Style.parse("on #121212")
BEAT = Style.parse(f"#303030 on {BG_HEX}")
GUTTER_STYLE = Style.parse("#808080 on #262626")
GUTTER_C = Style.parse("bold #d0d0d0 on #262626")
PLAYHEAD = Style.parse("on #5f5f00")
SOUNDING = Style.parse(f"#ffffff on {BG_HEX}")
MARK = Style.parse(f"bold #ffd75f on {BG_HEX}")
LEGEND_BG = "#262626"
LEGEND = Style.parse(f"#d0d0d0 on {LEGEND_BG}")
DRUM_RULE = Style.parse(f"#4e4e4e on {BG_HEX}")

# One hue per GM family (programs 8k..8k+7), none of them the yellow of the temperature marks and
# the playhead, nor the white of a sounding note; all readable on the dark background.
FAMILY_COLOURS = (
    "#5fafff",  # piano
    "#5fd7d7",  # chromatic percussion
    "#d75fd7",  # organ
    "#87d75f",  # guitar
    "#ff875f",  # bass
    "#d7af87",  # strings
    "#af87ff",  # ensemble
    "#ff5f5f",  # brass
    "#5fd7af",  # reed
    "#87afd7",  # pipe
    "#ff87af",  # synth lead
    "#8787d7",  # synth pad
    "#afaf87",  # synth effects
    "#d7875f",  # ethnic
    "#87afaf",  # percussive
    "#af8787",  # sound effects
)
DRUM_COLOUR = "#bcbcbc"
# How far toward white each of a family's eight programs is drawn (its first program: the hue).
PROGRAM_LIGHTEN = (0.0, 0.3, 0.15, 0.22, 0.08, 0.26, 0.11, 0.19)
VELOCITY_LEVELS = (0.55, 0.7, 0.85, 1.0)  # of the colour over the background, by velocity / 32
SILENT_LEVEL = 0.3  # an instrument the mix silences
TAGS = {"muted": " muted", "solo": " solo"}  # after a name in the legend
SHORT_TAGS = {"muted": "M", "solo": "S"}  # after a colour, when there is no room for names
MIX_HINT = "i m s: mute, solo"  # at the legend's end on the Generate screen (keys i, m, s)

# The drum lanes, top to bottom: (gutter label, GM drum notes); anything else is "toms".
DRUM_LANES = ("hats", "toms", "snare", "kick")
DRUM_BAND_MIN = 12  # rows below which the drums share one lane (no rule above it)


def note_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def drum_lane(pitch: int) -> int:
    """The lane (index into ``DRUM_LANES``) a GM drum note is drawn in."""
    if pitch in KICKS:
        return 3
    if pitch in SNARES:
        return 2
    if pitch in CYMBALS:
        return 0
    return 1


def _mix(colour: str, other: str, amount: float) -> str:
    a = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * amount):02x}" for x, y in zip(a, b, strict=True))


def instrument_colour(program: int, is_drum: bool) -> str:
    """The instrument's colour (hex), the same in every take."""
    if is_drum:
        return DRUM_COLOUR
    return _mix(FAMILY_COLOURS[family_of(program) % 16], "#ffffff", PROGRAM_LIGHTEN[int(program) % 8])


@lru_cache(maxsize=4096)
def note_style(program: int, is_drum: bool, velocity: int, silent: bool = False) -> Style:
    """A note's colour: its instrument's, dimmer when soft, dim when the mix silences it."""
    level = SILENT_LEVEL if silent else VELOCITY_LEVELS[min(3, max(0, velocity) // 32)]
    return Style.parse(f"{_mix(BG_HEX, instrument_colour(program, is_drum), level)} on {BG_HEX}")


@lru_cache(maxsize=256)
def instrument_label(key: InstrumentKey) -> str:
    return instrument_name(*key)


@dataclass(frozen=True)
class Frame:
    """What every line of one drawing of the roll shares (computed once a frame)."""

    width: int
    columns: int
    legend: int
    pitched: int
    drums: int
    first: int  # the first column's index in time
    lo: int  # the lowest and highest pitch shown
    hi: int
    silent: set[InstrumentKey]  # the instruments the mix silences
    window: list[Note]  # the closed notes that reach into the view


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
        self._pitches = [0] * 128  # closed pitched (not drum) notes per pitch
        self._keys: set[InstrumentKey] = set()
        self.mix: Mix | None = None
        self.selected: InstrumentKey | None = None
        self._frame: Frame | None = None  # while render_lines draws

    def clear(self) -> None:
        self.notes, self._starts, self.sounding, self.marks = [], [], [], []
        self.time = self._longest = 0.0
        self._pitches = [0] * 128
        self._keys = set()
        self.playhead = None
        self.refresh()

    def add(self, notes: list[Note], sounding: list[Note] | None = None, time: float | None = None) -> None:
        for note in notes:
            i = bisect_left(self._starts, note.start)
            self._starts.insert(i, note.start)
            self.notes.insert(i, note)
            self._longest = max(self._longest, note.end - note.start)
            self._keys.add(instrument_key(note.program, note.is_drum))
            if not note.is_drum:
                self._pitches[max(0, min(127, note.pitch))] += 1
        self.sounding = list(sounding or [])
        self._keys.update(instrument_key(n.program, n.is_drum) for n in self.sounding)
        if time is not None:
            self.time = max(self.time, time)
        self.refresh()

    def show(self, notes: list[Note], marks: list[float] | None = None) -> None:
        self.clear()
        self.marks = list(marks or [])
        ends = [n.end for n in notes]
        self.add(notes, time=max(ends, default=0.0))

    def set_mix(self, mix: Mix | None, selected: InstrumentKey | None = None) -> None:
        """Show the mute / solo state of ``mix`` in the legend, ``selected`` highlighted."""
        self.mix, self.selected = mix, selected
        self.refresh()

    @property
    def instruments(self) -> list[InstrumentKey]:
        """The instruments drawn, in legend order: GM programs, then the drums."""
        return sorted(self._keys, key=lambda k: (k[1], k[0]))

    @property
    def has_drums(self) -> bool:
        return any(drum for _, drum in self._keys)

    def watch_playhead(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ geometry
    def layout_rows(self, height: int) -> tuple[int, int, int]:
        """(legend, pitched, drum) rows: the legend on top once there are notes, the drums
        at the bottom (a rule marked "drums" and four lanes; one lane when the roll is short)."""
        legend = 1 if self._keys and height >= 3 else 0
        room = height - legend
        if not self.has_drums:
            return legend, room, 0
        drums = len(DRUM_LANES) + 1 if room >= DRUM_BAND_MIN else min(1, room)
        return legend, room - drums, drums

    def _pitch_range(self, rows: int) -> tuple[int, int]:
        counts = list(self._pitches)
        for n in self.sounding:
            if not n.is_drum:
                counts[max(0, min(127, n.pitch))] += 1
        used = [p for p in range(128) if counts[p]]
        lo, hi = (used[0], used[-1]) if used else (60, 72)
        lo, hi = max(0, lo - MARGIN), min(127, hi + MARGIN)
        if hi - lo + 1 < rows:  # centre the notes in the rows available
            spare = rows - (hi - lo + 1)
            hi = min(127, hi + spare // 2)
            lo = max(0, hi - rows + 1)
            hi = min(127, lo + rows - 1)
        elif hi - lo + 1 > rows:  # too many pitches: the window that holds the most notes
            best = max(range(lo, hi - rows + 2), key=lambda b: sum(counts[b:b + rows]))
            lo, hi = best, best + rows - 1
        return lo, hi

    def _first_column(self, columns: int) -> int:
        focus = self.playhead if self.playhead is not None else self.time
        col = int(focus / self.seconds_per_column)
        return max(0, col - int(columns * (0.5 if self.playhead is not None else 0.85)))

    # ------------------------------------------------------------------ drawing
    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = self._frame_now()  # once a frame, not once a line
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_now(self) -> Frame:
        width, height = self.size.width, self.size.height
        columns = max(0, width - GUTTER)
        legend, pitched, drums = self.layout_rows(height)
        first = self._first_column(columns)
        lo, hi = self._pitch_range(pitched) if pitched > 0 else (0, -1)
        mix = self.mix
        silent = set() if mix is None else {k for k in self._keys if not mix.audible(*k)}
        return Frame(width, columns, legend, pitched, drums, first, lo, hi, silent, self._window(first, columns))

    def render_line(self, y: int) -> Strip:
        f = self._frame or self._frame_now()
        width = f.width
        if y < f.legend:
            return Strip(self._legend(width)).adjust_cell_length(width, LEGEND)
        if y < f.legend + f.pitched:
            pitch = f.hi - (y - f.legend)
            if pitch < f.lo or pitch < 0:
                return Strip.blank(width, BG)
            return Strip(self._row(pitch, f), width)
        row = y - f.legend - f.pitched
        if row >= f.drums:
            return Strip.blank(width, BG)
        if f.drums == 1:
            return Strip(self._drum_row(None, f), width)
        if row == 0:
            return Strip(self._drum_rule(f.first, f.columns), width)
        return Strip(self._drum_row(row - 1, f), width)

    def _window(self, first: int, columns: int) -> list[Note]:
        spc = self.seconds_per_column
        t0, t1 = first * spc, (first + columns) * spc
        return self.notes[bisect_left(self._starts, t0 - self._longest):bisect_left(self._starts, t1)]

    def _background(self, first: int, columns: int, bg: Style) -> list[tuple[str, Style]]:
        return [("·", BEAT) if (first + c) % 10 == 0 else (" ", bg) for c in range(columns)]

    def _overlay(self, cells: list[tuple[str, Style]], first: int, columns: int) -> None:
        """The temperature marks and the playhead, on every row of the roll."""
        spc = self.seconds_per_column
        for t in self.marks:
            c = int(t / spc) - first
            if 0 <= c < columns:
                cells[c] = ("┆", MARK)
        if self.playhead is not None:
            c = int(self.playhead / spc) - first
            if 0 <= c < columns:
                cells[c] = (cells[c][0], cells[c][1] + PLAYHEAD)

    def _row(self, pitch: int, f: Frame) -> list[Segment]:
        first, columns = f.first, f.columns
        cells = self._background(first, columns, BG_BLACK if pitch % 12 in BLACK else BG)
        for note in f.window:
            if note.pitch == pitch and not note.is_drum:
                key = instrument_key(note.program, note.is_drum)
                self._paint(cells, note, first, columns, note_style(*key, note.velocity, key in f.silent))
        for note in self.sounding:
            if note.pitch == pitch and not note.is_drum:
                self._paint(cells, note, first, columns, SOUNDING)
        self._overlay(cells, first, columns)
        label = note_name(pitch) if pitch % 12 == 0 else ""
        return self._line(f"{label:>{GUTTER - 1}} ", GUTTER_C if label else GUTTER_STYLE, cells)

    def _drum_rule(self, first: int, columns: int) -> list[Segment]:
        cells = [("╌", DRUM_RULE)] * columns
        self._overlay(cells, first, columns)
        style = Style.parse(f"bold {DRUM_COLOUR} on #262626")
        return self._line(f"{'drums':<{GUTTER}}", style, cells)

    def _drum_row(self, lane: int | None, f: Frame) -> list[Segment]:
        """One drum lane (``lane`` into DRUM_LANES), or every drum note in one row (None)."""
        first, columns = f.first, f.columns
        cells = self._background(first, columns, BG)
        spc = self.seconds_per_column
        silent = (0, True) in f.silent
        for note in f.window:
            if note.is_drum and (lane is None or drum_lane(note.pitch) == lane):
                c = round(note.start / spc) - first
                if 0 <= c < columns:
                    cells[c] = ("●", note_style(0, True, note.velocity, silent))
        for note in self.sounding:
            if note.is_drum and (lane is None or drum_lane(note.pitch) == lane):
                c = round(note.start / spc) - first
                if 0 <= c < columns:
                    cells[c] = ("●", SOUNDING)
        self._overlay(cells, first, columns)
        label = "drums" if lane is None else DRUM_LANES[lane]
        return self._line(f"{label:>{GUTTER - 1}} ", GUTTER_STYLE, cells)

    @staticmethod
    def _line(gutter: str, gutter_style: Style, cells: list[tuple[str, Style]]) -> list[Segment]:
        segments = [Segment(gutter, gutter_style)]
        segments.extend(Segment(ch, st) for ch, st in cells)
        return list(Segment.simplify(segments))

    def _paint(self, cells: list[tuple[str, Style]], note: Note, first: int, columns: int, style: Style) -> None:
        spc = self.seconds_per_column
        start = round(note.start / spc) - first
        end = max(start + 1, round(note.end / spc) - first)
        for c in range(max(0, start), min(columns, end)):
            cells[c] = ("█" if c > start else "▐", style)

    # ------------------------------------------------------------------ legend
    def legend_entries(self) -> list[tuple[InstrumentKey, str, str]]:
        """(instrument, name, state) in legend order; state as ``Mix.state`` says ("" without
        a mix)."""
        mix = self.mix
        return [(key, instrument_label(key), mix.state(key) if mix is not None else "") for key in self.instruments]

    def _legend(self, width: int) -> list[Segment]:
        entries = self.legend_entries()
        names, tags = _fitted([(key, name) for key, name, _ in entries], [state for *_, state in entries], width)
        segments = [Segment(" ", LEGEND)]
        for (key, _, state), name in zip(entries, names, strict=True):
            colour = instrument_colour(*key)
            chosen = key == self.selected
            swatch = "●" if key[1] else "■"
            segments.append(Segment("▸" if chosen else " ", Style.parse(f"bold #ffffff on {LEGEND_BG}")))
            segments.append(Segment(swatch, Style.parse(f"{colour} on {LEGEND_BG}")))
            text = Style.parse(f"{'#6c6c6c' if state in ('muted', 'silent') else '#d0d0d0'} on {LEGEND_BG}")
            if chosen:
                text += Style(bold=True, underline=True)
            if state == "muted":
                text += Style(strike=True)
            segments.append(Segment(f" {name}", text))
            if state in tags:
                tag = "#ff5f5f" if state == "muted" else "#5fff87"
                segments.append(Segment(tags[state], Style.parse(f"bold {tag} on {LEGEND_BG}")))
            segments.append(Segment(" ", LEGEND))
        room = width - sum(seg.cell_length for seg in segments)
        if tags is SHORT_TAGS and self.selected in self._keys and room > 4:  # no names: the chosen one's
            program, drum = self.selected
            segments.append(Segment(_cut(group_name(program, drum), room - 1),
                                    Style.parse(f"bold #d0d0d0 on {LEGEND_BG}")))
        elif self.mix is not None and room >= len(MIX_HINT) + 2:  # the keys, where there is room
            segments.append(Segment(f"{MIX_HINT:>{room - 1}} ", Style.parse(f"#6c6c6c on {LEGEND_BG}")))
        return list(Segment.simplify(segments))


def _fitted(entries: list[tuple[InstrumentKey, str]], states: list[str], width: int) -> tuple[list[str], dict[str, str]]:
    """The legend's names and state tags, as long as ``width`` allows: in full ("Electric Bass
    (finger)"), without what is in brackets ("Electric Bass"), as the GM family ("bass", with
    the program when two of a family play), that cut to a share of the room, or no names at all
    (the colours, with M and S). An entry takes 4 cells besides its name and its tag."""
    fixed = 1 + sum(4 + len(TAGS.get(state, "")) for state in states)
    full = [name for _, name in entries]
    families = [None if key[1] else family_of(key[0]) for key, _ in entries]
    short = [name if family is None else FAMILIES[family] + (f" {key[0]}" if families.count(family) > 1 else "")
             for (key, name), family in zip(entries, families, strict=True)]
    for candidate in (full, [_short_name(n) for n in full], short):
        if fixed + sum(len(n) for n in candidate) <= width:
            return candidate, TAGS
    share = (width - fixed) // max(1, len(entries))
    if share >= 3:
        return [_cut(n, share) for n in short], TAGS
    return [""] * len(entries), SHORT_TAGS


def _short_name(name: str) -> str:
    """"Electric Bass (finger)" → "Electric Bass"."""
    return re.sub(r"\s*\(.*?\)", "", name).strip() or name


def _cut(name: str, room: int) -> str:
    return name if len(name) <= room else name[:max(1, room - 1)] + "…"
