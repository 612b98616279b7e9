"""Labels held at every step (models/labels.py): the model's window-wise tracking, the
single-step paths, and that a label seen many windows back still conditions the output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrnn.config import ModelConfig
from genrnn.errors import ConfigError
from genrnn.models.labels import LabelTrack, label_fields
from genrnn.models.rnn import RNNLanguageModel
from genrnn.models.step import FusedStep
from genrnn.tokenizers.chars import CharTokenizer
from genrnn.tokenizers.midi_events import START, MidiEventTokenizer

# vocabulary of 20: START = 1, labels 10, 11 (kind 0) and 12, 13 (kind 1)
SPEC = {"cond_ids": (10, 11, 12, 13), "cond_groups": (0, 0, 1, 1), "cond_resets": (1,)}
TOKENS = [1, 10, 13, 3, 4, 5, 1, 2, 3, 11, 4, 5, 6, 12, 7]
# slots in force after each token: 1 + the label's index per kind, 0 = none
EXPECTED = [[0, 0], [1, 0], [1, 4], [1, 4], [1, 4], [1, 4], [0, 0], [0, 0], [0, 0], [2, 0], [2, 0], [2, 0],
            [2, 0], [2, 3], [2, 3]]


def _model(cell: str) -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(ModelConfig(vocab_size=20, cell=cell, embed=8, hidden=16, layers=2, dropout=0.0,
                                        **SPEC)).eval()


def test_label_track_and_the_model_agree_on_what_is_held():
    track = LabelTrack(20, **{k.removeprefix("cond_"): v for k, v in SPEC.items()})
    slots, seen = track.empty(1), []
    for t in TOKENS:
        slots = track.step(slots, np.array([t]))
        seen.append(slots[0].tolist())
    assert seen == EXPECTED
    model = _model("lstm")
    active = model.active_labels(torch.tensor([TOKENS]), torch.zeros(1, 2, dtype=torch.long))
    assert active[0].tolist() == EXPECTED
    carried = model.active_labels(torch.tensor([[3, 4, 1, 12]]), torch.tensor([[2, 3]]))
    assert carried[0].tolist() == [[2, 3], [2, 3], [0, 0], [0, 3]]  # carried until START clears it


def windows_and_steps_agree(model: RNNLanguageModel, tokens: list[int], cut: int) -> tuple:
    """Assert that two windows split at ``cut`` (the state carried) and FusedStep's single
    steps give the whole sequence's logits; the whole pass's state and the steps' state."""
    x = torch.tensor([tokens])
    with torch.no_grad():
        whole, state = model(x)
        first, carried = model(x[:, :cut])
        rest, _ = model(x[:, cut:], carried)
        step, s = FusedStep(model), model.init_state(1)
        rows = []
        for t in tokens:
            logits, s = step(torch.tensor([t]), s)
            rows.append(logits)
    torch.testing.assert_close(torch.cat([first, rest], 1), whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(rows, 1), whole, atol=1e-5, rtol=1e-5)
    return state, s


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "mingru", "none"])
def test_windows_and_single_steps_give_the_whole_sequence_logits(cell: str):
    state, _ = windows_and_steps_agree(_model(cell), TOKENS, 4)  # the labels are in the first window only
    assert state[-1][0].tolist() == [[2.0, 3.0]]


def test_a_label_from_a_window_long_ago_still_changes_the_output():
    model = _model("lstm")
    filler = torch.tensor([[3, 4, 5, 6] * 50])
    outs = []
    with torch.no_grad():
        for label in (10, 11):
            _, state = model(torch.tensor([[START, label]]))
            h, c, held = state
            state = (torch.zeros_like(h), torch.zeros_like(c), held)  # forget everything but the label
            logits, _ = model(filler, state)
            outs.append(logits[0, -1])
    assert (outs[0] - outs[1]).abs().max() > 1e-3


def test_label_fields_from_tokenizers():
    events = label_fields(MidiEventTokenizer(["mode=major", "mode=minor", "key=C"]))
    tok = MidiEventTokenizer(["mode=major", "mode=minor", "key=C"])
    assert events == {"cond_ids": tuple(tok.label_id(x) for x in tok.labels), "cond_groups": (0, 0, 1),
                      "cond_resets": (START,)}
    chars = CharTokenizer("ab", ["file=x", "file=y"])
    assert label_fields(chars) == {"cond_ids": (2, 3), "cond_groups": (0, 0), "cond_resets": ()}
    assert label_fields(CharTokenizer("ab")) == {}


def test_bad_label_fields_are_named():
    with pytest.raises(ConfigError, match="cond_groups has 1 entries"):
        ModelConfig(vocab_size=20, cond_ids=(10, 11), cond_groups=(0,))
    with pytest.raises(ConfigError, match="below vocab_size 20"):
        ModelConfig(vocab_size=20, cond_ids=(25,), cond_groups=(0,))
    assert ModelConfig(vocab_size=20, cond_ids=[10], cond_groups=[0]).cond_ids == (10,)  # JSON lists


