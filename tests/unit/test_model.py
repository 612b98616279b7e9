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
