

def guard_option_list_paging() -> None:
    """Work around a Textual 8 bug: page up/down in a Select's overlay before its lines are
    laid out raises KeyError inside ``OptionList._move_page`` and takes the whole app down
    (found by the 2,000-key storm on the Train screen). Paging an empty layout now does
    nothing, which is what the widget means to do."""
    from textual.widgets import OptionList

    original = OptionList._move_page
    if getattr(original, "_genrnn_guarded", False):
        return

    def move_page(self: OptionList, direction: int) -> None:
        if (self.highlighted or 0) not in self._index_to_line:
            return
        original(self, direction)

    move_page._genrnn_guarded = True  # type: ignore[attr-defined]
    OptionList._move_page = move_page  # type: ignore[method-assign]
