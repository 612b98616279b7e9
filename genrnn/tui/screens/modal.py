"""A modal screen that closes once, however many keys ask it to before it is gone."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.screen import ModalScreen

R = TypeVar("R")


class OnceModal(ModalScreen[R]):
    """``close(result)`` dismisses the first time and ignores repeats (fast typists, key storms).

    (The flag is not called ``_closing``: Textual's message pump uses that name.)
    """

    _dismissing = False

    def close(self, result: Any = None) -> None:
        if self._dismissing or not self.is_current:
            return
        self._dismissing = True
        self.dismiss(result)
