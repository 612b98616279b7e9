import pytest

from genrnn import session
from genrnn.config import SampleConfig
from genrnn.errors import TokenizerError


@pytest.fixture(scope="module")
def model(tiny_run):
    return session.load_model(tiny_run)


def test_same_seed_same_output(model):
    a = session.open_stream(model, SampleConfig(seed=7)).take(200)
    b = session.open_stream(model, SampleConfig(seed=7)).take(200)
    c = session.open_stream(model, SampleConfig(seed=8)).take(200)
    assert a == b and a != c


def test_settings_change_applies_to_the_very_next_step(model):
    stream = session.open_stream(model, SampleConfig(temperature=1.5, seed=1))
    for _ in range(20):
        next(stream)
    stream.settings = SampleConfig(temperature=0.0, seed=1)
    step = next(stream)
    assert step.probs.max().item() == 1.0  # argmax from this step on
    assert step.token == int(step.probs.argmax())
    stream.settings = SampleConfig(temperature=1.0, top_k=1)
    assert (next(stream).probs > 0).sum().item() == 1


def test_primer_is_fed_and_batch_streams_differ(model):
    stream = session.open_stream(model, SampleConfig(seed=3), model.encode_text("KING:\n"), batch=4)
    outs = stream.take(100)
    assert len(outs) == 4 and len({tuple(o) for o in outs}) > 1


def test_temperature_zero_is_deterministic_without_seed(model):
    a = session.open_stream(model, SampleConfig(temperature=0)).take(50)
    b = session.open_stream(model, SampleConfig(temperature=0)).take(50)
    assert a == b


def test_primer_outside_vocab_names_characters(model):
    with pytest.raises(TokenizerError, match="'€'"):
        model.encode_text("KING €")


def test_generated_text_learned_the_corpus(model):
    """After a few seconds of training, greedy text is made of the corpus' words."""
    from tests.conftest import WORDS

    text = model.decode(session.open_stream(model, SampleConfig(temperature=0)).take(300)[0]).lower()
    words = [w.strip(".,;:?!\n") for w in text.split()]
    known = sum(w in {x.strip(".,;:?!") for x in WORDS} | {"king", "queen", "romeo", "juliet"} for w in words)
    assert known / max(len(words), 1) > 0.5, text
