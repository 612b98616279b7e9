import pytest
import torch

from genrnn.config import CELLS, ModelConfig
from genrnn.models.rnn import RNNLanguageModel
from genrnn.models.step import FusedStep


@pytest.mark.parametrize("cell", CELLS)
def test_forward_shapes_and_state(cell):
    m = RNNLanguageModel(ModelConfig(vocab_size=11, cell=cell, embed=8, hidden=16, layers=2))
    logits, state = m(torch.randint(0, 11, (3, 7)))
    assert logits.shape == (3, 7, 11)
    assert len(state) == m.num_state_tensors
    for s in state:
        assert s.shape == (2, 3, 16)


@pytest.mark.parametrize("cell", CELLS)
def test_fused_step_matches_the_model(cell):
    torch.manual_seed(0)
    m = RNNLanguageModel(ModelConfig(vocab_size=13, cell=cell, embed=8, hidden=24, layers=3)).eval()
    fused = FusedStep(m)
    tokens = torch.tensor([1, 4, 9])
    s1 = s2 = m.init_state(3)
    with torch.inference_mode():
        for _ in range(30):
            a, s1 = m.step(tokens, s1)
            b, s2 = fused(tokens, s2)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
            tokens = a.argmax(-1)


def test_state_carries_memory():
    """Feeding a sequence at once equals feeding it a token at a time with the state carried."""
    torch.manual_seed(1)
    m = RNNLanguageModel(ModelConfig(vocab_size=9, cell="gru", embed=4, hidden=8, layers=2, dropout=0.0)).eval()
    x = torch.randint(0, 9, (2, 12))
    full, _ = m(x)
    state = None
    for t in range(12):
        step, state = m.step(x[:, t], state)
    torch.testing.assert_close(step, full[:, -1])


def test_none_cell_has_no_memory():
    m = RNNLanguageModel(ModelConfig(vocab_size=9, cell="none", embed=4, hidden=8, layers=1)).eval()
    a, _ = m(torch.tensor([[1, 2, 3]]))
    b, _ = m(torch.tensor([[5, 7, 3]]))
    torch.testing.assert_close(a[:, -1], b[:, -1])


@pytest.mark.parametrize("layers", [1, 3])
def test_mingru_parallel_scan_equals_sequential_steps(layers):
    """Training's log-space parallel scan and sampling's one-token recurrence give the same numbers."""
    from genrnn.models.mingru import MinGRUStack

    torch.manual_seed(2)
    stack = MinGRUStack(5, 16, layers, dropout=0.0)
    x = torch.randn(3, 200, 5) * 3
    h0 = torch.randn(layers, 3, 16).abs()
    y_par, h_par = stack(x, h0, parallel=True)
    y_seq, h_seq = stack(x, h0, parallel=False)
    torch.testing.assert_close(y_par, y_seq, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(h_par, h_seq, rtol=1e-4, atol=1e-5)


def test_mingru_window_equals_token_by_token_with_state_carried():
    torch.manual_seed(3)
    m = RNNLanguageModel(ModelConfig(vocab_size=9, cell="mingru", embed=4, hidden=8, layers=2, dropout=0.0)).eval()
    x = torch.randint(0, 9, (2, 40))
    full, state_full = m(x[:, :25])
    rest, _ = m(x[:, 25:], state_full)
    fused = FusedStep(m)
    state = m.init_state(2)
    outs = []
    for t in range(40):
        logits, state = fused(x[:, t], state)
        outs.append(logits)
    torch.testing.assert_close(torch.stack(outs, 1), torch.cat([full, rest], 1), rtol=1e-4, atol=1e-5)


def test_mingru_gradients_are_finite_over_long_windows():
    torch.manual_seed(4)
    m = RNNLanguageModel(ModelConfig(vocab_size=9, cell="mingru", embed=4, hidden=8, layers=2))
    logits, _ = m(torch.randint(0, 9, (2, 1000)))
    logits.logsumexp(-1).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_out_dropout_is_separate_from_layer_dropout():
    from genrnn.errors import ConfigError

    m = RNNLanguageModel(ModelConfig(vocab_size=9, cell="lstm", hidden=8, layers=2, dropout=0.0, out_dropout=0.3))
    assert m.drop.p == 0.3 and m.rnn.dropout == 0.0
    assert RNNLanguageModel(ModelConfig(vocab_size=9, dropout=0.2)).drop.p == 0.2
    with pytest.raises(ConfigError, match="out_dropout = 1.5"):
        ModelConfig(out_dropout=1.5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_locked_dropout_runs_the_stack_a_layer_at_a_time(cell):
    """Locked dropout keeps the stack's weights and names (checkpoints load either way), gives
    the fused stack's output when nothing is dropped, and drops the same units at every step."""
    torch.manual_seed(0)
    cfg = dict(vocab_size=11, cell=cell, embed=6, hidden=10, layers=3)
    plain = RNNLanguageModel(ModelConfig(**cfg, dropout=0.0))
    locked = RNNLanguageModel(ModelConfig(**cfg, dropout=0.0, dropout_mode="locked"))
    assert sorted(locked.state_dict()) == sorted(plain.state_dict())
    locked.load_state_dict(plain.state_dict())
    x = torch.randint(0, 11, (4, 7))
    state = plain.init_state(4)
    state = tuple(torch.randn_like(s) for s in state)
    plain.train(), locked.train()
    (a, sa), (b, sb) = plain(x, state), locked(x, state)
    assert torch.allclose(a, b, atol=1e-5)
    assert all(torch.allclose(p, q, atol=1e-5) for p, q in zip(sa, sb, strict=True))
    b.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in locked.parameters())

    dropping = RNNLanguageModel(ModelConfig(**cfg, dropout=0.5, dropout_mode="locked"))
    assert dropping.rnn.dropout == 0.0  # the stack's own per-step dropout is off
    h = torch.ones(4, 7, 10)
    from genrnn.models.rnn import locked_dropout
    dropped = locked_dropout(h, 0.5)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # one mask per stream
    assert set(dropped.unique().tolist()) <= {0.0, 2.0} and 0 < (dropped == 0).float().mean() < 1
    dropping.train()
    y1, _ = dropping(x)
    dropping.eval()  # no dropout at inference: the fused stack, deterministic
    e1, e2 = dropping(x)[0], dropping(x)[0]
    assert torch.equal(e1, e2) and not torch.allclose(y1, e1)
