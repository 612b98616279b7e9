"""Band takes in the TUI: a colour per instrument and a legend, drums in their own lane, and
mute / solo that only the listener hears (playback to a socket receiver; files keep everything)."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import mido
import pytest
from rich.style import Style

from genrnn.music.instruments import DRUM_CHANNEL
from genrnn.music.notes import Note
from genrnn.playback.receiver import tally
from genrnn.tui.mix import Mix, instruments_of
from genrnn.tui.screens.generate import GenerateScreen
from genrnn.tui.screens.help import HelpScreen
from genrnn.tui.takes import Take
from genrnn.tui.widgets.piano_roll import (
    DRUM_LANES,
    GUTTER,
    PianoRoll,
    instrument_colour,
    note_style,
)
from tests.receivers import ThreadReceiver
from tests.tui.conftest import (
    RecordingApp,
    choose_socket_port,
    endings,
    save_take,
    wait_for,
)

PIANO, BASS, DRUMS = (0, False), (33, False), (0, True)
KICK, SNARE, HAT, TOM = 36, 38, 42, 45


def band_take(seconds: float = 2.0) -> Take:
    """Piano chords (60-67), a bass line (48-55) and a kit (a kick at 36: lower than the bass),
    on the 8th notes of 120 bpm."""
    notes: list[Note] = []
    steps = int(seconds / 0.25)
    for i in range(steps):
        t = i * 0.25
        if i % 4 == 0:
            notes += [Note(p, 80, t, t + 0.9) for p in (60, 64, 67)]
        notes.append(Note(48 + (i % 8), 100, t, t + 0.2, program=33))
        notes.append(Note(HAT, 70, t, t + 0.05, is_drum=True))
        if i % 4 in (0, 2):
            notes.append(Note(KICK if i % 4 == 0 else SNARE, 110, t, t + 0.1, is_drum=True))
    notes.append(Note(TOM, 90, seconds - 0.25, seconds - 0.15, is_drum=True))
    return Take(0, "band", "midi_events", 1.0, notes=notes)


@pytest.fixture
def band_app(tmp_path: Path) -> RecordingApp:
    """The app with no model at all: the takes are made here, from notes."""
    empty = tmp_path / "no-checkpoints"
    empty.mkdir()
    return RecordingApp(runs=[tmp_path / "runs"], checkpoints=empty, save_dir=tmp_path / "takes")


async def shown(pilot, take: Take) -> GenerateScreen:  # noqa: ANN001
    """Wait for the (empty) model scan, then add ``take`` and show it."""
    screen = pilot.app.screen
    assert isinstance(screen, GenerateScreen)
    await wait_for(pilot, lambda: screen.query_one("#views").border_subtitle == "no models")
    screen.add_take(take)
    screen.roll.focus()
    await pilot.pause()
    return screen


def lines(roll: PianoRoll) -> list[list]:
    """Every line of the roll as it is drawn: its segments."""
    return [list(roll.render_line(y)) for y in range(roll.size.height)]


def text(segments: list) -> str:
    return "".join(s.text for s in segments)


def colours(segments: list, glyphs: str) -> set[str]:
    """The foreground colours of the cells drawn with one of ``glyphs``."""
    return {str(s.style.color.triplet.hex) for s in segments
            if s.style and s.style.color and any(ch in glyphs for ch in s.text)}


async def test_a_band_take_draws_each_instrument_in_its_colour_with_a_legend_and_a_drum_lane(band_app) -> None:
    async with band_app.run_test(size=(120, 40)) as pilot:
        screen = await shown(pilot, band_take())
        roll = screen.roll
        assert roll.instruments == [PIANO, BASS, DRUMS]
        drawn = lines(roll)
        legend, pitched, drums = roll.layout_rows(roll.size.height)
        assert (legend, drums) == (1, len(DRUM_LANES) + 1)
        # the legend names every instrument, each with its colour's swatch
        top = drawn[0]
        assert all(name in text(top) for name in ("Acoustic Grand Piano", "Electric Bass (finger)", "Drums"))
        swatches = colours(top, "■●")
        assert swatches == {instrument_colour(*k) for k in (PIANO, BASS, DRUMS)} and len(swatches) == 3
        # pitched rows: piano and bass, each its own colour; the drums are not among them
        rows = drawn[legend:legend + pitched]
        labels = [text(r)[:GUTTER].strip() for r in rows]
        c4 = labels.index("C4")
        pitch_of = lambda row: 60 + c4 - row  # noqa: E731
        assert pitch_of(len(rows) - 1) > KICK  # the bass's lowest note (48) and its margin, no lower
        piano, bass = colours(rows[c4], "▐█"), colours(rows[c4 + 12], "▐█")  # C4 and C3
        assert piano == {drawn_in(PIANO, 80)} and bass == {drawn_in(BASS, 100)} and piano != bass
        assert not any("●" in text(r) for r in rows)
        # the drum band: a rule marked drums, then the lanes, the kick at the bottom
        band = drawn[legend + pitched:]
        assert text(band[0]).startswith("drums") and "╌" in text(band[0])
        lanes = {text(row)[:GUTTER].strip(): text(row)[GUTTER:] for row in band[1:]}
        assert list(lanes) == list(DRUM_LANES)
        assert roll.seconds_per_column == 0.1  # and the 2 s take starts at the left edge:
        assert [i for i, ch in enumerate(lanes["kick"]) if ch == "●"] == [0, 10]  # kicks at 0 and 1 s
        assert lanes["snare"].count("●") == sum(1 for n in screen.shown.notes if n.pitch == SNARE and n.is_drum)
        assert lanes["hats"].count("●") >= 4 and lanes["toms"].count("●") == 1
        assert colours(band[-1], "●") == {drawn_in(DRUMS, 110)}


async def test_the_roll_keeps_the_drums_apart_when_it_is_short(band_app) -> None:
    async with band_app.run_test(size=(80, 16)) as pilot:
        screen = await shown(pilot, band_take())
        roll = screen.roll
        legend, pitched, drums = roll.layout_rows(roll.size.height)
        assert drums == 1 and pitched >= 3
        drawn = lines(roll)
        assert text(drawn[-1]).startswith("drums") and "●" in text(drawn[-1])
        assert not any("●" in text(r) for r in drawn[legend:legend + pitched])
        assert len(text(drawn[0])) == roll.size.width  # the legend fits, its names shortened
        assert "bass" in text(drawn[0]).lower() and "Drums" in text(drawn[0])


async def test_a_narrow_legend_keeps_every_instrument_as_its_colour(band_app) -> None:
    take = band_take()
    for i, program in enumerate((27, 48, 80, 61)):  # guitar, strings, a lead, brass: seven with the drums
        take.notes.append(Note(60 + i, 90, 0.5, 1.5, program=program))
    async with band_app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot, take)
        await pilot.press("i", "m", "i", "i", "s")  # the piano muted, the bass soloed
        top = lines(screen.roll)[0]
        assert len(text(top)) == screen.roll.size.width
        assert colours(top, "■●") == {instrument_colour(*k) for k in screen.roll.instruments}
        assert len(screen.roll.instruments) == 7 and text(top).count("■") == 6 and "●" in text(top)
        assert "■ M" in text(top) and "▸■ S" in text(top) and text(top).rstrip().endswith("bass")


async def test_i_m_s_pick_mute_and_solo_an_instrument_and_the_legend_says_so(band_app) -> None:
    async with band_app.run_test(size=(120, 36)) as pilot:
        screen = await shown(pilot, band_take())
        mix = band_app.player.mix
        legend = lambda: text(lines(screen.roll)[0])  # noqa: E731
        assert "▸" not in legend()
        await pilot.press("i")
        assert screen.instrument == PIANO and "▸■ Acoustic Grand Piano" in legend()
        await pilot.press("i")
        assert screen.instrument == BASS and "▸■ Electric Bass" in legend()
        await pilot.press("m")
        assert mix.muted(BASS) and not mix.audible(33, False) and mix.audible(0, False)
        assert "Electric Bass (finger) muted" in legend()
        assert "muted" in str(screen.query_one("#views").border_subtitle)
        await pilot.press("i", "s")  # solo the drums: the piano is silent too
        assert screen.instrument == DRUMS and mix.soloed(DRUMS)
        assert mix.audible(0, True) and not mix.audible(0, False) and not mix.audible(33, False)
        assert "Drums solo" in legend()
        await pilot.press("s", "i", "m")  # solo off; back round to the piano; bass still muted
        assert screen.instrument == PIANO and mix.muted(PIANO) and mix.muted(BASS) and not mix.soloed(DRUMS)
        await pilot.press("m", "i", "m")
        assert not mix.muted(PIANO) and not mix.muted(BASS) and "muted" not in legend()
        # a text take has no instruments: the keys say so and change nothing
        screen.add_take(Take(0, "words", "text", 0.8, text="hello"))
        await pilot.press("i", "m")
        assert "music take" in str(screen.query_one("#views").border_subtitle)
        assert not mix.muted(PIANO)
        await pilot.press("f1")
        assert isinstance(band_app.screen, HelpScreen)
        help_text = band_app.screen.text
        assert all(k in help_text for k in ("pick the next instrument", "Mute / unmute", "Solo / unsolo", "drums rule"))


def drawn_in(key: tuple[int, bool], velocity: int) -> str:
    """The colour a note of that instrument and velocity is drawn in."""
    return str(note_style(*key, velocity).color.triplet.hex)


def heard_notes(messages: list[mido.Message]) -> list[mido.Message]:
    return [m for m in messages if m.type == "note_on" and m.velocity > 0]


async def test_playing_with_an_instrument_muted_sends_none_of_its_notes(band_app) -> None:
    receiver = ThreadReceiver()
    async with band_app.run_test(size=(120, 36), notifications=True) as pilot:
        screen = await shown(pilot, band_take(1.5))
        await choose_socket_port(pilot, screen, receiver.address)
        screen.roll.focus()
        await pilot.press("i", "i", "m")  # the bass
        await pilot.press("space")
        take = screen.shown
        await wait_for(pilot, lambda: endings(band_app, take), timeout=30)
        assert endings(band_app, take)[0].startswith("played take #1")
        assert "(6 muted)" in endings(band_app, take)[0]
    assert not band_app.errors(), band_app.errors()
    [got] = receiver.close()
    heard = tally(got)
    notes = heard_notes(heard.messages)
    assert {m.note for m in notes} == {60, 64, 67, KICK, SNARE, HAT, TOM}  # never a bass note
    assert len(notes) == sum(1 for n in take.notes if n.program != 33)
    assert heard.note_offs == heard.note_ons and heard.hanging_notes == 0
    assert {m.channel for m in notes if m.note in (KICK, SNARE, HAT, TOM)} == {DRUM_CHANNEL}


async def test_muting_while_playing_applies_from_the_next_note_and_releases_the_sounding_one(band_app) -> None:
    """A long piano note sounds; the piano is muted under it: it still gets its note-off, and no
    piano note starts after the key. Solo the drums: the bass stops too."""
    take = band_take(4.0)
    take.notes.append(Note(72, 90, 0.0, 3.5))  # held over the mute
    receiver = ThreadReceiver()
    async with band_app.run_test(size=(120, 36), notifications=True) as pilot:
        screen = await shown(pilot, take)
        await choose_socket_port(pilot, screen, receiver.address)
        screen.roll.focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: (band_app.player.position() or 0.0) > 0.8, timeout=30)
        await pilot.press("i", "m")  # the piano, muted
        muted_at = time.perf_counter()
        await wait_for(pilot, lambda: (band_app.player.position() or 0.0) > 2.0, timeout=30)
        await pilot.press("i", "i", "s")  # the drums, soloed
        soloed_at = time.perf_counter()
        await wait_for(pilot, lambda: endings(band_app, take), timeout=30)
        await pilot.press("s", "i", "m")  # everything back for the next test
    [got] = receiver.close()
    heard = tally(got)
    assert heard.note_offs == heard.note_ons and heard.hanging_notes == 0
    arrivals = [(at, mido.Message.from_bytes(raw)) for at, raw in got]
    ons = [(at, m) for at, m in arrivals if m.type == "note_on" and m.velocity > 0]
    piano = [at for at, m in ons if m.note in (60, 64, 67, 72) and m.channel != DRUM_CHANNEL]
    bass = [at for at, m in ons if 48 <= m.note <= 55 and m.channel != DRUM_CHANNEL]
    assert piano and max(piano) < muted_at + 0.05  # some before; none from the key on
    assert bass and max(bass) < soloed_at + 0.05 and min(bass) < soloed_at
    assert any(at > soloed_at for at, m in ons if m.channel == DRUM_CHANNEL)
    held = [at for at, m in arrivals if m.type in ("note_off", "note_on") and m.note == 72
            and (m.type == "note_off" or m.velocity == 0)]
    assert held and held[0] > muted_at  # the sounding note was released at its end, not cut off
    assert len(piano) < sum(1 for n in take.notes if n.program == 0 and not n.is_drum)


async def test_saving_keeps_every_instrument_whatever_is_muted(band_app, tmp_path: Path) -> None:
    import music21

    take = band_take()
    async with band_app.run_test(size=(120, 36)) as pilot:
        await shown(pilot, take)
        await pilot.press("i", "i", "m", "i", "s")  # bass muted, drums soloed
        assert band_app.player.mix.muted(BASS) and band_app.player.mix.soloed(DRUMS)
        await save_take(pilot, take, tmp_path / "out")
        await pilot.press("s", "i", "i", "m")
    out = tmp_path / "out"
    midi = mido.MidiFile(out / f"{take.stem}.mid")
    ons = [m for m in midi if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == len(take.notes)
    assert sum(1 for m in ons if m.channel == DRUM_CHANNEL) == sum(1 for n in take.notes if n.is_drum)
    programs = {m.program for m in midi if m.type == "program_change"}
    assert {0, 33} <= programs
    score = music21.converter.parse(out / f"{take.stem}.musicxml")
    assert len(score.parts) == 3
    with wave.open(str(out / f"{take.stem}.wav")) as wav:
        assert wav.getnframes() > wav.getframerate()


def test_a_take_being_generated_plays_through_the_mix() -> None:
    """The live path: events appended by a generator thread; the drums muted, then the piano
    soloed while it plays. None of a silenced instrument's notes start, none is left hanging."""
    from genrnn.tui.engine import Player

    receiver = ThreadReceiver()
    take = Take(1, "band", "midi_events", 1.0)
    player = Player()
    player.mix.toggle_mute(DRUMS)

    def generate() -> None:
        for i in range(16):
            t = i * 0.1
            take.events.extend([(t, 60 + i % 4, 90, 0, False), (t, 40, 90, 33, False), (t, KICK, 100, 0, True)])
            take.events.extend([(t + 0.08, 60 + i % 4, 0, 0, False), (t + 0.08, 40, 0, 33, False),
                                (t + 0.08, KICK, 0, 0, True)])
            if i == 8:
                player.mix.toggle_solo(PIANO)
            time.sleep(0.02)
        take.done = True

    maker = threading.Thread(target=generate)
    maker.start()
    stats = player.play(take, receiver.address)
    maker.join()
    [got] = receiver.close()
    heard = tally(got)
    notes = heard_notes(heard.messages)
    assert heard.hanging_notes == 0 and heard.note_offs == heard.note_ons
    assert DRUM_CHANNEL not in heard.channels
    assert sum(1 for m in notes if m.note == 40) < 16 and sum(1 for m in notes if m.note != 40) == 16
    assert stats.notes == len(notes) and stats.notes + stats.muted == 48


