"""A log view for streamed text: appends in place, colours by temperature, follows the end.

Unlike ``Log``, text arrives in arbitrary pieces (a character at a time, a line in several
pieces), and each piece carries the temperature it was drawn at. Lines are wrapped to the
width once, on append, and drawn with the line API.

Fast output scrolls by jumps, as xterm's jump scroll does. A stream at 2,000 characters a second
fills some 17 lines a second; scrolling line by line made every update repaint the whole view
and lay the screen out again (the virtual size changed), ~6 ms of Textual a time, taken from the
CPU the model needs. So when the text reaches the bottom, the view scrolls up to show it and
as many blank rows below as lines were made in the last half second (at most half the view);
until they fill, an update repaints only the rows that changed. Slow text still scrolls a line
at a time; fast text takes at most about two full repaints a second.
"""

from __future__ import annotations

import time
from collections import deque
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

JUMP_WINDOW = 0.5  # seconds: a jump makes room for the lines made in this long
MARK_STYLE = Style.parse("bold black on #ffd75f")
PRIMER_STYLE = Style.parse("italic #8a8a8a")


@lru_cache(maxsize=64)
def temperature_style(temperature: float) -> Style:
    """Cool blue when conservative, plain around 0.8, warm to red when wild."""
    if temperature < 0.5:
        return Style.parse("#5fafff")
    if temperature < 0.95:
        return Style.parse("#e4e4e4")
    if temperature < 1.3:
        return Style.parse("#ffaf5f")
    return Style.parse("#ff5f5f")


class StreamText(ScrollView, can_focus=True):
    """Streamed text, wrapped, coloured by temperature, with a marker at each change."""

    # The gutter is kept whether or not the scrollbar shows: the text is wrapped to the width
    # left beside it, which must not shrink when the first screen fills (the lines would run
    # under the scrollbar, and a horizontal one would appear). Lines are wrapped: no x scroll.
    DEFAULT_CSS = """
    StreamText { background: $surface; scrollbar-gutter: stable; overflow-x: hidden; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._pieces: list[tuple[str, Style]] = []
        self._lines: list[list[Segment]] = [[]]
        self._line_len = 0
        self._wrap_width = 0
        self._line_style: Style | None = None  # this frame's style (render_lines)
        self._made: deque[tuple[float, int]] = deque()  # (time, line count) over the last JUMP_WINDOW
        self.chars = 0

    # ------------------------------------------------------------------ content
    def clear(self) -> None:
        self._pieces = []
        self._lines = [[]]
        self._line_len = 0
        self.chars = 0
        self._update_size(follow=True)

    def write(self, text: str, temperature: float | None = None, style: Style | None = None) -> None:
        """Append ``text`` drawn at ``temperature`` (or in ``style``)."""
        if not text:
            return
        chosen = style or temperature_style(temperature if temperature is not None else 0.8)
        follow = self._at_end()
        first = len(self._lines) - 1  # the last line grows; lines after it are new
        self._pieces.append((text, chosen))
        self.chars += len(text)
        self._append(text, chosen)
        self._grow(first, follow)

    def mark(self, temperature: float) -> None:
        """A visible marker where the temperature changed."""
        self.write(f"⟨T {temperature:.2f}⟩", style=MARK_STYLE)

    @property
    def text(self) -> str:
        return "".join(t for t, s in self._pieces)

    # ------------------------------------------------------------------ wrapping
    def _width(self) -> int:
        width = self.scrollable_content_region.width if self.is_mounted else 0
        return max(width, 10) if width else 80

    def _append(self, text: str, style: Style) -> None:
        width = self._wrap_width or self._width()
        self._wrap_width = width
        for i, part in enumerate(text.split("\n")):
            if i:
                self._lines.append([])
                self._line_len = 0
            while part:
                room = width - self._line_len
                if room <= 0:
                    self._lines.append([])
                    self._line_len, room = 0, width
                head, part = part[:room], part[room:]
                line = self._lines[-1]
                if line and line[-1].style is style:
                    line[-1] = Segment(line[-1].text + head, style)
                else:
                    line.append(Segment(head, style))
                self._line_len += len(head)

    def _rewrap(self) -> None:
        self._lines, self._line_len = [[]], 0
        self._wrap_width = self._width()
        for text, style in self._pieces:
            self._append(text, style)

    def _at_end(self) -> bool:
        return self.scroll_offset.y >= self.max_scroll_y - 1

    def _grow(self, first: int, follow: bool) -> None:
        """After an append that changed lines ``first``… : repaint those rows while the text
        fits the virtual size, else make room (a jump when following the end)."""
        lines = len(self._lines)
        now = time.monotonic()
        while self._made and now - self._made[0][0] > JUMP_WINDOW:
            self._made.popleft()
        made = lines - (self._made[0][1] if self._made else first + 1)  # new lines in the window
        self._made.append((now, lines))
        if not self.is_mounted:
            self._update_size(follow)
            return
        if lines <= self.virtual_size.height:
            self.refresh_lines(first, lines - first)
            return
        height = self.scrollable_content_region.height
        room = min(max(made - 1, 0), height // 2) if follow and lines > height else 0
        self.virtual_size = Size(self._wrap_width or self._width(), max(lines + room, height))
        if follow:
            self.scroll_to(y=max(0, self.virtual_size.height - height), animate=False, immediate=True, force=True)
        self.refresh()

    def _update_size(self, follow: bool) -> None:
        self.virtual_size = Size(self._wrap_width or self._width(), len(self._lines))
        if follow:
            self.scroll_to(y=max(0, len(self._lines) - self.scrollable_content_region.height),
                           animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        if self._width() != self._wrap_width:
            self._rewrap()
            self._update_size(follow=True)

    # ------------------------------------------------------------------ drawing
    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # once a frame, not once a line (it walks the styles)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        style = self._line_style or self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, style)
        return Strip(self._lines[index]).crop_extend(0, width, style)
