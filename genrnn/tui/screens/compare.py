"""Two takes side by side: text with its temperature colours, or two piano rolls."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from genrnn.tui.screens.modal import OnceModal
from genrnn.tui.takes import Take
from genrnn.tui.widgets.piano_roll import PianoRoll
from genrnn.tui.widgets.stream_text import StreamText


class CompareScreen(OnceModal[None]):
    BINDINGS = [Binding("escape,c,q", "close", "Close")]

    def __init__(self, left: Take, right: Take) -> None:
        super().__init__()
        self.pair = (left, right)

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare"):
            for i, take in enumerate(self.pair):
                yield PianoRoll(id=f"cmp-{i}") if take.kind == "midi_events" else StreamText(id=f"cmp-{i}")

    def on_mount(self) -> None:
        for i, take in enumerate(self.pair):
            view = self.query_one(f"#cmp-{i}")
            view.border_title = take.label
            if isinstance(view, PianoRoll):
                view.show(take.notes, [t for t, _ in take.marks])
            elif isinstance(view, StreamText):
                position, temperature = 0, take.temperature
                for at, new in take.marks:
                    view.write(take.text[position:int(at)], temperature)
                    view.mark(new)
                    position, temperature = int(at), new
                view.write(take.text[position:], temperature)

    def action_close(self) -> None:
        self.close(None)