def test_instruments_of_notes_and_events_and_the_mix_rule() -> None:
    notes = [Note(60, 90, 0, 1, program=33), Note(36, 90, 0, 1, program=5, is_drum=True)]
    assert instruments_of(notes, [(0.0, 60, 90), (0.0, 62, 90, 48, False)]) == [(0, False), (33, False), (48, False),
                                                                            (0, True)]
    mix = Mix()
    assert mix.state(BASS) == "" and mix.audible(33, False)
    mix.toggle_solo(BASS)
    assert mix.state(PIANO) == "silent" and mix.state(BASS) == "solo"
    mix.toggle_mute(BASS)  # mute wins over solo
    assert mix.state(BASS) == "muted" and not mix.audible(33, False) and not mix.audible(0, False)
    assert mix.audible(7, True) is False and Mix().audible(7, True)  # any program of the kit: the kit


def test_the_style_of_a_note_is_its_instruments() -> None:
    from genrnn.tui.widgets.piano_roll import FAMILY_COLOURS

    assert instrument_colour(0, False) == FAMILY_COLOURS[0] and instrument_colour(33, False) != FAMILY_COLOURS[0]
    assert len(set(FAMILY_COLOURS)) == 16
    assert all(c not in ("#ffd75f", "#ffffff") for c in (*FAMILY_COLOURS, instrument_colour(0, True)))
    loud, soft = note_style(33, False, 120), note_style(33, False, 20)
    assert isinstance(loud, Style) and loud.color != soft.color and loud.color.triplet.hex == instrument_colour(33, False)
