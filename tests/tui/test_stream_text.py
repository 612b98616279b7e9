"""The streamed-text view on its own: it follows the end, jump-scrolls fast text, leaves a
reader who scrolled up where they are, and the screen's pace keeps to its CPU share."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from genrnn.tui.text_process import Pace
from genrnn.tui.widgets.stream_text import JUMP_WINDOW, StreamText


class ViewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StreamText()


def visible(view: StreamText) -> range:
    top = view.scroll_offset.y
    return range(top, top + view.scrollable_content_region.height)


async def test_fast_text_jumps_and_the_end_stays_in_view() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(StreamText)
        lines = [f"line {i:03d} " + "x" * (i % 90) for i in range(200)]  # some wrap
        scrolls = set()
        for i in range(0, 200, 3):  # three lines an update, as fast as the app takes them
            view.write("\n".join(lines[i:i + 3]) + "\n", 0.8)
            await pilot.pause()
            assert len(view._lines) - 1 in visible(view)  # noqa: SLF001 - the view's own line list
            scrolls.add(view.scroll_offset.y)
        assert view.text == "\n".join(lines) + "\n"
        width, height = view.scrollable_content_region.width, view.scrollable_content_region.height
        assert not view.show_horizontal_scrollbar and view.show_vertical_scrollbar
        assert max(sum(len(seg.text) for seg in line) for line in view._lines) == width  # noqa: SLF001
        assert view.virtual_size.height >= len(lines) + 1
        # it scrolled by jumps: fewer scroll positions than updates past the first screen
        assert 2 < len(scrolls) < (len(view._lines) - height) / 3  # noqa: SLF001


async def test_slow_text_scrolls_a_line_at_a_time() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(StreamText)
        view.write("\n".join(f"row {i}" for i in range(30)), 0.8)  # fast: a jump, blank rows below
        await pilot.pause()
        while view.virtual_size.height > len(view._lines):  # noqa: SLF001 - fill the blank rows
            view.write(f"\nrow {len(view._lines)}", 0.8)  # noqa: SLF001
            await pilot.pause()
        for _ in range(3):
            time.sleep(JUMP_WINDOW + 0.05)  # slow: one line in the window
            top = view.scroll_offset.y
            view.write(f"\nrow {len(view._lines)}", 0.8)  # noqa: SLF001
            await pilot.pause()
            assert view.scroll_offset.y == top + 1
            assert view.virtual_size.height == len(view._lines)  # noqa: SLF001 - no blank rows


async def test_a_reader_who_scrolled_up_stays_put() -> None:
    app = ViewApp()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(StreamText)
        view.write("\n".join(f"row {i}" for i in range(50)), 0.8)
        await pilot.pause()
        view.scroll_to(y=5, animate=False)
        await pilot.pause()
        for i in range(50, 80):
            view.write(f"\nrow {i}", 0.8)
            await pilot.pause()
        assert view.scroll_offset.y == 5
        assert view.virtual_size.height >= 80
        view.scroll_end(animate=False)  # back at the end, it follows again
        await pilot.pause()
        view.write("\nrow 80", 0.8)
        await pilot.pause()
        assert 80 in visible(view)


def test_the_pace_keeps_the_screen_to_its_share() -> None:
    pace = Pace(share=0.05, bounds=(0.1, 0.5))
    assert pace.interval == 0.1 and not pace.due()
    start = time.process_time()
    while time.process_time() - start < 0.012:  # an update that cost 12 ms of CPU
        pass
    pace.posted()
    assert 0.24 <= pace.interval <= 0.5  # 12 ms / 5 % ≥ 0.24 s
    pace.posted()  # the next one cost next to nothing: back to the floor
    assert pace.interval == 0.1
    start = time.process_time()
    while time.process_time() - start < 0.05:
        pass
    pace.posted()
    assert pace.interval == 0.5  # never slower than the upper bound
    time.sleep(0.5)
    assert pace.due()
