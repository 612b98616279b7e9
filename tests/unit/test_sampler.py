"""The draw every stream makes (generation/sampler.py): temperature, top-k, top-p over a
nucleus, the inverse-CDF draw; and an event model's stream never cutting a rare time shift."""

import math

import numpy as np
import pytest
import torch

from genrnn.config import SampleConfig
from genrnn.generation.sampler import distribution, sample
from tests.conftest import torch_stream

LOGITS = np.array([[2.0, 1.0, 0.5, -1.0, 0.0]], dtype=np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_temperature_zero_is_argmax():
    tokens, probs = sample(LOGITS, SampleConfig(temperature=0), np.random.default_rng(0))
    assert tokens.tolist() == [0] and probs[0, 0] == 1.0


def test_top_k_keeps_k():
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_k=2))
    assert (p > 0).sum() == 2 and p[0, :2].sum() > 0.999


def test_top_p_keeps_smallest_prefix_reaching_mass():
    full = _softmax(LOGITS)[0]
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_p=float(full[0]) + 0.01))
    assert (p > 0).sum() == 2
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_p=0.01))
    assert (p > 0).sum() == 1


def test_lower_temperature_sharpens():
    hot = distribution(LOGITS, SampleConfig(temperature=2.0))
    cold = distribution(LOGITS, SampleConfig(temperature=0.3))
    assert cold[0, 0] > hot[0, 0]


@pytest.mark.parametrize("cfg", [SampleConfig(temperature=0.7), SampleConfig(temperature=1.3, top_p=0.6),
                                 SampleConfig(temperature=0.9, top_k=4, top_p=0.8)])
def test_distribution_matches_a_direct_computation(cfg):
    logits = np.random.default_rng(2).normal(size=(3, 17)).astype(np.float32)
    expected = _softmax(logits / cfg.temperature)
    for row in expected:
        order = np.argsort(-row, kind="stable")
        keep = np.zeros_like(row, dtype=bool)
        if cfg.top_k:
            keep[order[:cfg.top_k]] = True
        else:
            keep[:] = True
        row[~keep] = 0
        row /= row.sum()
        cum = np.cumsum(row[order])
        drop = (cum - row[order]) >= cfg.top_p
        row[order[drop]] = 0
        row /= row.sum()
    np.testing.assert_allclose(distribution(logits, cfg), expected, rtol=1e-5, atol=1e-6)


def test_a_nucleus_truncates_its_own_ids_by_their_share_and_leaves_the_rest():
    # ids 0..1 outside (say, time shifts), 2..5 inside (note-ons): 0.5 + 0.3 + 0.15 + 0.05 of theirs
    probs = np.array([[0.3, 0.1, 0.3, 0.18, 0.09, 0.03]], dtype=np.float32)
    cfg = SampleConfig(temperature=1.0, top_p=0.7)
    p = distribution(np.log(probs), cfg, (2, 6))[0]
    # inside: 0.5 + 0.3 reach 0.7, so 0.15 and 0.05 go; outside: untouched, then renormalised
    assert (p[4:] == 0).all() and (p[:4] > 0).all()
    np.testing.assert_allclose(p, np.array([0.3, 0.1, 0.3, 0.18, 0, 0]) / 0.88, rtol=1e-5, atol=1e-6)
    # over every id the same top-p keeps 0.3 + 0.3 + 0.18 and drops the 0.1 outside
    assert distribution(np.log(probs), cfg, None)[0, 1] == 0
    # a nucleus whose ids are all masked leaves the rest as they were
    masked = probs.copy()
    masked[0, 2:] = 0
    with np.errstate(divide="ignore"):
        out = distribution(np.log(masked), cfg, (2, 6))[0]
    np.testing.assert_allclose(out[:2], [0.75, 0.25], rtol=1e-6)


def test_draws_follow_the_distribution_and_skip_zero_mass():
    rng = np.random.default_rng(0)
    logits = np.repeat(LOGITS, 20_000, axis=0)
    tokens, probs = sample(logits, SampleConfig(temperature=1.0, top_k=3), rng)
    counts = np.bincount(tokens, minlength=5) / len(tokens)
    np.testing.assert_allclose(counts, probs[0], atol=0.015)
    assert counts[3] == 0 and counts[4] == 0  # outside the top 3: never drawn


def test_an_event_model_never_cuts_a_rare_time_shift():
    from genrnn.config import ModelConfig
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.tokenizers.midi_events import END, NOTE_ON, TIME_SHIFT, MidiEventTokenizer

    tok = MidiEventTokenizer()
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=4, hidden=8, layers=1))
    assert tok.nucleus == (END, NOTE_ON + 128)  # END is cut like a note-on: an early END loses the piece
    with torch.no_grad():  # every step: a note-on 0.9 (C4) or 0.06 (E4), a 1 s shift 0.04
        model.head.weight.zero_()
        model.head.bias.fill_(-30.0)
        model.head.bias[NOTE_ON + 60], model.head.bias[NOTE_ON + 64] = math.log(0.9), math.log(0.06)
        model.head.bias[TIME_SHIFT + 99] = math.log(0.04)
    stream = torch_stream(model, tok, SampleConfig(temperature=1.0, top_p=0.9, seed=0), batch=4000)
    counts = np.bincount(next(stream).tokens, minlength=tok.vocab_size) / 4000
    # over the note-ons, 0.9 keeps C4 alone; the shift keeps its 0.04 of 0.94 (over every id
    # it would be cut with E4)
    assert counts[NOTE_ON + 64] == 0
    assert abs(counts[TIME_SHIFT + 99] - 0.04 / 0.94) < 0.012 and counts[NOTE_ON + 60] > 0.93
