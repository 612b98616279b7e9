"""The model picker's catalog: language models listed, other genrnn models skipped quietly,
junk reported."""

from __future__ import annotations

from pathlib import Path

from genrnn.tui import catalog

REPO = Path(__file__).resolve().parents[2]


def test_harmonizers_are_skipped_quietly_and_junk_is_reported(tiny_run: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "checkpoints"
    shipped.mkdir()
    (shipped / "tiny.safetensors").write_bytes((tiny_run / "best.safetensors").read_bytes())
    (shipped / "harmonizer.safetensors").write_bytes((REPO / "checkpoints" / "harmonizer.safetensors").read_bytes())
    (shipped / "junk.safetensors").write_bytes(b"not a safetensors file")
    entries, problems = catalog.scan(shipped, [])
    assert [e.name for e in entries] == ["tiny"] and entries[0].kind == "text"
    assert len(problems) == 1 and "junk.safetensors" in problems[0]


async def test_a_new_run_rescans_once_not_for_ever(make_app, tiny_run: Path, monkeypatch) -> None:
    """RunCreated once looped between the app and the Generate screen (100 % CPU while idle)."""
    from genrnn.tui.messages import RunCreated
    from tests.tui.conftest import wait_for

    calls: list[int] = []
    real_scan = catalog.scan

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(catalog, "scan", counting)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.entries)
        before = len(calls)
        app.post_message(RunCreated(tiny_run))
        await pilot.pause(1.5)
        assert 1 <= len(calls) - before <= 2
