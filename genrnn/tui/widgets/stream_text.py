"""A log view for streamed text: appends in place, colours by temperature, follows the end.

Unlike ``Log``, text arrives in arbitrary pieces (a character at a time, a line in several
pieces), and each piece carries the temperature it was drawn at. Lines are wrapped to the
width once, on append, and drawn with the line API, so a refresh costs only the visible rows.
"""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

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

    DEFAULT_CSS = """
    StreamText { background: $surface; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._pieces: list[tuple[str, Style]] = []
        self._lines: list[list[Segment]] = [[]]
        self._line_len = 0
        self._wrap_width = 0
        self._line_style: Style | None = None  # this frame's style (render_lines)
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
        self._pieces.append((text, chosen))
        self.chars += len(text)
        self._append(text, chosen)
        self._update_size(follow)

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
