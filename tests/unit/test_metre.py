"""The metre input (models/metre.py): the count of steps since START and the grids kept, read the
same way by the model's windows, the single-step paths (FusedStep, the NumPy LSTM) and a
checkpoint's streams; and a model told the phase hears it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrnn.config import ModelConfig
from genrnn.errors import ConfigError
from genrnn.models.labels import label_fields
from genrnn.models.metre import MetreTrack, metre_fields
from genrnn.models.numpy_lstm import LstmArrays, lstm_step
from genrnn.models.rnn import RNNLanguageModel
from genrnn.tokenizers.midi_events import NOTE_OFF, NOTE_ON, START, TIME_SHIFT, MidiEventTokenizer
from tests.unit.test_held_labels import windows_and_steps_agree

TOK = MidiEventTokenizer(["mode=major", "mode=minor"], grids=(14, 15, 16))


def shift(steps: int) -> int:
    return TIME_SHIFT + steps - 1


# START, a chord at 0, 16ths of 15 steps, a rest off the grid, START again (a new piece at 16)
TOKENS = [START, NOTE_ON + 60, NOTE_ON + 64, shift(15), NOTE_OFF + 64, NOTE_ON + 65, shift(30), NOTE_OFF + 65,
          shift(7), NOTE_ON + 67, shift(8), START, TOK.label_id("mode=minor"), shift(16), NOTE_ON + 60,
          shift(16), shift(16)]
# the phase after each token: t // grid mod 16 on the first kept grid dividing t, 16 on none.
# Before the note at 15, all three grids are kept and t = 15 fits 15 only; the note keeps 15 only.
EXPECTED = [0, 0, 0, 1, 1, 1, 3, 3, 16, 16, 16, 0, 0, 1, 1, 2, 3]


def _model(cell: str, labels: bool = True, seed: int = 0) -> RNNLanguageModel:
    torch.manual_seed(seed)
    extra = label_fields(TOK) if labels else {}
    return RNNLanguageModel(ModelConfig(vocab_size=TOK.vocab_size, cell=cell, embed=8, hidden=16, layers=2,
                                        dropout=0.0, **extra, **metre_fields(TOK))).eval()


def test_the_track_and_the_model_read_the_same_phases():
    track = MetreTrack.from_config(ModelConfig(vocab_size=TOK.vocab_size, **metre_fields(TOK)))
    assert track is not None
    state, seen = track.empty(1), []
    for t in TOKENS:
        state = track.step(state, np.array([t]))
        seen.append(int(track.phase(state)[0]))
    assert seen == EXPECTED
    # the note off the grid (t = 52) dropped every grid; after START all three are back
    model = _model("lstm", labels=False)
    phase, after = model.active_metre(torch.tensor([TOKENS]), torch.from_numpy(track.empty(1)))
    assert phase[0].tolist() == EXPECTED
    assert after[0].tolist() == state[0].tolist() == [48, 0, 0, 1]
    # carried across windows: the second window goes on counting from the first's state
    first, mid = model.active_metre(torch.tensor([TOKENS[:7]]), torch.from_numpy(track.empty(1)))
    rest, end = model.active_metre(torch.tensor([TOKENS[7:]]), mid)
    assert first[0].tolist() + rest[0].tolist() == EXPECTED and end.tolist() == after.tolist()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "mingru", "none"])
def test_windows_and_single_steps_give_the_whole_sequence_logits(cell: str):
    state, stepped = windows_and_steps_agree(_model(cell), TOKENS, 5)
    assert state[-1][0].tolist() == [[2.0, 48.0, 0.0, 0.0, 1.0]]  # mode=minor, then t and the grids kept
    assert stepped[-1].tolist() == state[-1].tolist()


def test_the_numpy_step_reads_the_phase_too():
    model = _model("lstm")
    arrays = LstmArrays.from_weights({k: v.numpy() for k, v in model.state_dict().items()}, 2)
    track, labels = model.metre, model.labels
    assert track is not None and labels is not None and arrays.metre is not None
    h = c = np.zeros((2, 1, 16), np.float32)
    count, slots, rows = track.empty(1), labels.empty(1), []
    for t in TOKENS:
        ids = np.array([t])
        count, slots = track.step(count, ids), labels.step(slots, ids)
        logits, h, c = lstm_step(arrays, ids, h, c, slots, track.phase(count))
        rows.append(logits[0])
    with torch.no_grad():
        whole, _ = model(torch.tensor([TOKENS]))
    np.testing.assert_allclose(np.stack(rows), whole[0].numpy(), atol=1e-5, rtol=1e-5)


def test_the_phase_changes_what_the_model_expects():
    """The same tokens, the same hidden state, a count that differs (on the grid, and 7 steps
    off it): the outputs differ, and only through the phase's embedding."""
    model = _model("lstm", labels=False)
    x = torch.tensor([[NOTE_ON + 60, shift(15), NOTE_ON + 62]])
    counts = [torch.tensor([[0.0, 1.0, 1.0, 1.0]]), torch.tensor([[7.0, 1.0, 1.0, 1.0]])]
    with torch.no_grad():
        h, c, _ = model.init_state(1)
        outs = [model(x, (h, c, held.unsqueeze(0)))[0] for held in counts]
        phases = [model.active_metre(x, held.long())[0][0].tolist() for held in counts]
        assert phases == [[0, 1, 1], [16, 16, 16]]  # 22 and 29 steps are on no grid
        assert (outs[0] - outs[1]).abs().max() > 1e-3
        model.metre_embed.weight.zero_()
        same = [model(x, (h, c, held.unsqueeze(0)))[0] for held in counts]
    torch.testing.assert_close(same[0], same[1])


