"""Modal pickers: a primer file (.txt/.abc/.mid), a folder and formats to save a take."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Label

from genrnn.tui.screens.modal import OnceModal

PRIMER_SUFFIXES = {".txt", ".abc", ".mid", ".midi"}


class FileTree(DirectoryTree):
    """Folders and the files whose suffix is in ``suffixes`` (folders only when empty)."""

    def __init__(self, path: Path, suffixes: set[str], id: str | None = None) -> None:
        super().__init__(path, id=id)
        self.suffixes = suffixes

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.suffix.lower() in self.suffixes)]


class FilePicker(OnceModal[Path | None]):
    """Pick a file; Escape cancels, ctrl+x answers ``Path()`` (no file)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+x", "clear", "No file")]

    def __init__(self, root: Path, suffixes: set[str] | None = None,
                 title: str = "Primer file (.txt, .abc, .mid)") -> None:
        super().__init__()
        self.root = root
        self.suffixes = suffixes if suffixes is not None else PRIMER_SUFFIXES
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.title_text} — Enter picks, Escape cancels, ctrl+x none", classes="dialog-title")
            yield FileTree(self.root, self.suffixes, id="file-tree")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.close(Path(event.path))

    def action_cancel(self) -> None:
        self.close(None)

    def action_clear(self) -> None:
        self.close(Path())


PrimerPicker = FilePicker


class SaveDialog(OnceModal[tuple[Path, list[str]] | None]):
    """Choose a folder (typed, or picked in the tree) and the formats for the take."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, folder: Path, formats: tuple[str, ...], what: str) -> None:
        super().__init__()
        self.folder = folder
        self.formats = formats
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Save {self.what}", classes="dialog-title")
            yield Input(str(self.folder), id="save-folder", compact=True)
            yield FileTree(self.folder if self.folder.is_dir() else Path.cwd(), set(), id="save-tree")
            with Horizontal(id="save-formats"):
                for fmt in self.formats:
                    yield Checkbox(f".{fmt}", True, id=f"fmt-{fmt}", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one("#save-folder", Input).value = str(event.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        folder = Path(self.query_one("#save-folder", Input).value.strip() or ".").expanduser()
        chosen = [f for f in self.formats if self.query_one(f"#fmt-{f}", Checkbox).value]
        if not chosen:
            self.notify("pick at least one format", severity="warning")
            return
        self.close((folder, chosen))

    def action_cancel(self) -> None:
        self.close(None)
