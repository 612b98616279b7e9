import numpy as np
import pytest
import torch

from genrnn.config import SampleConfig
from genrnn.generation.sampler import distribution, distribution_numpy, sample, sample_numpy

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


@pytest.mark.parametrize("cfg", [SampleConfig(temperature=0), SampleConfig(temperature=0.7),
                                 SampleConfig(temperature=1.0, top_k=2), SampleConfig(temperature=1.3, top_p=0.6),
                                 SampleConfig(temperature=0.9, top_k=4, top_p=0.8)])
def test_numpy_distribution_matches_torch(cfg):
    logits = torch.randn(3, 17, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(torch.from_numpy(distribution_numpy(logits.numpy(), cfg)),
                               distribution(logits, cfg), rtol=1e-5, atol=1e-6)


def test_numpy_draws_follow_the_distribution():
    rng = np.random.default_rng(0)
    logits = LOGITS.expand(20_000, -1).numpy()
    tokens, probs = sample_numpy(logits, SampleConfig(temperature=1.0, top_k=3), rng)
    counts = np.bincount(tokens, minlength=5) / len(tokens)
    np.testing.assert_allclose(counts, probs[0], atol=0.015)
    assert counts[3] == 0 and counts[4] == 0
