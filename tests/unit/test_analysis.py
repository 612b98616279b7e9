"""The ideas behind RNNs, asserted on fixed seeds with tiny budgets and wide margins."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genrnn.analysis import compare, gradients, memory, neurons
from genrnn.analysis.runtime import torch_threads
from genrnn.config import ModelConfig
from genrnn.errors import ConfigError
from genrnn.models.rnn import RNNLanguageModel


@pytest.fixture(scope="module")
def corpus(text_file):
    from genrnn import session

    return session.prepare_corpus(text=text_file)


def test_lstm_gradient_at_k50_decays_less_than_tanh_rnn(corpus):
    profiles = gradients.diagnose_cells(corpus, ["lstm", "rnn_tanh"], preset="tiny", steps=0, window=60, batch=8)
    by_cell = {p.cell: p for p in profiles}
    lstm, tanh = by_cell["lstm"].ratio(50), by_cell["rnn_tanh"].ratio(50)
    assert lstm is not None and tanh is not None
    assert lstm > 1e3 * tanh, (lstm, tanh)
    assert by_cell["lstm"].decay_per_10() > by_cell["rnn_tanh"].decay_per_10()
    assert not any(p.exploded for p in profiles)


def test_exploding_gradients_are_reported_not_raised():
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=7, cell="rnn_relu", embed=4, hidden=8, layers=1))
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(torch.eye(8) * 8.0)  # ‖h‖ grows 8× per step: overflow in fp32
        model.rnn.bias_hh_l0.fill_(1.0)
    norms, exploded = gradients.gradient_norms(model, torch.randint(0, 7, (2, 80)))
    assert exploded
    assert len(norms) == 79  # k = 0 … T − 1 for T = 79 inputs
    profile = gradients.GradientProfile("rnn_relu", "init", norms, exploded)
    json.dumps(profile.row())  # reportable as JSON, no inf/nan crash


def test_lstm_recalls_at_lag_30_where_none_cannot():
    task = memory.RecallTask()
    with torch_threads(1):
        lstm = memory.train_recall(task, "lstm", 30, time_budget=20.0, seed=0, max_steps=1500)
        none = memory.train_recall(task, "none", 30, time_budget=3.0, seed=0, max_steps=300)
    assert lstm.accuracy >= 0.9, lstm
    assert none.accuracy <= task.chance + 0.1, none


def test_recall_batch_puts_the_key_k_steps_before_the_query():
    task = memory.RecallTask(keys=4, distractors=3)
    x, keys = memory.recall_batch(task, 12, 16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 13)
    assert (x[:, -1] == task.query).all()
    assert torch.equal(x[:, 0], keys)
    assert ((x[:, 1:-1] >= task.keys) & (x[:, 1:-1] < task.query)).all()


def test_neuron_features_read_the_text():
    text = 'ab "cd" (ef)\nKING:\nx'
    quotes = neurons.FEATURES["inside quotes"](text)
    assert quotes[text.index("c")] == 1 and quotes[text.index("a")] == 0
    brackets = neurons.FEATURES["inside brackets"](text)
    assert brackets[text.index("e")] == 1 and brackets[text.index("\n") + 1] == 0
    assert neurons.FEATURES["position in line"](text)[text.index("K")] == 0
    assert neurons.FEATURES["speaker line"](text)[text.index("K")] == 1


def test_a_unit_equal_to_a_feature_is_found_first():
    text = "ab (cd) ef (gh) ij\n" * 20
    signal = neurons.FEATURES["inside brackets"](text)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(len(text), 6))
    values[:, 4] = signal * 0.9 + 0.05 * rng.normal(size=len(text))
    report = neurons.find_units(neurons.Activations(text, values, [f"u{i}" for i in range(6)]), top=1)
    assert report.top("inside brackets")[0].unit == "u4"
    assert report.top("inside brackets")[0].correlation > 0.95
    assert "inside quotes" in report.skipped


def test_matched_hidden_equalises_parameter_counts():
    base = ModelConfig(vocab_size=65, cell="lstm", embed=32, hidden=128, layers=2)
    target = compare.parameter_count(base)
    for cell in ("gru", "rnn_tanh", "none", "mingru"):
        cfg = ModelConfig(vocab_size=65, cell=cell, embed=32, hidden=compare.matched_hidden(base.__class__(
            **{**base.__dict__, "cell": cell}), target), layers=2)
        assert abs(compare.parameter_count(cfg) - target) / target < 0.01


def test_parse_cells_names_the_choices():
    assert compare.parse_cells("lstm, mingru") == ["lstm", "mingru"]
    with pytest.raises(ConfigError, match="mingru"):
        compare.parse_cells("lstm,transformer")
