"""The event grammar: what an event model's stream may draw next, and a real stream obeying it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrnn.config import ModelConfig, SampleConfig
from genrnn.errors import ConfigError
from genrnn.generation.grammar import EventGrammar
from genrnn.models.rnn import RNNLanguageModel
from genrnn.tokenizers.midi_events import (
    END,
    INSTRUMENT,
    LABEL,
    NOTE_OFF,
    NOTE_ON,
    PAD,
    START,
    STEP_SECONDS,
    TIME_SHIFT,
    VELOCITY,
    MidiEventTokenizer,
)
from tests.conftest import torch_stream

OFF = SampleConfig(max_note_seconds=0.0)


def _allowed(grammar: EventGrammar, settings: SampleConfig = OFF) -> set[int]:
    return set(np.flatnonzero(~grammar.mask(settings)).tolist())


def test_note_off_only_for_sounding_pitches_and_never_control_or_label_tokens():
    tok = MidiEventTokenizer(["mode=major", "mode=minor"])
    g = EventGrammar(tok.vocab_size)
    g.feed([START, tok.label_id("mode=minor")])
    allowed = _allowed(g)
    assert not any(NOTE_OFF <= t < TIME_SHIFT for t in allowed)
    assert {PAD, START, LABEL, LABEL + 1}.isdisjoint(allowed)
    assert {END, NOTE_ON + 60, TIME_SHIFT, VELOCITY} <= allowed
    g.feed([NOTE_ON + 60, NOTE_ON + 64])
    # a note lasts at least one step: no zero-length note, no double strike at one step
    assert {NOTE_OFF + 60, NOTE_ON + 60, NOTE_OFF + 64, NOTE_ON + 64}.isdisjoint(_allowed(g))
    g.feed([TIME_SHIFT + 9, NOTE_OFF + 60])
    offs = {t - NOTE_OFF for t in _allowed(g) if NOTE_OFF <= t < TIME_SHIFT}
    assert offs == {64}
    assert NOTE_ON + 60 in _allowed(g)
    g.allow_end = False
    assert END not in _allowed(g)
    g.feed([END])  # END closes everything
    assert not g.sounding


def test_max_polyphony_blocks_note_ons_until_one_ends():
    g = EventGrammar(MidiEventTokenizer().vocab_size)
    settings = SampleConfig(max_note_seconds=0.0, max_polyphony=2)
    g.feed([NOTE_ON + 60, NOTE_ON + 64])
    assert not any(NOTE_ON <= t < NOTE_OFF for t in _allowed(g, settings))
    g.feed([NOTE_OFF + 60])
    assert NOTE_ON + 67 in _allowed(g, settings)


def test_max_note_seconds_bounds_time_shifts_then_forces_the_note_off():
    g = EventGrammar(MidiEventTokenizer().vocab_size)
    settings = SampleConfig(max_note_seconds=2.0)
    g.feed([NOTE_ON + 60, TIME_SHIFT + 99])  # 1 s
    g.feed([NOTE_ON + 64, TIME_SHIFT + 69])  # 1.7 s: 60 has 0.3 s (30 steps) left
    shifts = sorted(t - TIME_SHIFT + 1 for t in _allowed(g, settings) if TIME_SHIFT <= t < VELOCITY)
    assert shifts == list(range(1, 31))
    g.feed([TIME_SHIFT + 29])  # 60 reaches 2.0 s: only its note-off may come next
    assert _allowed(g, settings) == {NOTE_OFF + 60}
    g.feed([NOTE_OFF + 60])
    assert TIME_SHIFT + 99 in _allowed(g, settings)  # 64 has 1 s left: a 1 s shift fits


def test_settings_are_validated():
    with pytest.raises(ConfigError, match="max_note_seconds"):
        SampleConfig(max_note_seconds=-1.0)
    with pytest.raises(ConfigError, match="max_polyphony"):
        SampleConfig(max_polyphony=500)


@pytest.mark.parametrize(("batch", "instruments"), [(1, "merge"), (3, "merge"), (1, "families"), (2, "programs")])
def test_an_untrained_event_model_streams_only_grammatical_events(batch, instruments):
    """An untrained model draws every id about equally often: without the grammar it would
    produce orphan note-offs, labels and notes hanging for the whole stream. With instruments,
    every rule holds per instrument, and a switch is never to the instrument in force."""
    torch.manual_seed(0)
    tok = MidiEventTokenizer(["mode=major", "mode=minor"], instruments)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0))
    settings = SampleConfig(temperature=1.0, seed=3, max_note_seconds=1.5, max_polyphony=6)
    stream = torch_stream(model, tok, settings, batch=batch)
    stream.prime([START, tok.label_id("mode=minor"), NOTE_ON + 60])
    stream.allow_end = False
    decoders = [tok.stream_decoder() for _ in range(batch)]
    for d in decoders:
        d.feed(NOTE_ON + 60)
    longest, most = 0, 0
    for step in zip(*stream.take(1500), strict=True):
        for d, t in zip(decoders, step, strict=True):
            assert t not in (PAD, START, END) and t < tok.label_base
            if INSTRUMENT <= t < tok.label_base:
                assert t - INSTRUMENT != d.slot, "a switch to the instrument in force"
            if NOTE_OFF <= t < TIME_SHIFT:
                assert (d.slot, t - NOTE_OFF) in d.sounding, "orphan note-off"
                assert d.sounding[(d.slot, t - NOTE_OFF)] < d.step, "zero-length note"
            if NOTE_ON <= t < NOTE_OFF:
                assert d.sounding.get((d.slot, t - NOTE_ON), -1) < d.step, "struck twice at one step"
            d.feed(t)
            most = max([most, *(sum(s == slot for s, _ in d.sounding) for slot in {s for s, _ in d.sounding})])
            if d.sounding:
                longest = max(longest, d.step - min(d.sounding.values()))
    assert longest * STEP_SECONDS <= 1.5 + 1e-9
    assert most <= 6
    assert max(d.time for d in decoders) > (10.0 if instruments == "merge" else 2.0)  # time did move on


def test_guidance_mixes_conditioned_and_unconditioned_logits():
    """u + w·(c − u): the twin stream is primed without the labels and follows every token."""
    torch.manual_seed(1)
    tok = MidiEventTokenizer(["mode=major", "mode=minor"])
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0))
    cond = [START, tok.label_id("mode=minor")]
    settings = SampleConfig(temperature=1.0, seed=5, guidance=3.0, max_note_seconds=0.0)
    guided = torch_stream(model, tok, settings)
    guided.prime(cond)
    guided.guided_by([START])
    plain_c, plain_u = torch_stream(model, tok, settings), torch_stream(model, tok, settings)
    plain_c.prime(cond)
    plain_u.prime([START])
    for _ in range(20):
        c, u = plain_c.logits.copy(), plain_u.logits.copy()
        step = next(guided)
        expected = torch.softmax(torch.from_numpy(u + 3.0 * (c - u)), -1).numpy()  # then the grammar's mask
        allowed = step.probs > 0
        np.testing.assert_allclose(step.probs[allowed], expected[allowed] / expected[allowed].sum(),
                                   rtol=1e-4, atol=1e-5)
        assert not np.allclose(c, u)  # the label does change the distribution
        plain_c.feed(step.tokens)
        plain_u.feed(step.tokens)


def test_a_voices_label_caps_the_notes_at_once_until_the_next_piece():
    tok = MidiEventTokenizer(["mode=major", "voices=2", "voices=4"])
    g = EventGrammar.for_tokenizer(tok)
    g.feed([START, tok.label_id("mode=major"), tok.label_id("voices=2"), NOTE_ON + 60, NOTE_ON + 64])
    assert g.voices == 2
    assert not any(NOTE_ON <= t < NOTE_OFF for t in _allowed(g))  # a third note would make three voices
    assert NOTE_ON + 67 in _allowed(g, SampleConfig(max_note_seconds=0.0, max_polyphony=3))  # the setting wins
    g.feed([TIME_SHIFT + 9, NOTE_OFF + 60])
    assert NOTE_ON + 67 in _allowed(g)
    g.feed([END, START])  # a new piece: no label yet, no cap
    g.feed([NOTE_ON + n for n in (48, 52, 55)])
    assert NOTE_ON + 60 in _allowed(g)
    assert EventGrammar(tok.vocab_size).voice_labels == {}  # without the tokenizer, labels are plain ids


def test_the_voice_hold_taxes_moving_time_on_while_a_voice_of_the_label_is_silent():
    tok = MidiEventTokenizer(["voices=4"])
    g = EventGrammar.for_tokenizer(tok)
    hold = SampleConfig(max_note_seconds=0.0, voice_hold=2.5)
    g.feed([START, tok.label_id("voices=4")])
    assert g.bias(hold) is None  # nothing sounds yet: silence (a rest) is free
    g.feed([NOTE_ON + p for p in (48, 55, 64, 72)])
    assert g.bias(hold) is None  # all four voices sound
    g.feed([TIME_SHIFT + 49, NOTE_OFF + 64])
    assert g.bias(hold) is None  # no note struck at this step: time may move on to the next onset
    g.feed([NOTE_OFF + 72, NOTE_ON + 74])  # an onset with a voice still missing
    bias = g.bias(hold)
    assert bias is not None and bias.dtype == np.float32
    np.testing.assert_array_equal(bias[TIME_SHIFT:VELOCITY], -2.5)  # every shift, by the same amount
    assert not bias[:TIME_SHIFT].any() and not bias[VELOCITY:].any()  # notes, offs and END untouched
    assert g.bias(SampleConfig(voice_hold=0.0)) is None  # off
    g.feed([NOTE_ON + 65])  # the voice taken up again at the same step
    assert g.bias(hold) is None
    g.feed([TIME_SHIFT + 49, *(NOTE_OFF + p for p in (48, 55, 65, 74))])
    assert g.bias(hold) is None  # every voice rests together: free
    assert EventGrammar(tok.vocab_size).bias(hold) is None  # no voices label: nothing to hold to
    with pytest.raises(ConfigError, match="voice_hold"):
        SampleConfig(voice_hold=-1.0)


def test_a_stream_with_the_voice_hold_draws_with_the_taxed_logits():
    """The stream adds the grammar's bias after the mask: the drawn distribution's time shifts
    lose exactly ``voice_hold`` nats against the notes while a voice is missing."""
    torch.manual_seed(2)
    tok = MidiEventTokenizer(["voices=4"])
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0))
    primer = [START, tok.label_id("voices=4"), NOTE_ON + 60, NOTE_ON + 64, NOTE_ON + 67]
    plain = torch_stream(model, tok, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.0))
    held = torch_stream(model, tok, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.0, voice_hold=3.0))
    for s in (plain, held):
        s.prime(primer)  # three of four voices struck at this step
    p, q = next(plain).probs[0], next(held).probs[0]
    shifts = slice(TIME_SHIFT, VELOCITY)
    notes = slice(NOTE_ON, NOTE_OFF)
    ratio_plain = p[shifts].sum() / p[notes].sum()
    ratio_held = q[shifts].sum() / q[notes].sum()
    assert ratio_held == pytest.approx(ratio_plain * np.exp(-3.0), rel=1e-4)


def _shifts(allowed: set[int]) -> set[int]:
    """The allowed TIME_SHIFTs, in steps."""
    return {t - TIME_SHIFT + 1 for t in allowed if TIME_SHIFT <= t < VELOCITY}


def test_the_tempo_lock_keeps_a_piece_on_the_grid_it_started_on():
    tok = MidiEventTokenizer(grids=(14, 15, 16))
    g = EventGrammar.for_tokenizer(tok)
    g.feed([START, NOTE_ON + 60])
    # before the first move every grid is open: a landing on 14, 15 or 16, or the longest shift
    assert _shifts(_allowed(g)) == {k for k in range(1, 100) if k % 14 == 0 or k % 15 == 0 or k % 16 == 0} | {100}
    g.feed([TIME_SHIFT + 29, NOTE_OFF + 60, NOTE_ON + 62])  # 30 steps: only the grid of 15 divides it
    assert g.kept == (15,)
    assert _shifts(_allowed(g)) == {15, 30, 45, 60, 75, 90, 100}
    assert NOTE_ON + 64 in _allowed(g)  # on the grid: a note may be struck now
    g.feed([TIME_SHIFT + 99])  # a run of shifts: 130 steps is on no grid of the piece's
    allowed = _allowed(g)
    assert _shifts(allowed) == {5, 20, 35, 50, 65, 80, 95, 100}  # to 135, 150, ... or on
    assert allowed - {t for t in allowed if TIME_SHIFT <= t < VELOCITY} == {END}  # no note between the steps
    assert _allowed(g, SampleConfig(max_note_seconds=0.0, tempo_lock=False)) >= {NOTE_OFF + 62, NOTE_ON + 64}
    g.feed([TIME_SHIFT + 4, NOTE_OFF + 62])  # 135
    assert NOTE_ON + 64 in _allowed(g) and _shifts(_allowed(g)) == {15, 30, 45, 60, 75, 90, 100}
    g.feed([END, START, NOTE_ON + 60, TIME_SHIFT + 31, NOTE_ON + 62])  # a new piece: every grid again; 32 → 16
    assert g.kept == (16,)
    assert _shifts(_allowed(g)) == {16, 32, 48, 64, 80, 96, 100}


def test_a_primer_off_the_grids_frees_time_and_a_free_model_is_never_locked():
    tok = MidiEventTokenizer(grids=(15,))
    g = EventGrammar.for_tokenizer(tok)
    g.feed([START, NOTE_ON + 60, TIME_SHIFT + 22, NOTE_OFF + 60])  # a played note of 23 steps
    assert g.kept == () and _shifts(_allowed(g)) == set(range(1, 101))
    free = EventGrammar.for_tokenizer(MidiEventTokenizer())
    free.feed([START, NOTE_ON + 60, TIME_SHIFT + 22, NOTE_OFF + 60])
    assert _shifts(_allowed(free)) == set(range(1, 101))


def test_the_lock_gives_way_to_a_note_that_must_end():
    """max_note_seconds forces a release at a step the grid does not allow: the release wins."""
    g = EventGrammar.for_tokenizer(MidiEventTokenizer(grids=(15,)))
    settings = SampleConfig(max_note_seconds=1.3)
    g.feed([START, NOTE_ON + 60, TIME_SHIFT + 99, TIME_SHIFT + 29])  # 130 steps: the note is due, 130 is off 15
    assert _allowed(g, settings) == {NOTE_OFF + 60}


def test_only_the_velocities_of_the_training_data_are_drawn():
    g = EventGrammar.for_tokenizer(MidiEventTokenizer(velocities=(19,)))
    g.feed([START])
    assert {t - VELOCITY for t in _allowed(g) if VELOCITY <= t < VELOCITY + 32} == {19}
    g = EventGrammar.for_tokenizer(MidiEventTokenizer())
    g.feed([START])
    assert len({t for t in _allowed(g) if VELOCITY <= t < VELOCITY + 32}) == 32


def test_the_lock_gives_a_forbidden_shift_to_the_nearest_allowed_one_and_time_moves_on_as_often():
    g = EventGrammar.for_tokenizer(MidiEventTokenizer(grids=(15,)))
    g.feed([START, NOTE_ON + 60, TIME_SHIFT + 29, NOTE_ON + 62])  # on the grid of 15, at step 30
    rng = np.random.default_rng(3)
    logits = rng.normal(size=g.vocab_size).astype(np.float32)
    snapped = logits.copy()
    assert g.snap(snapped, OFF)
    p = np.exp(logits[TIME_SHIFT:VELOCITY])
    q = np.exp(snapped[TIME_SHIFT:VELOCITY])
    assert q.sum() == pytest.approx(p.sum(), rel=1e-5)  # time moves on as often as the model says
    steps = np.arange(1, 101)
    assert set(steps[q > 0]) == {15, 30, 45, 60, 75, 90, 100}
    assert q[29] == pytest.approx(p[22:37].sum(), rel=1e-5)  # shifts of 23..37 steps go to 30
    assert q[14] == pytest.approx(p[0:22].sum(), rel=1e-5)  # 1..22 go to 15 (22 is 7 from 15, 8 from 30)
    np.testing.assert_array_equal(snapped[:TIME_SHIFT], logits[:TIME_SHIFT])  # notes untouched
    assert not g.snap(logits.copy(), SampleConfig(max_note_seconds=0.0, tempo_lock=False))
    free = EventGrammar.for_tokenizer(MidiEventTokenizer())
    assert not free.snap(logits.copy(), OFF)


def test_a_locked_stream_moves_time_on_as_often_as_a_free_one():
    """The stream snaps before the mask: the first draw's chance that time moves on is the same
    with and without the lock, only its steps land on the grid."""
    torch.manual_seed(5)
    tok = MidiEventTokenizer(grids=(15,))
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0))
    primer = [START, NOTE_ON + 60, TIME_SHIFT + 29, NOTE_ON + 64]
    free = torch_stream(model, tok, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.0, tempo_lock=False))
    locked = torch_stream(model, tok, SampleConfig(temperature=1.0, seed=1, max_note_seconds=0.0))
    for s in (free, locked):
        s.prime(primer)
    p, q = next(free).probs[0], next(locked).probs[0]
    shifts = slice(TIME_SHIFT, VELOCITY)
    assert q[shifts].sum() == pytest.approx(p[shifts].sum(), rel=1e-4)
    assert {k + 1 for k in np.flatnonzero(q[shifts])} == {15, 30, 45, 60, 75, 90, 100}
