"""Where a phrase ends: gap, max-call, trigger pedal, adaptive gap, a closed input (no clock)."""

from __future__ import annotations

import pytest

from genrnn.errors import ConfigError
from genrnn.playback.phrases import PhraseDetector, PhraseRules


def play(det: PhraseDetector, notes: list[tuple[float, float, int]]) -> None:
    """(start, end, pitch) notes, fed in time order."""
    events = [(s, 1, p) for s, _, p in notes] + [(e, 0, p) for _, e, p in notes]
    for t, on, p in sorted(events):
        if on:
            det.note_on(t, 0, p)
        else:
            det.note_off(t, 0, p)


def test_all_keys_up_and_the_gap_ends_a_phrase() -> None:
    det = PhraseDetector(PhraseRules(gap=0.6))
    play(det, [(0.0, 0.4, 60), (0.5, 0.9, 62), (1.0, 1.5, 64)])
    assert det.due() == pytest.approx(2.1)
    assert det.poll(2.0) is None
    phrase = det.poll(2.1)
    assert phrase is not None and phrase.reason == "gap"
    assert (phrase.start, phrase.last, phrase.due, phrase.notes) == (0.0, 1.5, pytest.approx(2.1), 3)
    assert phrase.length == pytest.approx(1.5)
    assert det.poll(5.0) is None and det.due() is None  # once


def test_a_held_key_keeps_the_phrase_open_until_max_call() -> None:
    det = PhraseDetector(PhraseRules(gap=0.6, max_call=3.0))
    det.note_on(0.0, 0, 60)
    assert det.due() == pytest.approx(3.0)  # no gap while a key is down
    assert det.poll(2.9) is None
    phrase = det.poll(3.0)
    assert phrase is not None and phrase.reason == "max-call" and phrase.held == [(0, 60)]
    assert det.note_off(3.5, 0, 60)  # its release is still known
    assert not det.open


def test_a_long_busy_phrase_is_cut_at_max_call() -> None:
    det = PhraseDetector(PhraseRules(gap=0.6, max_call=2.0))
    play(det, [(i * 0.25, i * 0.25 + 0.1, 60 + i % 5) for i in range(12)])
    phrase = det.poll(10.0)
    assert phrase is not None and phrase.reason == "max-call" and phrase.due == pytest.approx(2.0)


def test_the_pedal_ends_a_phrase_at_once_and_only_an_open_one() -> None:
    det = PhraseDetector(PhraseRules(trigger_cc=64))
    assert not det.control(0.0, 64, 127)  # no phrase open
    det.note_on(0.1, 0, 60)
    assert not det.control(0.2, 64, 10)  # pedal up
    assert not det.control(0.2, 1, 127)  # another controller
    assert det.control(0.3, 64, 100)
    assert det.due() == pytest.approx(0.3)
    phrase = det.poll(0.3)
    assert phrase is not None and phrase.reason == "trigger" and phrase.held == [(0, 60)]


def test_no_trigger_when_switched_off() -> None:
    det = PhraseDetector(PhraseRules(trigger_cc=None))
    det.note_on(0.0, 0, 60)
    assert not det.control(0.1, 64, 127)


def test_the_adaptive_gap_follows_a_fast_player_within_bounds() -> None:
    rules = PhraseRules(gap=0.6, adaptive=True, min_gap=0.2, gap_factor=2.5)
    det = PhraseDetector(rules)
    play(det, [(i * 0.1, i * 0.1 + 0.05, 60) for i in range(8)])  # 100 ms apart
    assert det.gap() == pytest.approx(0.25)
    slow = PhraseDetector(rules)
    play(slow, [(i * 1.0, i * 1.0 + 0.5, 60) for i in range(8)])
    assert slow.gap() == pytest.approx(0.6)  # never longer than --gap
    fixed = PhraseDetector(PhraseRules(gap=0.6))
    play(fixed, [(i * 0.1, i * 0.1 + 0.05, 60) for i in range(8)])
    assert fixed.gap() == 0.6


def test_orphan_note_offs_and_a_closed_input() -> None:
    det = PhraseDetector(PhraseRules(gap=0.5))
    assert not det.note_off(0.0, 0, 60)  # never struck
    det.note_on(1.0, 0, 60)
    det.note_on(1.0, 1, 60)  # the same key on another channel
    assert det.keys_down == 2
    assert det.closed(1.2) == [(0, 60), (1, 60)]
    assert det.keys_down == 0
    phrase = det.poll(1.7)
    assert phrase is not None and phrase.reason == "gap" and phrase.last == pytest.approx(1.2)


@pytest.mark.parametrize("kwargs", [{"gap": 0}, {"max_call": -1}, {"trigger_cc": 200}, {"gap": 0.5, "min_gap": 0.9}])
def test_bad_rules_are_one_clear_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        PhraseRules(**kwargs)
