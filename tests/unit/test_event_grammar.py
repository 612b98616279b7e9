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
