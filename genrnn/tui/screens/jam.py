"""The Jam screen (F4): play into a MIDI input, hear the model answer; call and answer scroll by
on two piano rolls as they happen.

The session is ``playback.jam.JamSession`` with the model's voice from ``session.open_jam``,
run in a worker thread exactly as ``genrnn jam`` runs it; its listener turns the call's and the
answer's messages into notes and posts them up (never blocking the session's thread). Stop (or
leaving the app) releases every note and saves the session under the app's save folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import mido
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from genrnn.config import sample_config
from genrnn.errors import ConfigError
from genrnn.music.notes import Note
from genrnn.tui.engine import error_text, session
from genrnn.tui.widgets.controls import Row
from genrnn.tui.widgets.piano_roll import PianoRoll

if TYPE_CHECKING:
    from genrnn.playback.jam import JamSession, NoteRecorder
    from genrnn.tui.app import GenrnnApp

DEFAULT_IN = "listen:127.0.0.1:5005"
DEFAULT_OUT = "synth"
REFRESH = 0.25  # seconds between looks at the session's figures


@dataclass
class JamRequest:
    model: Path
    input: str
    output: str
    mode: str
    gap: float
    save_dir: Path


class JamNotes(Message):
    """Notes of one part (``call`` or ``answer``) that ended, and those sounding, at ``time``."""

    def __init__(self, part: str, notes: list[Note], sounding: list[Note], time: float) -> None:
        super().__init__()
        self.part, self.notes, self.sounding, self.time = part, notes, sounding, time


class JamStarted(Message):
    def __init__(self, jam: JamSession, input_name: str) -> None:
        super().__init__()
        self.jam, self.input_name = jam, input_name


class JamEnded(Message):
    def __init__(self, summary: dict[str, Any] | None, saved: Path | None, error: str | None) -> None:
        super().__init__()
        self.summary, self.saved, self.error = summary, saved, error


class JamScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+t", "start", "Start"),
        Binding("escape", "stop", "Stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jam: JamSession | None = None
        self.running = False
        self.parts: dict[str, NoteRecorder] = {}  # a session's call and answer, made at Start

    @property
    def genrnn(self) -> GenrnnApp:
        return cast("GenrnnApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="jam-body"):
            with Vertical(id="jam-side"):
                with Vertical(id="jam-form"):
                    with Row():
                        yield Label("model")
                        yield Input(self._default_model(), placeholder="an event model .safetensors", id="jam-model", compact=True)
                    with Row():
                        yield Label("in")
                        yield Input(DEFAULT_IN, id="jam-in", compact=True)
                    with Row():
                        yield Label("out")
                        yield Input(DEFAULT_OUT, id="jam-out", compact=True)
                    with Row():
                        yield Label("mode")
                        yield Select([("answer", "answer"), ("accompany", "accompany")], value="answer",
                                     allow_blank=False, id="jam-mode", compact=True)
                    with Row():
                        yield Label("gap (s)")
                        yield Input("0.6", id="jam-gap", compact=True, restrict=r"[0-9.]*")
                    with Horizontal(id="jam-buttons"):
                        yield Button("Start", variant="success", id="jam-start", compact=True)
                        yield Button("Stop", variant="error", id="jam-stop", compact=True, disabled=True)
                yield Static("idle: set the input and output, then Start (ctrl+t)", id="jam-stats")
            with Vertical(id="jam-main"):
                yield PianoRoll(id="jam-call")
                yield PianoRoll(id="jam-answer")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#jam-form").border_title = "Jam"
        self.query_one("#jam-stats").border_title = "Session"
        self.query_one("#jam-call").border_title = "call (you)"
        self.query_one("#jam-answer").border_title = "answer (the model)"
        self.set_interval(REFRESH, self._refresh_stats)

    def _default_model(self) -> str:
        shipped = Path(getattr(self.app, "checkpoints_dir", "checkpoints")) / "bach.safetensors"
        return str(shipped) if shipped.is_file() else ""

    # ------------------------------------------------------------------ start and stop

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "jam-start":
            self.action_start()
        elif event.button.id == "jam-stop":
            self.action_stop()

    def _request(self) -> JamRequest:
        model = self.query_one("#jam-model", Input).value.strip()
        if not model:
            raise ConfigError("model: give an event model's .safetensors file or run folder")
        try:
            gap = float(self.query_one("#jam-gap", Input).value or "0.6")
        except ValueError:
            raise ConfigError("gap: expected seconds, e.g. 0.6") from None
        mode = self.query_one("#jam-mode", Select).value
        return JamRequest(Path(model), self.query_one("#jam-in", Input).value.strip(),
                          self.query_one("#jam-out", Input).value.strip(), str(mode), gap, self.genrnn.save_dir)

    def action_start(self) -> None:
        if self.running:
            return
        try:
            request = self._request()
        except ConfigError as exc:
            self.notify(str(exc), title="Jam", severity="error")
            return
        # playback loads with the first jam, not with the app
        from genrnn.playback.jam import NoteRecorder

        self.running = True
        self.parts = {"call": NoteRecorder(0.0), "answer": NoteRecorder(0.0)}
        for roll in self.query(PianoRoll):
            roll.clear()
        self._buttons()
        self._stats("starting: loading the model …")
        self._run(request)

    def action_stop(self) -> None:
        if self.jam is not None:
            self.jam.stop()

    def on_unmount(self) -> None:
        self.action_stop()

    def _buttons(self) -> None:
        self.query_one("#jam-start", Button).disabled = self.running
        self.query_one("#jam-stop", Button).disabled = not self.running

    # ------------------------------------------------------------------ the session's thread

    @work(thread=True, exclusive=True, group="jam")
    def _run(self, request: JamRequest) -> None:
        from genrnn.music import midi_io  # noqa: F401  # pretty_midi (the rolls' GM names) loads here, not on the UI thread
        from genrnn.playback.inputs import open_input
        from genrnn.playback.jam import JamOptions, JamSession
        from genrnn.playback.phrases import PhraseRules
        from genrnn.playback.ports import open_output

        summary, saved, error = None, None, None
        try:
            model = session().load_model(request.model)
            voice = session().open_jam(model, sample_config(model.kind))
            options = JamOptions(mode=request.mode, rules=PhraseRules(gap=request.gap))
            output = open_output(request.output)
            jam = JamSession(voice, output, options, listener=self._listener)
            try:
                inp = open_input(request.input, jam.deliver)
            except BaseException:
                output.close()
                raise
            self.jam = jam
            self.post_message(JamStarted(jam, inp.name))
            summary = jam.run([inp]).summary()
            stamp = time.strftime("%Y%m%d-%H%M%S")
            saved = jam.save(request.save_dir / f"jam_{stamp}.mid")
        except Exception as exc:  # a bad port, a bad model: one line in the app
            error = error_text(exc)
        self.post_message(JamEnded(summary, saved, error))

    def _listener(self, part: str, t: float, msg: mido.Message) -> None:
        """On the session's thread: a message of ``part`` → notes posted up, never waiting."""
        notes = self.parts[part]  # the listener's times are the session's already: t0 = 0
        closed = notes.message(t, msg)
        if closed or (msg.type == "note_on" and msg.velocity > 0):
            self.post_message(JamNotes(part, closed, notes.sounding(t), t))

    # ------------------------------------------------------------------ messages up

    def on_jam_notes(self, message: JamNotes) -> None:
        roll = self.query_one(f"#jam-{message.part}", PianoRoll)
        roll.add(message.notes, message.sounding, message.time)

    def on_jam_started(self, message: JamStarted) -> None:
        self._stats(f"listening on {message.input_name}")
        self.notify(f"listening on {message.input_name}", title="Jam")

    def on_jam_ended(self, message: JamEnded) -> None:
        self.running = False
        self.jam = None
        self._buttons()
        if message.error:
            self.notify(message.error, title="Jam", severity="error")
            self._stats(f"stopped: {message.error}")
            return
        summary = message.summary or {}
        if summary.get("output_error"):
            self.notify(f"the output failed: {summary['output_error']}", title="Jam", severity="error")
        self._stats(self._describe(summary) + (f"\nsaved {message.saved}" if message.saved else ""))
        if message.saved:
            self.notify(f"saved {message.saved}", title="Jam")

    # ------------------------------------------------------------------ figures

    def _refresh_stats(self) -> None:
        jam = self.jam
        if jam is None or not self.running:
            return
        settings = jam.voice.settings
        head = f"{jam.mode} mode · T {settings.temperature:.2f} · top-p {settings.top_p:.2f}"
        lines = [head, self._describe(jam.stats.live()), *jam.options.controls.describe()]
        self._stats("\n".join(lines))

    @staticmethod
    def _describe(summary: dict[str, Any]) -> str:
        if not summary:
            return ""
        text = (f"{summary['phrases']} phrases · {summary['answers']} answers · "
                f"{summary['call_notes']} notes in · {summary['answer_notes']} out")
        if summary.get("latency_p95_ms") is not None:
            text += f"\nanswer after {summary['latency_p95_ms']:.0f} ms (p95)"
        if summary.get("bad"):
            text += "\nsurvived: " + ", ".join(f"{n} {what}" for what, n in sorted(summary["bad"].items()))
        return text

    def _stats(self, text: str) -> None:
        self.query_one("#jam-stats", Static).update(text)
