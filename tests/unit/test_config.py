import pytest

from genrnn.config import (
    PRESETS,
    ModelConfig,
    SampleConfig,
    TrainConfig,
    from_dict,
    resolve_preset,
    to_dict,
)
from genrnn.errors import ConfigError


def test_preset_overridden_by_explicit_flags():
    model, train = resolve_preset("default", {"hidden": 96, "cell": None}, {"lr": 1e-3, "seq_len": None}, 50)
    assert model.hidden == 96 and model.cell == "lstm" and model.vocab_size == 50
    assert train.lr == 1e-3 and train.seq_len == PRESETS["default"]["train"]["seq_len"]


@pytest.mark.parametrize("field, value, words", [
    ("temperature", -0.5, "temperature = -0.5: expected a value in [0.0, 100.0]"),
    ("top_p", 0.0, "top_p = 0.0: expected a value in (0.0, 1.0]"),
    ("top_p", 1.5, "top_p = 1.5"),
    ("top_k", -1, "top_k = -1"),
])
def test_sample_config_names_field_and_range(field, value, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        SampleConfig(**{field: value})


def test_model_config_rejects_unknown_cell_listing_choices():
    with pytest.raises(ConfigError, match="cell = 'transformer': expected one of lstm, gru, rnn_tanh, rnn_relu, none"):
        ModelConfig(cell="transformer")


def test_unknown_preset_and_unknown_field():
    with pytest.raises(ConfigError, match="preset = 'huge'"):
        resolve_preset("huge", {}, {}, 10)
    with pytest.raises(ConfigError, match="unknown field.*bogus"):
        from_dict(TrainConfig, {"bogus": 1})


def test_round_trip_through_dict():
    cfg = TrainConfig(seq_len=77, time_budget=12.5)
    assert from_dict(TrainConfig, to_dict(cfg)) == cfg


def test_sample_config_takes_the_kinds_defaults_only_where_not_given():
    from genrnn.config import sample_config, sampling_defaults

    events = sample_config("midi_events", seed=3)
    assert (events.temperature, events.top_p, events.seed) == (sampling_defaults("midi_events")["temperature"],
                                                               sampling_defaults("midi_events")["top_p"], 3)
    assert sample_config("text").temperature == 0.8 and sample_config("text").top_p == 1.0
    mine = sample_config("midi_events", 0.5, 1.0, top_k=4)
    assert (mine.temperature, mine.top_p, mine.top_k) == (0.5, 1.0, 4)
    assert events.voice_hold == sampling_defaults("midi_events")["voice_hold"] > 0
    assert sample_config("midi_events", voice_hold=0.0).voice_hold == 0.0 and sample_config("text").voice_hold == 0.0
    with pytest.raises(ConfigError):
        sample_config("midi_events", top_p=0.0)
