"""The gated output: instruments held back at send time, and never a note left hanging."""

from __future__ import annotations

import mido

from genrnn.playback.events import DRUM_CHANNEL, note_event_messages
from genrnn.playback.gate import GatedOutput
from tests.unit.test_playback_ports import ListPort


def test_a_muted_instrument_sends_no_note_and_a_sounding_one_keeps_its_note_off() -> None:
    silent: set[tuple[int, bool]] = set()
    sink = ListPort()
    out = GatedOutput(sink, "test", lambda program, drum: (program, drum) not in silent)
    events = [(0.0, 60, 90, 0, False), (0.0, 36, 100, 0, True), (0.0, 40, 90, 33, False),  # all three sound
              (0.5, 36, 0, 0, True), (0.5, 40, 0, 33, False),
              (1.0, 62, 90, 0, False), (1.0, 36, 100, 0, True), (1.0, 40, 90, 33, False),
              (1.5, 60, 0, 0, False), (1.5, 62, 0, 0, False), (1.5, 36, 0, 0, True), (1.5, 40, 0, 33, False)]
    for i, timed in enumerate(note_event_messages(events)):
        if i == 5:  # all three sound, their note-offs to come: mute the piano and the drums
            silent.update({(0, False), (0, True)})
        out.send(timed.msg)
    ons = [(m.channel, m.note) for m in sink.sent if m.type == "note_on" and m.velocity > 0]
    offs = [(m.channel, m.note) for m in sink.sent if m.type == "note_off"]
    bass = next(m.channel for m in sink.sent if m.type == "program_change" and m.program == 33)
    assert ons == [(0, 60), (DRUM_CHANNEL, 36), (bass, 40), (bass, 40)]  # piano and drums: none after
    assert sorted(offs) == sorted(ons)  # the piano's 60 and the kick, sounding when muted, are released
    assert out.held_back == 2 and not out.sounding
    report = out.silence()
    assert report.note_offs == 0


def test_a_note_held_back_keeps_its_note_off_back_and_silence_releases_what_was_sent() -> None:
    muted = False
    sink = ListPort()
    out = GatedOutput(sink, "test", lambda program, drum: not muted)
    out.send(mido.Message("program_change", channel=0, program=0))
    out.send(mido.Message("note_on", channel=0, note=60, velocity=90))  # sounds
    muted = True
    out.send(mido.Message("note_on", channel=0, note=64, velocity=90))  # held back
    out.send(mido.Message("note_off", channel=0, note=64, velocity=0))  # its off: held back too
    muted = False
    out.send(mido.Message("note_on", channel=0, note=67, velocity=90))  # sounds again
    assert [(m.type, m.note) for m in sink.sent if m.type != "program_change"] == [("note_on", 60), ("note_on", 67)]
    report = out.silence()  # stopped here: both sounding notes released, then the controllers
    assert report.note_offs == 2 and sorted(m.note for m in sink.sent if m.type == "note_off") == [60, 67]
