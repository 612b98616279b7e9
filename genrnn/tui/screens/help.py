"""F1 / ?: every binding of the app and of the screen underneath, and what the colours mean."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from genrnn.tui.screens.modal import OnceModal

NOTES = """
[b]Typing.[/b] Click or tab into a field to type; Enter in [i]temperature[/i] applies it at once,
also while a stream is generating. [b]\\[[/b] and [b]][/b] nudge the temperature by 0.05 when no
field has focus.

[b]Labels.[/b] A model trained with labels ([i]--conditioned[/i]) shows a [i]labels[/i] field: type
the ones to start from, e.g. [i]mode=minor voices=4[/i] (or [i]file=hamlet[/i]); the model draws
the others, and guidance leans toward those asked for. Each take lists every label it was made from.

[b]Colours.[/b] Generated text is coloured by the temperature it was drawn at: blue below 0.5,
plain to 0.95, orange to 1.3, red above. A ⟨T …⟩ marker shows where it changed. In the piano
roll a yellow ┆ marks a change and a yellow column is the playhead.

[b]Instruments.[/b] In the piano roll each instrument has its colour (one hue per General MIDI
family, brighter when louder, white while sounding), named in the legend on its top line. Drums
have their own lane at the bottom, below the ╌ drums rule: hats and cymbals, toms and other
percussion, snare, kick. [b]i[/b] picks an instrument (▸ in the legend), [b]m[/b] mutes it and
[b]s[/b] solos it when a take plays, also while it plays (from the next note on; a note already
sounding is released). Saving keeps every instrument.

[b]Jam.[/b] F4: play into [i]in[/i] (an OS MIDI input, listen:HOST:PORT or a .mid played in) and
the model answers on [i]out[/i] when your phrase ends (all keys up for [i]gap[/i] seconds, a call
over 8 s, or the sustain pedal), or plays along in accompany mode. The mod wheel sets the
temperature, CC 74 top-p, CC 80 switches the mode. Stop (Esc) saves the session to the takes folder.

[b]Outputs.[/b] [i]synth[/i] is the built-in FluidSynth instrument; [i]HOST:PORT[/i] sends to a
mido socket port (set the address in [i]socket[/i]); OS MIDI ports appear when the system has them.

[b]Tempo lock.[/b] A model of a quantised corpus (bach) knows the tick grids its pieces keep; with
[i]keep the grid[/i] ticked a piece stays on the one it started on. Untick it to let time drift.
"""


_KEY_NAMES = {"question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
              "escape": "Esc", "space": "Space", "enter": "Enter", "tab": "Tab", "plus": "+",
              "minus": "-", "up": "↑", "down": "↓", "left": "←", "right": "→"}


def key_label(key: str) -> str:
    """Textual's key name → what is printed on the keyboard: ``ctrl+s`` → ``Ctrl+S``,
    ``question_mark`` → ``?``, ``f1`` → ``F1``."""
    parts = key.strip().split("+")
    *mods, last = parts
    name = _KEY_NAMES.get(last) or (last.upper() if len(last) == 1 and mods or last.startswith("f") and
                                    last[1:].isdigit() else last)
    return "+".join([*(m.capitalize() for m in mods), name])


def _key_name(binding: Binding) -> str:
    return ", ".join(key_label(k) for k in binding.key.split(","))


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    rows = []
    for item in bindings:
        if isinstance(item, Binding):
            rows.append((_key_name(item), item.description or item.action))
        elif isinstance(item, tuple) and len(item) >= 2:
            rows.append((item[0], item[2] if len(item) > 2 else item[1]))
    return rows


class HelpScreen(OnceModal[None]):
    """A modal listing the bindings; Escape, F1 or ? closes it."""

    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        title = type(self.under).__name__.replace("Screen", "")
        table = Table(title=f"Help — {title}", title_style="bold", expand=True, box=None)
        table.add_column("key", style="bold #ffaf00", no_wrap=True)
        table.add_column("does")
        for key, what in binding_rows(list(self.under.BINDINGS)) + binding_rows(list(self.app.BINDINGS)):
            table.add_row(key, what)
        with VerticalScroll(id="help-body"):
            yield Static(table, id="help-keys")
            yield Static(NOTES, id="help-notes")

    @property
    def text(self) -> str:
        """Everything the help says, as plain text (for tests and screen readers)."""
        rows = binding_rows(list(self.under.BINDINGS)) + binding_rows(list(self.app.BINDINGS))
        return "\n".join(f"{k}  {w}" for k, w in rows) + "\n" + NOTES

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.close(None)
