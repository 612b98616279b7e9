import torch

from genrnn.config import SampleConfig
from genrnn.generation.sampler import distribution, sample

LOGITS = torch.tensor([[2.0, 1.0, 0.5, -1.0, 0.0]])


def test_temperature_zero_is_argmax():
    g = torch.Generator().manual_seed(0)
    tokens, probs = sample(LOGITS, SampleConfig(temperature=0), g)
    assert tokens.tolist() == [0] and probs[0, 0] == 1.0


def test_top_k_keeps_k():
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_k=2))
    assert (p > 0).sum().item() == 2 and p[0, :2].sum().item() > 0.999


def test_top_p_keeps_smallest_prefix_reaching_mass():
    full = torch.softmax(LOGITS, -1)[0]
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_p=float(full[0]) + 0.01))
    assert (p > 0).sum().item() == 2
    p = distribution(LOGITS, SampleConfig(temperature=1.0, top_p=0.01))
    assert (p > 0).sum().item() == 1


def test_lower_temperature_sharpens():
    hot = distribution(LOGITS, SampleConfig(temperature=2.0))
    cold = distribution(LOGITS, SampleConfig(temperature=0.3))
    assert cold[0, 0] > hot[0, 0]


def test_draws_follow_the_distribution_and_skip_zero_mass():
    g = torch.Generator().manual_seed(0)
    cfg = SampleConfig(temperature=1.0, top_k=3)
    logits = LOGITS.expand(20_000, -1)
    tokens, probs = sample(logits, cfg, g)
    counts = torch.bincount(tokens, minlength=5).float() / len(tokens)
    torch.testing.assert_close(counts, probs[0], atol=0.015, rtol=0)
    assert counts[3] == 0 and counts[4] == 0  # outside the top 3: never drawn
