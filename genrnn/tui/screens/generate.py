"""The Generate screen: pick a model, set the controls, stream, steer, play, keep and save takes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from genrnn.errors import GenrnnError
from genrnn.tui import catalog
from genrnn.tui.engine import GenerateRequest, StreamControl, error_text, list_ports, run_generation
from genrnn.tui.messages import (
    GenerationFailed,
    ModelsScanned,
    PlaybackEnded,
    PortsListed,
    RunCreated,
    StreamChunk,
    TakeSaved,
)
from genrnn.tui.mix import InstrumentKey, instruments_of
from genrnn.tui.screens.files import PrimerPicker, SaveDialog
from genrnn.tui.takes import Take, save_take
from genrnn.tui.widgets.controls import SamplingPanel
from genrnn.tui.widgets.piano_roll import PianoRoll, instrument_label
from genrnn.tui.widgets.stream_text import PRIMER_STYLE, StreamText

if TYPE_CHECKING:
    from genrnn.tui.app import GenrnnApp


# Seconds between rewrites of the "generating …" status line: it sits in the output panel's
# border, and rewriting it repaints the whole panel (at 4 a second that was a fifth of the
# app's CPU while text streamed).
STATUS_INTERVAL = 1.0


class GenerateScreen(Screen[None]):
    """The first screen."""

    BINDINGS = [
        Binding("g", "generate", "Generate"),
        Binding("escape", "stop", "Stop"),
        Binding("space", "play", "Play"),
        Binding("left_square_bracket", "temperature(-1)", "Temp ±", key_display="[ ]"),
        Binding("right_square_bracket", "temperature(1)", "Temperature up", show=False),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "primer_file", "Primer file", show=False),
        Binding("c", "compare", "Compare", show=False),
        Binding("r", "toggle_roll", "ABC take: piano roll / text", show=False),
        Binding("ctrl+r", "rescan", "Rescan models", show=False),
        Binding("i", "instrument", "Music take: pick the next instrument (legend ▸)", show=False),
        Binding("m", "mute", "Mute / unmute that instrument when playing", show=False),
        Binding("s", "solo", "Solo / unsolo that instrument when playing", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[catalog.ModelEntry] = []
        self.entry: catalog.ModelEntry | None = None
        self.takes: list[Take] = []
        self.shown: Take | None = None
        self.control: StreamControl | None = None
        self.control_take: Take | None = None
        self._shown_temp = 0.8
        self._started = 0.0
        self._status_at = 0.0  # when the "generating …" line was last written
        self.instrument: InstrumentKey | None = None  # what m and s act on

    @property
    def genrnn(self) -> GenrnnApp:
        return cast("GenrnnApp", self.app)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="gen-body"):
            with Vertical(id="sidebar"):
                yield OptionList(id="models")
                yield SamplingPanel(id="sampling")
            with Vertical(id="main"):
                with ContentSwitcher(initial="text-view", id="views"):
                    yield StreamText(id="text-view")
                    yield PianoRoll(id="roll-view")
                yield OptionList(id="takes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#models").border_title = "Models"
        self.query_one("#sampling").border_title = "Sampling"
        self.query_one("#views").border_title = "Output"
        self.query_one("#takes").border_title = "Takes (Enter shows, space plays, c compares)"
        self._status("loading models …")
        self.scan_models()
        self.scan_ports()
        self.set_interval(1 / 20, self._tick_playhead)
        self.roll.set_mix(self.genrnn.player.mix)
        self.query_one("#models").focus()

    @property
    def text_view(self) -> StreamText:
        return self.query_one("#text-view", StreamText)

    @property
    def roll(self) -> PianoRoll:
        return self.query_one("#roll-view", PianoRoll)

    @property
    def panel(self) -> SamplingPanel:
        return self.query_one("#sampling", SamplingPanel)

    def _status(self, text: str) -> None:
        self.query_one("#views").border_subtitle = text

    # ------------------------------------------------------------------ models
    @work(thread=True, exclusive=True, group="scan")
    def scan_models(self, select: Path | None = None) -> None:
        entries, problems = catalog.scan(self.genrnn.checkpoints_dir, self.genrnn.run_roots)
        self.post_message(ModelsScanned(entries, problems, select))

    def on_models_scanned(self, message: ModelsScanned) -> None:
        previous = self.entry.path if self.entry else None
        self.entries = message.entries
        models = self.query_one("#models", OptionList)
        models.clear_options()
        models.add_options([Option(self._model_label(e), id=str(i)) for i, e in enumerate(self.entries)])
        for problem in message.problems:
            self.notify(problem, title="Skipped a checkpoint", severity="warning")
        wanted = message.select or previous
        index = next((i for i, e in enumerate(self.entries) if e.path == wanted), None)
        if index is None:
            index = catalog.default_choice(self.entries)
        if index is None:
            self._status("no models")
            self.text_view.clear()
            self.text_view.write("No models yet. Train one on the Train screen (F3), or put genrnn "
                                 "checkpoints in checkpoints/ or runs/.\n", style=PRIMER_STYLE)
            return
        models.highlighted = index
        self._choose(index)

    @staticmethod
    def _model_label(entry: catalog.ModelEntry) -> Text:
        loss = f"{entry.val_loss:.3f}" if entry.val_loss is not None else "—"
        kind = catalog.KIND_NAMES.get(entry.kind, entry.kind)
        label = Text(entry.name, style="bold")
        label.append(f"\n {kind} · {entry.cell} · {catalog.human_size(entry.parameters)} · val {loss}", style="dim")
        return label

    @on(OptionList.OptionHighlighted, "#models")
    def _model_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._choose(event.option_index)

    def _choose(self, index: int) -> None:
        if not 0 <= index < len(self.entries):
            return
        self.entry = self.entries[index]
        self.panel.set_music(self.entry.is_music)
        self.panel.set_labels(self.entry.labels)
        if self.control is None:
            self._status(f"{self.entry.name} · g generates")

    def on_run_created(self, message: RunCreated) -> None:
        message.stop()  # handled here; never bubble to the app
        self.scan_models()

    def action_rescan(self) -> None:
        self.scan_models()

    # ------------------------------------------------------------------ ports
    @work(thread=True, exclusive=True, group="ports")
    def scan_ports(self) -> None:
        try:
            ports, os_error = list_ports()
        except Exception as exc:  # a broken MIDI system must not stop the app
            ports, os_error = [("synth", "built-in synth", False), ("HOST:PORT", "socket", True)], error_text(exc)
        self.post_message(PortsListed(ports, os_error))

    def on_ports_listed(self, message: PortsListed) -> None:
        self.panel.set_ports(message.ports)

    # ------------------------------------------------------------------ generating
    def action_generate(self) -> None:
        if self.entry is None:
            self.notify("no model to generate from: train one (F3) or add checkpoints", severity="warning")
            return
        try:
            controls = self.panel.read()
        except GenrnnError as exc:
            self.notify(str(exc), title="Sampling controls", severity="error")
            return
        self.stop_stream()
        entry = self.entry
        request = GenerateRequest(entry.path, entry.name, entry.kind, controls.settings, controls.length,
                                  controls.seconds, controls.primer_text, controls.primer_file, controls.best_of,
                                  controls.conditions)
        take = Take(len(self.takes) + 1, entry.name, entry.kind, controls.settings.temperature,
                    controls.settings.top_k, controls.settings.top_p, controls.settings.seed,
                    best_of=controls.best_of)
        self.takes.append(take)
        self._add_take_option(take)
        self._show(take)
        if controls.primer_text and take.kind == "text":
            self.text_view.write(controls.primer_text, style=PRIMER_STYLE)
        self.control, self.control_take = StreamControl(controls.settings), take
        self._started = time.monotonic()
        working = f"drawing piece 1 of {take.best_of} …" if take.best_of > 1 else "generating …"
        loaded = (self.genrnn.models if entry.kind == "midi_events" else self.genrnn.text_process).loaded(entry.path)
        self._status(working if loaded else f"loading {entry.name} …")
        self._generate(request, take, self.control)

    # Not exclusive: a new take stops the last one through its StreamControl, and the last
    # one's worker must still run to mark it done. An exclusive worker cancelled before its
    # thread had started (g twice in a row) never ran, and its take stayed "generating".
    @work(thread=True, group="generate")
    def _generate(self, request: GenerateRequest, take: Take, control: StreamControl) -> None:
        worker = get_current_worker()
        try:
            run_generation(request, take, control, self.genrnn.models,
                           emit=lambda chunk: self.post_message(StreamChunk(take, chunk)),
                           cancelled=lambda: worker.is_cancelled, text_process=self.genrnn.text_process)
        except Exception as exc:  # a model that fails to load, a bad primer: notify, keep running
            take.error = error_text(exc)
            take.done = True
            self.post_message(GenerationFailed(take, take.error))

    def on_stream_chunk(self, message: StreamChunk) -> None:
        take, chunk = message.take, message.chunk
        if take is self.shown:
            if take.kind == "midi_events":
                self.roll.marks = [t for t, _ in take.marks]
                self.roll.add(chunk.notes, chunk.sounding, chunk.time)
            else:
                for text, temperature in chunk.pieces:
                    if temperature != self._shown_temp:
                        self.text_view.mark(temperature)
                        self._shown_temp = temperature
                    self.text_view.write(text, temperature)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = len(take.tokens) / elapsed
        if chunk.done:
            if take is self.control_take:
                self.control = None
            self._refresh_take_option(take)
            how = "stopped" if take.stopped else "done"
            hint = " · r: piano roll" if take.kind == "abc" else ""
            self._status(f"take #{take.number} {how} · {take.size}{take.ranking} · {rate:,.0f} tok/s · space plays, "
                         f"ctrl+s saves{hint}")
        elif take.best_of > 1:
            self._refresh_take_option(take)
            self._status(f"take #{take.number}: drawing piece {take.candidates + 1} of {take.best_of} · the critic "
                         "keeps the one it rates most real · esc keeps the best so far")
        elif time.monotonic() - self._status_at >= STATUS_INTERVAL:  # a border repaint each chunk cost a third of the rate
            self._status_at = time.monotonic()
            self._status(f"generating take #{take.number} · {take.size} · {rate:,.0f} tok/s · T {self.panel.temperature:.2f}")

    def on_generation_failed(self, message: GenerationFailed) -> None:
        if message.take is self.control_take:
            self.control = None
        self._refresh_take_option(message.take)
        self._status(f"take #{message.take.number} failed")
        self.notify(message.error, title="Generation failed", severity="error", timeout=8)

    def stop_stream(self) -> None:
        if self.control is not None:
            self.control.halt()
            self.control = None

    def action_stop(self) -> None:
        if self.control is not None:
            self.stop_stream()
        elif self.genrnn.player.playing:
            self.genrnn.player.stop()

    # ------------------------------------------------------------------ temperature
    def action_temperature(self, steps: int) -> None:
        self._apply_temperature(self.panel.nudge_temperature(steps))

    @on(SamplingPanel.TemperatureTyped)
    def _typed(self, event: SamplingPanel.TemperatureTyped) -> None:
        self._apply_temperature(event.temperature)

    def _apply_temperature(self, temperature: float) -> None:
        if self.control is not None:
            from dataclasses import replace

            self.control.update(replace(self.control.settings, temperature=temperature))
        ranked = self.control is not None and self.control_take is not None and self.control_take.best_of > 1
        when = " (from the next take: best of N draws at the settings it started with)" if ranked else \
            " (applies to the next token)" if self.control else ""
        self._status(f"temperature {temperature:.2f}{when}")

    # ------------------------------------------------------------------ takes
    def _add_take_option(self, take: Take) -> None:
        takes = self.query_one("#takes", OptionList)
        takes.add_option(Option(take.label, id=f"take-{take.number}"))
        takes.highlighted = takes.option_count - 1

    def _refresh_take_option(self, take: Take) -> None:
        takes = self.query_one("#takes", OptionList)
        label = take.label + (f" · failed: {take.error}" if take.error else "")
        takes.replace_option_prompt(f"take-{take.number}", label)

    def add_take(self, take: Take) -> None:
        """Keep a finished take made elsewhere (a file, a test) and show it."""
        take.number = len(self.takes) + 1
        take.done = True
        self.takes.append(take)
        self._add_take_option(take)
        self._show(take)

    def action_toggle_roll(self) -> None:
        """An ABC take is written as text; r shows the tune music21 reads from it as a piano
        roll (and r again the text)."""
        take = self.shown
        if take is None or take.kind != "abc":
            self._status("r shows an ABC take as a piano roll; pick an ABC take first")
            return
        views = self.query_one("#views", ContentSwitcher)
        if views.current == "roll-view":
            views.current = "text-view"
            return
        if not take.done:
            self._status("the tune is still being written; r again when it is done")
            return
        self._parse_tune(take)

    @work(thread=True, exclusive=True, group="abc")
    def _parse_tune(self, take: Take) -> None:
        try:
            notes = take.sequence().notes
        except GenrnnError as exc:
            self.app.call_from_thread(self.notify, f"take #{take.number}: {exc}", severity="error",
                                      title="does not parse")
            return
        self.app.call_from_thread(self._show_tune_roll, take, notes)

    def _show_tune_roll(self, take: Take, notes: list) -> None:
        if take is not self.shown:
            return
        self.query_one("#views", ContentSwitcher).current = "roll-view"
        self.roll.show(notes, [])
        self._show_mix()
        self._status(f"take #{take.number} as music21 reads it · {len(notes)} notes · r shows the text")

    def _show(self, take: Take) -> None:
        """Replay a take into the output pane (text or piano roll)."""
        self.shown = take
        self._shown_temp = take.temperature
        views = self.query_one("#views", ContentSwitcher)
        if take.kind == "midi_events":
            views.current = "roll-view"
            self.roll.show(take.notes, [t for t, _ in take.marks])
            self._show_mix()
        else:
            views.current = "text-view"
            self.text_view.clear()
            position = 0
            for at, temperature in take.marks:
                self.text_view.write(take.text[position:int(at)], self._shown_temp)
                self.text_view.mark(temperature)
                self._shown_temp, position = temperature, int(at)
            self.text_view.write(take.text[position:], self._shown_temp)

    def _selected_take(self) -> Take | None:
        takes = self.query_one("#takes", OptionList)
        if takes.has_focus and takes.highlighted is not None and takes.highlighted < len(self.takes):
            return self.takes[takes.highlighted]
        return self.shown

    @on(OptionList.OptionSelected, "#takes")
    def _take_selected(self, event: OptionList.OptionSelected) -> None:
        take = self.takes[event.option_index]
        self._show(take)
        self._status(f"take #{take.number} · {take.size}" + ("" if take.done else " · generating"))

    def action_compare(self) -> None:
        from genrnn.tui.screens.compare import CompareScreen

        first = self._selected_take()
        others = [t for t in self.takes if t is not first]
        if first is None or not others:
            self.notify("compare needs two takes: generate another", severity="warning")
            return
        self.genrnn.open_modal(CompareScreen(others[-1], first))

    # ------------------------------------------------------------------ playing
    def action_play(self) -> None:
        player = self.genrnn.player
        if player.playing:  # preparing (an ABC take being parsed) or sounding: a press stops it
            player.stop()
            return
        take = self._selected_take()
        if take is None:
            self.notify("nothing to play yet: generate a take (g)", severity="warning")
            return
        if not take.is_music:
            self.notify("a text take has nothing to play; pick a MIDI-events or ABC model", severity="warning")
            return
        port = self.panel.read().port if self._controls_ok() else None
        if not port:
            self.notify("pick an output first", severity="warning")
            return
        claim = player.start(take)  # here, on the UI thread: playing from this press on
        if claim is None:
            return
        self._status(f"playing take #{take.number} to {port} · space stops")
        self._play(take, port, claim)

    def _controls_ok(self) -> bool:
        try:
            self.panel.read()
        except GenrnnError as exc:
            self.notify(str(exc), severity="error")
            return False
        return True

    @work(thread=True, exclusive=True, group="play")
    def _play(self, take: Take, port: str, claim: Any) -> None:
        try:
            stats = self.genrnn.player.play(take, port, claim)
        except Exception as exc:  # port gone, no audio device, unparsable ABC
            self.post_message(PlaybackEnded(take, "", error_text(exc)))
            return
        how = "stopped" if stats.stopped else "played"
        offs = stats.cleanup.note_offs if stats.cleanup else 0
        muted = f" ({stats.muted} muted)" if stats.muted else ""
        self.post_message(PlaybackEnded(take, f"{how} take #{take.number} to {port}: {stats.notes} notes{muted}, "
                                              f"{offs} released at the end, no hanging notes"))

    def on_playback_ended(self, message: PlaybackEnded) -> None:
        self.roll.playhead = None
        if message.error:
            self.notify(message.error, title="Playback", severity="error", timeout=8)
            self._status("playback failed")
        else:
            self.notify(message.summary, title="Playback")
            self._status(message.summary)

    def _tick_playhead(self) -> None:
        player = self.genrnn.player
        position = player.position()
        if position is not None and player.take is self.shown and self.shown is not None:
            if self.shown.kind == "midi_events":
                self.roll.playhead = position
        elif self.roll.playhead is not None:
            self.roll.playhead = None

    # ------------------------------------------------------------------ mute and solo
    def _instruments(self) -> list[InstrumentKey]:
        """The shown music take's instruments, as its legend lists them."""
        take = self.shown
        if take is None or not take.is_music:
            return []
        if self.query_one("#views", ContentSwitcher).current == "roll-view":
            return self.roll.instruments
        return instruments_of(take.notes, take.events)

    def _show_mix(self) -> None:
        chosen = self.instrument if self.instrument in self.roll.instruments else None
        self.roll.set_mix(self.genrnn.player.mix, chosen)

    def action_instrument(self) -> None:
        """The next instrument of the shown take: the one m mutes and s solos."""
        keys = self._instruments()
        if not keys:
            self._status("i picks an instrument of the music take shown: show one with notes")
            return
        self.instrument = keys[(keys.index(self.instrument) + 1) % len(keys) if self.instrument in keys else 0]
        self._show_mix()
        self._status(f"{instrument_label(self.instrument)} · m mutes it, s solos it")

    def action_mute(self) -> None:
        self._toggle_mix("mute")

    def action_solo(self) -> None:
        self._toggle_mix("solo")

    def _toggle_mix(self, what: str) -> None:
        """Mute or solo the chosen instrument (the first until i picks another). Playing takes
        follow from the next note on; a note already sounding still gets its note-off."""
        keys = self._instruments()
        if not keys:
            self._status(f"{what} works on an instrument of the music take shown: show one with notes")
            return
        if self.instrument not in keys:
            self.instrument = keys[0]
        mix = self.genrnn.player.mix
        if what == "mute":
            state = "muted" if mix.toggle_mute(self.instrument) else "unmuted"
        else:
            state = "soloed" if mix.toggle_solo(self.instrument) else "solo off"
        self._show_mix()
        when = " from the next note on" if self.genrnn.player.playing else " when playing (saving keeps it)"
        self._status(f"{instrument_label(self.instrument)} {state}{when}")

    # ------------------------------------------------------------------ primer and saving
    def action_primer_file(self) -> None:
        self.genrnn.open_modal(PrimerPicker(Path.cwd()), self._primer_chosen)

    def _primer_chosen(self, path: Path | None) -> None:
        if path is None:
            return
        if path == Path():
            self.panel.set_primer_file(None)
            return
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            self.notify(f"{path}: cannot read the primer ({exc.strerror or exc})", severity="error")
            return
        self.panel.set_primer_file(path)
        self.notify(f"primer: {path.name}")

    def action_save(self) -> None:
        take = self._selected_take()
        if take is None:
            self.notify("nothing to save yet: generate a take (g)", severity="warning")
            return
        if not take.done:
            self.notify("the take is still generating: stop it (Escape) or wait", severity="warning")
            return

        def chosen(result: tuple[Path, list[str]] | None) -> None:
            if result is not None:
                self.genrnn.save_dir = result[0]
                self._save(take, result[0], result[1])

        self.genrnn.open_modal(SaveDialog(self.genrnn.save_dir, take.formats, f"take #{take.number}"), chosen)

    @work(thread=True, group="save")
    def _save(self, take: Take, folder: Path, formats: list[str]) -> None:
        paths, errors = [], []
        for fmt in formats:
            try:
                paths.append(save_take(take, folder, fmt))
            except Exception as exc:  # music21 failing on one format must not lose the others
                errors.append(f".{fmt}: {error_text(exc)}")
        self.post_message(TakeSaved(paths, errors))

    def on_take_saved(self, message: TakeSaved) -> None:
        if message.paths:
            folder = message.paths[0].parent
            names = ", ".join(p.name for p in message.paths)
            self.notify(f"{names}\nin {folder.resolve()}", title="Saved", timeout=8)
        for error in message.errors:
            self.notify(error, title="Save failed", severity="error", timeout=8)
