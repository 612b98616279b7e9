"""The genrnn terminal app: Generate (F2, the first screen), Train (F3) and Jam (F4), help on F1 / ?.

Attributes go down (the app holds the model cache, the player, the running trainer), messages
come up (workers post them). Nothing here imports torch: ``genrnn.session`` is imported on first
use inside worker threads, so the first frame is drawn without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from genrnn.tui import catalog
from genrnn.tui.engine import ModelCache, Player
from genrnn.tui.messages import RunCreated
from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.screens.help import HelpScreen
from genrnn.tui.screens.jam import JamScreen
from genrnn.tui.screens.train import TrainScreen
from genrnn.tui.text_process import TextProcess
from genrnn.tui.widgets import guard_option_list_paging

guard_option_list_paging()

QUIT_GRACE = 60.0  # seconds to wait for a training checkpoint before quitting anyway


class GenrnnApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "genrnn"
    ENABLE_COMMAND_PALETTE = False
    SCREENS = {"generate": GenerateScreen, "train": TrainScreen, "jam": JamScreen}
    MODES = {"generate": "generate", "train": "train", "jam": "jam"}
    DEFAULT_MODE = "generate"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "switch_mode('generate')", "Gen"),
        Binding("f3", "switch_mode('train')", "Train"),
        Binding("f4", "switch_mode('jam')", "Jam"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, runs: list[Path] | None = None, checkpoints: Path | None = None,
                 save_dir: Path | None = None) -> None:
        super().__init__()
        self.run_roots = list(runs) if runs else catalog.default_run_roots()
        self.train_root = self.run_roots[0]
        self.checkpoints_dir = checkpoints or Path("checkpoints")
        self.save_dir = save_dir or Path("takes")
        self.models = ModelCache()  # MIDI-events models (their streams run in this process)
        self.text_process = TextProcess()  # text and ABC streams, in a process of their own
        self.player = Player()
        self.trainer: Any = None  # the running Trainer (set by the train worker)
        self.quitting = False

    def open_modal(self, screen: Screen[Any], callback: Callable[[Any], None] | None = None) -> bool:
        """Push a modal unless one is already open (one dialog at a time)."""
        if isinstance(self.screen, ModalScreen):
            return False
        self.push_screen(screen, callback)
        return True

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.open_modal(HelpScreen(self.screen))

    def on_run_created(self, message: RunCreated) -> None:
        # Rescan directly: re-posting RunCreated to the screen would bubble back up to here
        # and loop for ever (a rescan worker restarted on every pass: 100 % CPU while idle).
        generate = self._generate_screen()
        if generate is not None:
            generate.scan_models()

    def _generate_screen(self) -> GenerateScreen | None:
        try:
            screen = self.get_screen("generate")
        except KeyError:  # shutting down
            return None
        return screen if isinstance(screen, GenerateScreen) else None

    def _on_key(self, event: events.Key) -> None:
        # Textual calls this before App._on_key (handlers run down the class hierarchy). A key
        # still queued when the app has closed its last screen (a fast typist at Ctrl+Q, a key
        # storm in the tests on a slow machine) has nowhere to go: drop it, where App's binding
        # check would raise ScreenStackError.
        try:
            self.screen  # noqa: B018 - the check itself
        except ScreenStackError:
            event.prevent_default()

    def on_unmount(self) -> None:
        """However the app ends (ctrl+q, an error, the end of a test), no take plays on to its
        end, no jam listens on and no training runs on for its budget: the process could not
        exit until they had (streams end by themselves: their workers are cancelled)."""
        self.player.stop()
        self._stop_jam()
        self.text_process.close()
        if self.trainer is not None:
            self.trainer.request_stop()

    def _stop_jam(self) -> None:
        try:  # the Jam mode's screens; none until F4 was pressed (get_screen would make one)
            stack = self.get_screen_stack("jam")
        except KeyError:
            return
        for screen in stack:
            if isinstance(screen, JamScreen):
                screen.action_stop()

    async def action_quit(self) -> None:
        """Stop playback, streams and a jam (it is saved); checkpoint a running training first."""
        self.player.stop()
        self._stop_jam()
        generate = self._generate_screen()
        if generate is not None:
            generate.stop_stream()
        if self.trainer is not None:
            if self.quitting:
                return
            self.quitting = True
            self.trainer.request_stop()
            self.notify("saving a training checkpoint, then quitting …", title="Quit")
            self.set_timer(QUIT_GRACE, self.exit)
            return
        self.exit()
