"""The Train screen: a text file or a recipe, a preset, a cell, a time budget; live curves."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static
from textual.worker import get_current_worker

from genrnn.config import CELLS, PRESETS, sample_config
from genrnn.errors import ConfigError, GenrnnError
from genrnn.tui.engine import error_text, session
from genrnn.tui.messages import RunCreated, TrainEval, TrainFinished, TrainProgress, TrainSample
from genrnn.tui.screens.files import FilePicker
from genrnn.tui.widgets.controls import Row
from genrnn.tui.widgets.stream_text import StreamText

if TYPE_CHECKING:
    from genrnn.tui.app import GenrnnApp

POST_INTERVAL = 0.1  # seconds between progress messages from the training thread
PLOT_INTERVAL = 0.25
SAMPLE_CHARS = 240


@dataclass
class TrainRequest:
    text: Path | None
    recipe: Path | None
    preset: str
    cell: str
    budget: float
    sample_every: int
    out_dir: Path


class TrainFeed:
    """The Trainer's callbacks, on the training thread: batch the figures, post messages."""

    def __init__(self, screen: TrainScreen, sample_every: int) -> None:
        self.screen = screen
        self.sample_every = sample_every
        self.rows: list[tuple[int, float, float]] = []
        self.last_post = 0.0
        self.last_sample = 0
        self.step = 0
        self.announced = False

    def on_step(self, info: Any) -> None:
        self.step = info.step
        self.rows.append((info.step, info.loss, info.grad_norm))
        now = time.monotonic()
        if now - self.last_post >= POST_INTERVAL:
            self.screen.post_message(TrainProgress(self.rows, info.step, info.tok_s, info.progress, info.elapsed))
            self.rows, self.last_post = [], now

    def on_eval(self, info: Any) -> None:
        self.screen.post_message(TrainEval(info.step, info.val_loss, info.best))

    def on_checkpoint(self, path: Path, kind: str) -> None:
        if not self.announced:
            self.announced = True
            self.screen.app.post_message(RunCreated(path))
        if self.step - self.last_sample >= self.sample_every or (kind == "last" and self.last_sample == 0):
            self.last_sample = self.step
            self.screen.post_message(TrainSample(self.step, sample_text(path)))


def sample_text(path: Path) -> str:
    """A short sample from a fresh load of ``path`` (kept on the training thread)."""
    s = session()
    try:
        model = s.load_model(path)
        if model.kind == "midi_events":
            return "(a MIDI-events model: generate from it on the Generate screen)"
        stream = s.open_stream(model, sample_config(model.kind, seed=0), None)
        return str(model.decode([next(stream).token for _ in range(SAMPLE_CHARS)]))
    except Exception as exc:  # a sample is a nicety: say why it is missing
        return f"(no sample: {error_text(exc)})"


class TrainScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+t", "start", "Start"),
        Binding("ctrl+x", "stop", "Stop"),
        Binding("ctrl+o", "pick_text", "Text file"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.norms: list[float] = []
        self.val: list[tuple[int, float]] = []
        self.running = False
        self.stop_wanted = False
        self._last_plot = 0.0
        self.best: float | None = None

    @property
    def genrnn(self) -> GenrnnApp:
        return cast("GenrnnApp", self.app)

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        recipes = sorted(Path("corpora").glob("*.toml")) if Path("corpora").is_dir() else []
        with Horizontal(id="train-body"):
            with Vertical(id="train-side"):
                with Vertical(id="train-form"):
                    with Row():
                        yield Label("text file")
                        yield Input("", placeholder="ctrl+o picks a .txt", id="text", compact=True)
                    with Row():
                        yield Label("or recipe")
                        yield Select([(p.stem, str(p)) for p in recipes], prompt="(none)", id="recipe", compact=True)
                    with Row():
                        yield Label("preset")
                        yield Select([(p, p) for p in PRESETS], value="small", allow_blank=False, id="preset", compact=True)
                    with Row():
                        yield Label("cell")
                        yield Select([(c, c) for c in CELLS if c != "none"], value="lstm", allow_blank=False, id="cell", compact=True)
                    with Row():
                        yield Label("budget (s)")
                        yield Input("120", id="budget", compact=True, restrict=r"[0-9.]*")
                    with Row():
                        yield Label("sample every")
                        yield Input("200", id="sample-every", compact=True, restrict=r"[0-9]*")
                    with Horizontal(id="train-buttons"):
                        yield Button("Start", variant="success", id="start", compact=True)
                        yield Button("Stop", variant="error", id="stop", compact=True, disabled=True)
                yield Static("idle: pick a text file or a recipe, then Start (ctrl+t)", id="train-stats")
            with Vertical(id="train-main"):
                with Horizontal(id="plots"):
                    yield PlotextPlot(id="loss-plot")
                    yield PlotextPlot(id="norm-plot")
                yield StreamText(id="train-sample")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#train-form").border_title = "Train"
        self.query_one("#train-stats").border_title = "Progress"
        self.query_one("#loss-plot").border_title = "loss (train, val)"
        self.query_one("#norm-plot").border_title = "grad norm"
        self.query_one("#train-sample").border_title = "Samples"
        self._draw_plots()

    # ------------------------------------------------------------------ form
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.action_start()
        elif event.button.id == "stop":
            self.action_stop()

    def action_pick_text(self) -> None:
        self.genrnn.open_modal(FilePicker(Path.cwd(), {".txt"}, "Text file to train on"), self._text_chosen)

    def _text_chosen(self, path: Path | None) -> None:
        if path and path != Path():
            self.query_one("#text", Input).value = str(path)

    def _request(self) -> TrainRequest:
        text = self.query_one("#text", Input).value.strip()
        recipe = self.query_one("#recipe", Select)
        recipe_path = None if recipe.is_blank() else Path(str(recipe.value))
        if bool(text) == (recipe_path is not None):
            raise ConfigError("give a text file or a recipe (one of them)")
        if text and not Path(text).expanduser().exists():
            raise ConfigError(f"{text}: no such file or folder")
        try:
            budget = float(self.query_one("#budget", Input).value)
            every = int(self.query_one("#sample-every", Input).value or "0")
        except ValueError:
            raise ConfigError("budget and sample every must be numbers") from None
        if not budget > 0:
            raise ConfigError("budget must be above 0 seconds")
        preset = str(self.query_one("#preset", Select).value)
        cell = str(self.query_one("#cell", Select).value)
        name = Path(text).stem if text else (recipe_path.stem if recipe_path else "run")
        out = self.genrnn.train_root / f"{name}-{cell}-{time.strftime('%Y%m%d-%H%M%S')}"
        return TrainRequest(Path(text).expanduser() if text else None, recipe_path, preset, cell,
                            budget, max(1, every), out)

    # ------------------------------------------------------------------ running
    def action_start(self) -> None:
        if self.running:
            self.notify("training is running: stop it first (ctrl+x)", severity="warning")
            return
        try:
            request = self._request()
        except GenrnnError as exc:
            self.notify(str(exc), title="Train", severity="error")
            return
        self.steps, self.losses, self.norms, self.val, self.best = [], [], [], [], None
        self.query_one("#train-sample", StreamText).clear()
        self.running, self.stop_wanted = True, False
        self._buttons()
        self._stats(f"preparing the corpus …\nout: {request.out_dir}")
        self._train(request)

    def action_stop(self) -> None:
        if not self.running:
            return
        self.stop_wanted = True
        trainer = self.genrnn.trainer
        if trainer is not None:
            trainer.request_stop()
        self._stats("stopping: saving a checkpoint …")

    def _buttons(self) -> None:
        self.query_one("#start", Button).disabled = self.running
        self.query_one("#stop", Button).disabled = not self.running

    @work(thread=True, exclusive=True, group="train")
    def _train(self, request: TrainRequest) -> None:
        s = session()
        try:
            if request.text is not None:
                corpus = s.prepare_corpus(text=request.text)
            else:
                corpus = s.prepare_corpus(recipe=request.recipe)
            if get_current_worker().is_cancelled:  # the app quit while the corpus was prepared:
                return  # no training run for the full budget after it has gone
            trainer = s.make_trainer(corpus, request.preset, {"cell": request.cell},
                                     {"time_budget": request.budget}, request.out_dir,
                                     [TrainFeed(self, request.sample_every)])
            self.genrnn.trainer = trainer
            if self.stop_wanted:
                trainer.request_stop()
            result = trainer.fit()
        except Exception as exc:  # a bad corpus, a full disk: say so, keep the app
            self.post_message(TrainFinished(None, {}, error_text(exc)))
            return
        finally:
            self.genrnn.trainer = None
        self.post_message(TrainFinished(request.out_dir, {
            "steps": result.steps, "elapsed": result.elapsed, "best_val_loss": result.best_val_loss,
            "stopped": result.stopped_early}))

    # ------------------------------------------------------------------ live figures
    def on_train_progress(self, message: TrainProgress) -> None:
        for step, loss, norm in message.rows:
            if math.isfinite(loss) and math.isfinite(norm):
                self.steps.append(step)
                self.losses.append(loss)
                self.norms.append(norm)
        p = message.progress
        eta = message.elapsed * (1 - p) / p if p > 0 else float("nan")
        loss = f"{self.losses[-1]:.3f}" if self.losses else "—"
        best = f"{self.best:.3f}" if self.best is not None else "—"
        self._stats(f"step {message.step} · loss {loss} · val {best}\n"
                    f"{message.tok_s:,.0f} tok/s · {p:.0%} · ETA {eta:,.0f} s"
                    + ("\nstopping …" if self.stop_wanted else ""))
        if time.monotonic() - self._last_plot >= PLOT_INTERVAL:
            self._draw_plots()

    def on_train_eval(self, message: TrainEval) -> None:
        self.val.append((message.step, message.val_loss))
        if message.best:
            self.best = message.val_loss
        self._draw_plots()

    def on_train_sample(self, message: TrainSample) -> None:
        view = self.query_one("#train-sample", StreamText)
        view.write(f"\n— step {message.step} —\n", style=None, temperature=0.3)
        view.write(message.text, temperature=0.8)

    def on_train_finished(self, message: TrainFinished) -> None:
        self.running = False
        self._buttons()
        self._draw_plots()
        if message.error:
            self._stats(f"failed: {message.error}")
            self.notify(message.error, title="Training failed", severity="error", timeout=10)
        else:
            r = message.result
            best = f"{r['best_val_loss']:.3f}" if r.get("best_val_loss") is not None else "—"
            self._stats(f"{'stopped' if r.get('stopped') else 'finished'}: {r['steps']} steps in "
                        f"{r['elapsed']:.0f} s · best val {best}\nsaved in {message.out_dir}")
            self.notify(f"checkpoint saved in {message.out_dir}; it is in the Generate picker (F2)",
                        title="Training")
            if message.out_dir is not None:
                self.app.post_message(RunCreated(message.out_dir))
        if self.genrnn.quitting:
            self.app.exit()

    def _stats(self, text: str) -> None:
        self.query_one("#train-stats", Static).update(text)

    def _draw_plots(self) -> None:
        from textual_plotext import PlotextPlot

        self._last_plot = time.monotonic()
        loss_plot = self.query_one("#loss-plot", PlotextPlot)
        plt = loss_plot.plt
        plt.clear_data()
        plt.xlabel("step")
        if self.steps:
            plt.plot(self.steps, self.losses, label="train", marker="braille")
        if self.val:
            plt.plot([s for s, _ in self.val], [v for _, v in self.val], label="val", marker="dot", color="orange")
        loss_plot.refresh()
        norm_plot = self.query_one("#norm-plot", PlotextPlot)
        plt = norm_plot.plt
        plt.clear_data()
        plt.xlabel("step")
        if self.steps:
            plt.plot(self.steps, self.norms, marker="braille", color="cyan")
        norm_plot.refresh()
