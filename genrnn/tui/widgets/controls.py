"""The sampling controls, always visible: temperature, top-k, top-p, length/seconds, seed, primer;
for MIDI-event models also best of N (the critic keeps the piece it rates most real) and the
voice hold (nats against leaving a voice silent: generation/grammar.py); for a model trained
with labels, the labels to generate from (one-to-many: the model draws the ones not given)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select

from genrnn.config import CONDITION_GUIDANCE, SampleConfig, check_best_of, sampling_defaults
from genrnn.errors import ConfigError

TEMPERATURE_STEP = 0.05
SOCKET_DEFAULT = "127.0.0.1:5004"


@dataclass
class Controls:
    settings: SampleConfig
    length: int
    seconds: float
    primer_text: str
    primer_file: Path | None
    port: str | None
    best_of: int = 1  # music: draw N pieces, keep the one the critic rates most real
    conditions: tuple[str, ...] = ()  # labels asked for (``mode=minor``), as `genrnn sample --condition`


class Row(Horizontal):
    DEFAULT_CSS = """
    Row { height: 1; }
    Row > Label { width: 13; color: $text-muted; }
    Row > Input { width: 1fr; }
    """


class SamplingPanel(Vertical):
    """Rows of compact inputs; ``read()`` validates them into ``Controls``."""

    class TemperatureTyped(Message):
        """The user typed a new temperature (Enter in the field)."""

        def __init__(self, temperature: float) -> None:
            super().__init__()
            self.temperature = temperature

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.primer_file: Path | None = None
        self.music = False
        self.labels: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        with Row():
            yield Label("temperature")
            yield Input("0.80", id="temperature", compact=True, restrict=r"[0-9.]*")
        with Row():
            yield Label("top-k")
            yield Input("0", id="top-k", compact=True, restrict=r"[0-9]*")
        with Row():
            yield Label("top-p")
            yield Input("1.00", id="top-p", compact=True, restrict=r"[0-9.]*")
        with Row():
            yield Label("length", id="length-label")
            yield Input("600", id="length", compact=True, restrict=r"[0-9.]*")
        with Row(id="best-of-row"):
            yield Label("best of")
            yield Input("1", id="best-of", compact=True, restrict=r"[0-9]*",
                        tooltip="draw N pieces, keep the one the model's critic rates most real")
        with Row(id="voice-hold-row"):
            yield Label("voice hold")
            yield Input(f"{sampling_defaults('midi_events')['voice_hold']:.1f}", id="voice-hold", compact=True,
                        restrict=r"[0-9.]*",
                        tooltip="nats against moving time on while a voice of the piece is silent (0 = off)")
        with Row(id="tempo-lock-row"):
            yield Label("tempo lock")
            yield Checkbox("keep the grid", True, id="tempo-lock", compact=True,
                           tooltip="a piece keeps the tick grid it started on, as the model's training pieces do "
                                   "(models of a quantised corpus, such as bach)")
        with Row(id="labels-row"):
            yield Label("labels")
            yield Input("", id="labels", compact=True,
                        tooltip="labels to generate from, e.g. mode=minor voices=4: the model draws the others")
        with Row():
            yield Label("seed")
            yield Input("", placeholder="random", id="seed", compact=True, restrict=r"[0-9]*")
        with Row():
            yield Label("primer")
            yield Input("", placeholder="type text, or ctrl+o for a file", id="primer", compact=True)
        with Row():
            yield Label("output")
            yield Select([("synth", "synth")], value="synth", allow_blank=False, id="port", compact=True)
        with Row(id="socket-row"):
            yield Label("socket")
            yield Input(SOCKET_DEFAULT, id="socket", compact=True)

    def on_mount(self) -> None:
        for row in ("#best-of-row", "#voice-hold-row", "#tempo-lock-row"):
            self.query_one(row).display = self.music
        self.query_one("#labels-row").display = bool(self.labels)

    def set_labels(self, labels: tuple[str, ...]) -> None:
        """The picked model's labels: the row shows for a model that has them, and what was typed
        for another model's labels is cleared."""
        if labels == self.labels:
            return
        self.labels = labels
        self.query_one("#labels-row").display = bool(labels)
        field = self.query_one("#labels", Input)
        field.value = ""
        # the last label of the first kind (mode=minor, a file): the field is narrow, the tooltip says more
        kind = labels[0].split("=", 1)[0] if labels else ""
        field.placeholder = next((f"e.g. {lb}" for lb in reversed(labels) if lb.startswith(f"{kind}=")), "")

    # ------------------------------------------------------------------ kind of model
    def set_music(self, music: bool) -> None:
        """Length in characters for text models, in seconds for MIDI-event models; moving
        between the two, temperature and top-p go to that kind's defaults (config.py)."""
        if music == self.music:
            return
        self.music = music
        self.query_one("#length-label", Label).update("seconds" if music else "length")
        self.query_one("#length", Input).value = "20" if music else "600"
        for row in ("#best-of-row", "#voice-hold-row", "#tempo-lock-row"):
            self.query_one(row).display = music
        defaults = sampling_defaults("midi_events" if music else "text")
        self.set_temperature(defaults["temperature"])
        self.query_one("#top-p", Input).value = f"{defaults['top_p']:.2f}"

    def set_ports(self, ports: list[tuple[str, str, bool]]) -> None:
        select = self.query_one("#port", Select)
        current = select.value
        options = [(name if ok else f"{name} (unavailable)", name) for name, _, ok in ports]
        select.set_options(options)
        names = [name for name, _, _ in ports]
        if current in names:
            select.value = current
        elif names:
            select.value = "synth" if "synth" in names else names[0]

    def set_primer_file(self, path: Path | None) -> None:
        self.primer_file = path
        primer = self.query_one("#primer", Input)
        primer.value = f"file: {path}" if path else ""

    # ------------------------------------------------------------------ temperature
    @property
    def temperature(self) -> float:
        try:
            return float(self.query_one("#temperature", Input).value)
        except ValueError:
            return 0.8

    def set_temperature(self, value: float) -> float:
        value = round(min(5.0, max(0.0, value)), 2)
        self.query_one("#temperature", Input).value = f"{value:.2f}"
        return value

    def nudge_temperature(self, steps: int) -> float:
        return self.set_temperature(self.temperature + steps * TEMPERATURE_STEP)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "temperature":
            try:
                value = float(event.value)
            except ValueError:
                self.notify(f"temperature {event.value!r}: expected a number from 0 to 5", severity="error")
                return
            event.stop()
            self.post_message(self.TemperatureTyped(self.set_temperature(value)))

    # ------------------------------------------------------------------ reading
    def _value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def read(self) -> Controls:
        """The controls as validated values; ConfigError names the bad field."""
        def number(id: str, cast: type, name: str) -> float:
            try:
                return cast(self._value(id))
            except ValueError:
                raise ConfigError(f"{name} {self._value(id)!r}: expected a number") from None

        hold = number("voice-hold", float, "voice hold") if self.music and self._value("voice-hold") else 0.0
        conditions = tuple(self._value("labels").replace(",", " ").split()) if self.labels else ()
        settings = SampleConfig(temperature=number("temperature", float, "temperature"),
                                top_k=int(number("top-k", int, "top-k")),
                                top_p=number("top-p", float, "top-p"),
                                seed=int(self._value("seed")) if self._value("seed") else None,
                                voice_hold=hold, guidance=CONDITION_GUIDANCE if conditions else 1.0,
                                tempo_lock=not self.music or self.query_one("#tempo-lock", Checkbox).value)
        amount = number("length", float, "seconds" if self.music else "length")
        if amount <= 0:
            raise ConfigError(f"{'seconds' if self.music else 'length'} must be above 0")
        primer = self.query_one("#primer", Input).value
        if self.primer_file is not None and primer == f"file: {self.primer_file}":
            primer = ""
        else:
            self.primer_file = None
        best_of = 1
        if self.music:
            best_of = check_best_of(int(number("best-of", int, "best of")) if self._value("best-of") else 1)
        port = self.query_one("#port", Select)
        port_name = None if port.is_blank() else str(port.value)
        if port_name == "HOST:PORT":
            port_name = self._value("socket")
        return Controls(settings, int(amount), float(amount), primer.replace("\\n", "\n"),
                        self.primer_file, port_name, best_of, conditions)