def test_metre_fields_and_bad_configs_are_named():
    fields = metre_fields(TOK, 12)
    assert fields == {"metre_period": 12, "metre_grids": (14, 15, 16), "metre_notes": (NOTE_ON, TIME_SHIFT),
                      "metre_shifts": (TIME_SHIFT, TIME_SHIFT + 100), "metre_resets": (START,)}
    assert metre_fields(TOK, 0) == {}
    with pytest.raises(ConfigError, match="no tick grid"):
        metre_fields(MidiEventTokenizer(["mode=major"]))
    with pytest.raises(ConfigError, match="metre_grids"):
        ModelConfig(vocab_size=TOK.vocab_size, **{**metre_fields(TOK), "metre_grids": ()})
    with pytest.raises(ConfigError, match="metre_shifts"):
        ModelConfig(vocab_size=300, **metre_fields(TOK))  # the shifts run past a vocabulary of 300
    with pytest.raises(ConfigError, match="metre_period"):
        ModelConfig(vocab_size=TOK.vocab_size, **{**metre_fields(TOK), "metre_period": -1})


def test_a_checkpoint_with_a_metre_streams_alike_on_both_back_ends(tmp_path):
    from genrnn import session
    from genrnn.config import SampleConfig
    from genrnn.models.weights import save_model

    model = _model("lstm", seed=3)
    path = tmp_path / "metre.safetensors"
    save_model(path, model, TOK, {"corpus": {"kind": "midi_events"}})
    on_numpy, on_torch = session.load_model(path), session.load_model(path, step="torch")
    assert on_numpy.config.metre_grids == (14, 15, 16)
    logits = []
    for loaded in (on_numpy, on_torch):
        stream = session.Stream(loaded.backend(1), TOK, SampleConfig(seed=0))
        stream.prime(TOKENS)
        logits.append(stream.logits)
        assert np.asarray(stream.state[-1]).reshape(-1)[-4:].tolist() == [48, 0, 0, 1]  # the count, carried
        piece = session.sample_music(loaded, SampleConfig(seed=1), None, seconds=2.0)
        assert piece.sequence.notes and piece.sequence.end_time > 1.0
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-4, atol=1e-4)