def test_labels_not_given_are_drawn_by_the_model_in_training_order(tmp_path):
    from genrnn import session
    from genrnn.config import SampleConfig
    from genrnn.generation import music
    from genrnn.generation.conditions import label_plan
    from genrnn.models.weights import save_model

    tok = MidiEventTokenizer(["mode=major", "mode=minor", "key=C", "key=A"])
    keys = [tok.label_id("key=C"), tok.label_id("key=A")]
    modes = [tok.label_id("mode=major"), tok.label_id("mode=minor")]
    minor = tok.label_id("mode=minor")
    assert label_plan(tok, [START, minor]) == ([START, minor], [keys])
    assert label_plan(tok, [START, minor, keys[1]]) == ([START, minor, keys[1]], [])  # all given
    # a key alone: the mode is drawn first, then the key is fed (never a mode after a key)
    assert label_plan(tok, [START, keys[1]]) == ([START], [modes, keys[1]])
    assert label_plan(tok, [START]) == ([START], [modes, keys])  # nothing given: the model draws them all
    assert label_plan(tok, [START, minor, 60]) == ([START, minor, 60], [])  # a note primer
    assert label_plan(CharTokenizer("ab", ["file=x"]), [2]) == ([2], [])

    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0,
                                         **label_fields(tok)))
    path = tmp_path / "labelled.safetensors"
    save_model(path, model, tok, {"corpus": {"kind": "midi_events"}})
    loaded, on_torch = session.load_model(path), session.load_model(path, step="torch")
    primer = music.empty_primer(tok, ["mode=minor"])
    for n in range(4):
        a = session.sample_music(loaded, SampleConfig(seed=n, temperature=1.0), primer, seconds=2.0)
        b = session.sample_music(on_torch, SampleConfig(seed=n, temperature=1.0), primer, seconds=2.0)
        assert len(a.drawn_labels) == 1 and a.drawn_labels[0].startswith("key=")
        assert not set(a.tokens) & {START, *tok._label_ids.values()}  # the label came before the piece
        assert b.drawn_labels == a.drawn_labels
    for m in (loaded, on_torch):  # no primer: START, then both kinds drawn
        assert [lb.split("=")[0] for lb in session.open_stream(m, SampleConfig(seed=1)).drawn_labels] == ["mode", "key"]
    truncated = session.open_stream(loaded, SampleConfig(seed=1, top_p=0.5, temperature=0.7))
    assert truncated.settings.top_p == 0.5 and truncated.settings.temperature == 0.7  # restored after the draws
    assert not session.open_stream(loaded, SampleConfig(seed=1)).guide  # no guidance asked: no twin


def test_guidance_twin_holds_no_label_given_or_drawn(tmp_path):
    from genrnn import session
    from genrnn.config import SampleConfig
    from genrnn.models.weights import save_model

    tok = MidiEventTokenizer(["mode=major", "mode=minor", "key=C", "key=Am", "voices=4"])
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0,
                                         **label_fields(tok)))
    path = tmp_path / "labelled.safetensors"
    save_model(path, model, tok, {"corpus": {"kind": "midi_events"}})
    loaded = session.load_model(path)
    for primer in (None, session.condition_ids(loaded, ["mode=minor"])):
        gen = session.open_stream(loaded, SampleConfig(seed=3, guidance=2.0), primer)
        assert len(gen.drawn_labels) == (3 if primer is None else 2)  # mode, key, voices / key, voices
        assert gen.state[-1].any() and not gen.guide.state[-1].any()  # the twin: no label at all
        assert gen.grammars[0].voices == 4 and not gen.guide.grammars  # the cap lives in the main stream
        step = next(gen)
        assert step.token < tok.vocab_size - len(tok.labels)  # a piece token, not a label


def test_a_later_label_alone_comes_after_drawn_earlier_ones(tmp_path):
    """``--condition voices=4`` alone: the model draws mode and key first, in training order,
    and is then given voices=4, exactly as if primed with all four; a key alone draws its own
    mode."""
    import numpy as np

    from genrnn import session
    from genrnn.config import SampleConfig
    from genrnn.models.weights import save_model

    tok = MidiEventTokenizer(["mode=major", "mode=minor", "key=C", "key=Am", "voices=3", "voices=4"])
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1, dropout=0.0,
                                         **label_fields(tok)))
    path = tmp_path / "labelled.safetensors"
    save_model(path, model, tok, {"corpus": {"kind": "midi_events"}})
    loaded = session.load_model(path)
    for seed in range(6):
        gen = session.open_stream(loaded, SampleConfig(seed=seed), session.condition_ids(loaded, ["voices=4"]))
        assert [lb.split("=")[0] for lb in gen.drawn_labels] == ["mode", "key"]
        assert gen.grammars[0].voices == 4
        mode, key = gen.drawn_labels
        assert gen.labels == [mode, key, "voices=4"]  # every label it holds, in training order
        assert key.endswith("m") == (mode == "mode=minor")  # the key agrees with the drawn mode
        whole = session.open_stream(loaded, SampleConfig(seed=seed),
                                    [START, tok.label_id(mode), tok.label_id(key), tok.label_id("voices=4")])
        assert whole.drawn_labels == []
        np.testing.assert_allclose(gen.logits, whole.logits, rtol=1e-5, atol=1e-5)
        keyed = session.open_stream(loaded, SampleConfig(seed=seed), session.condition_ids(loaded, ["key=Am"]))
        assert keyed.drawn_labels[0] == "mode=minor" and keyed.drawn_labels[1].startswith("voices=")
        # guided, the twin holds the labels drawn before the one asked, not a bare START
        guided = session.open_stream(loaded, SampleConfig(seed=seed, guidance=2.0),
                                     session.condition_ids(loaded, ["voices=4"]))
        mode, key = guided.drawn_labels
        twin = session.Stream(loaded.backend(1), tok, SampleConfig(seed=seed))
        twin.prime([START, tok.label_id(mode), tok.label_id(key)])
        np.testing.assert_allclose(guided.guide.logits, twin.logits, rtol=1e-5, atol=1e-5)
