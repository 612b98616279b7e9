"""The feature critic: hand-made features of real MIDI files, its logistic regression, its file,
and a critic that finds a tempo drift it was not told about."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from genrnn import fileformat
from genrnn.errors import CheckpointError
from genrnn.inference.feature_critic import (
    FeatureCritic,
    load_feature_critic,
    save_feature_critic,
    sibling_critic,
)
from genrnn.music import features, metrics
from genrnn.music.midi_io import read_midi, write_midi
from genrnn.music.notes import Note, NoteSequence
from genrnn.training.classifier_data import data_from_sequences
from genrnn.training.feature_critic import fit_logistic, standardise, train_feature_critic

CHORDS = ((60, 64, 67, 48), (62, 65, 69, 50), (64, 67, 72, 52), (59, 62, 67, 43), (60, 64, 67, 48))


def chorale(rng: random.Random, drift: float = 1.0, seconds: float = 12.0) -> NoteSequence:
    """Four voices moving together on a steady eighth/quarter grid; from the middle on, every
    duration is multiplied by ``drift`` (a piece that slows 5 % half way: off its own grid)."""
    notes, t, beat = [], 0.0, rng.choice((0.5, 0.55, 0.6))
    while t < seconds:
        chord = rng.choice(CHORDS)
        length = beat * rng.choice((1, 1, 2, 0.5)) * (drift if t > seconds / 2 else 1.0)
        notes += [Note(p + rng.choice((0, 0, 2)) * (k == 0), 80, t, t + length) for k, p in enumerate(chord)]
        t += length
    return NoteSequence(notes).clipped(seconds)


def pieces(count: int, seed: int) -> list[tuple[str, NoteSequence, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append((f"real {i}", chorale(rng), "real"))
        out.append((f"generated {i}", chorale(rng, drift=rng.choice((0.93, 1.07))), "generated"))
    return out


def test_features_of_a_midi_file_written_and_read_back(tmp_path: Path):
    """Four voices on a steady 0.5 s grid, written by pretty_midi: polyphony 4, every interval
    on the grid, a stepwise top line; transposed, the same features."""
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    top = [72, 74, 76, 74, 72, 71, 72, 72]
    for i, pitch in enumerate(top):
        for p in (pitch, pitch - 5, pitch - 12, pitch - 24):
            piano.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=i * 0.5, end=i * 0.5 + 0.5))
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "steady.mid"))
    seq = read_midi(tmp_path / "steady.mid")
    f = dict(zip(features.FEATURES, features.excerpt_features(seq), strict=True))
    assert f["polyphony"] == pytest.approx(4.0) and f["time_at_4"] == pytest.approx(1.0)
    assert f["ioi_grid_share"] == 1.0 and f["empty_time"] == pytest.approx(0.0, abs=1e-9)
    assert f["note_density"] == pytest.approx(32 / 4.0) and f["onset_density"] == pytest.approx(8 / 4.0)
    assert f["chord_onset_share"] == 1.0 and f["notes_per_onset"] == 4.0
    assert f["pitch_range"] == 76 - (71 - 24) and f["velocity_std"] == 0.0
    # top line 72 74 76 74 72 71 72 72: steps 6 of 7, one repeat, no leap
    assert f["top_step_share"] == pytest.approx(6 / 7) and f["top_repeat_share"] == pytest.approx(1 / 7)
    assert f["top_leap_share"] == 0.0
    moved = features.excerpt_features(seq.transposed(5))
    assert np.allclose(moved, features.excerpt_features(seq))


def test_a_tempo_drift_takes_intervals_off_the_grid():
    rng = random.Random(0)
    steady = [metrics.ioi_grid_share(np.diff(sorted({n.start for n in chorale(rng).notes}))) for _ in range(20)]
    drifting = [metrics.ioi_grid_share(np.diff(sorted({n.start for n in chorale(rng, 1.07).notes}))) for _ in range(20)]
    assert min(steady) == 1.0
    assert max(drifting) < 1.0 and np.mean(drifting) < 0.8


def test_windows_cover_a_long_piece_each_moved_to_zero():
    seq = NoteSequence([Note(60, 80, t, t + 0.5) for t in np.arange(0, 40, 0.5)])
    parts = features.windows(seq, 15.0)
    assert len(parts) == 3  # 0-15, 15-30, 25-40 (the last ends with the piece)
    assert all(min(n.start for n in p.notes) == 0.0 and p.end_time <= 15.0 for p in parts)
    assert [len(p.notes) for p in parts] == [30, 30, 30]
    assert features.windows(seq.clipped(10.0), 15.0)[0].end_time == 10.0


def test_logistic_regression_meets_its_optimality_condition():
    """At the fitted weights the penalised log loss has zero gradient (Newton has converged),
    and the weights point the way the data do."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x @ np.array([2.0, -1.0, 0.0, 0.5]) + rng.normal(scale=0.5, size=300) > 0).astype(float)
    w, b = fit_logistic(x, y, l2=1.0)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    assert np.abs(x.T @ (p - y) + w).max() < 1e-6 and abs((p - y).sum()) < 1e-6
    assert w[0] > 1.0 and w[1] < -0.5 and abs(w[2]) < 0.3
    stronger, _ = fit_logistic(x, y, l2=100.0)
    assert np.abs(stronger).sum() < np.abs(w).sum()  # the penalty shrinks the weights
    mean, scale = standardise(np.c_[x, np.ones(300)])
    assert scale[-1] == 1.0 and mean[-1] == 1.0  # a constant feature: spread 1, never a division by 0


def test_the_feature_critic_finds_a_tempo_drift_on_held_out_pieces(tmp_path: Path):
    data = data_from_sequences(pieces(60, seed=1), pieces(20, seed=2), ["generated", "real"],
                               {"kind": "critic", "excerpt_seconds": 12.0})
    result = train_feature_critic(data, tmp_path)
    ev = result.evaluation
    assert ev.count == 40 and ev.per_class["real"]["count"] == ev.per_class["generated"]["count"] == 20
    assert ev.accuracy >= 0.9, ev.row()
    assert "ioi_grid_share" in [name for name, _ in ev.top_features[:3]]
    assert dict(ev.top_features)["ioi_grid_share"] > 0  # on the grid leans real
    # the file: what was measured is what loads
    critic = load_feature_critic(tmp_path)  # the folder means its feature_critic.safetensors
    assert critic.path == tmp_path / "feature_critic.safetensors" and critic.excerpt_seconds == 12.0
    assert critic.training["accuracy"] == ev.accuracy and critic.task["model"] == "logistic"
    assert np.allclose(critic.weights, result.critic.weights) and critic.bias == result.critic.bias
    held = [p[1] for p in pieces(20, seed=2)]
    assert np.allclose(critic.real_probability(held), result.critic.real_probability(held))
    # a piece twice the excerpt length is judged as the mean of its excerpts
    long = chorale(random.Random(5), seconds=24.0)
    parts = features.windows(long, 12.0)
    assert critic.real_probability([long])[0] == pytest.approx(critic.excerpt_probability(parts).mean())


def test_feature_critic_file_errors_name_the_file_and_field(tmp_path: Path):
    size = len(features.FEATURES)
    critic = FeatureCritic(np.zeros(size), np.ones(size), np.ones(size), 0.0)
    path = save_feature_critic(critic, tmp_path / "c.safetensors")
    assert path.stat().st_size < 4096 and load_feature_critic(path).bias == 0.0
    header = fileformat.read_header(path)
    tensors = fileformat.read_tensors(header)
    fields = {k: __import__("json").loads(v) for k, v in header.meta.items() if k not in ("format", "format_version", "genrnn_version")}
    fileformat.write(tmp_path / "old.safetensors", fileformat.FEATURE_CRITIC,
                     {**fields, "features": fields["features"][:-1]}, tensors)
    with pytest.raises(CheckpointError, match=r"old\.safetensors: metadata 'features'"):
        load_feature_critic(tmp_path / "old.safetensors")
    fileformat.write(tmp_path / "zero.safetensors", fileformat.FEATURE_CRITIC, fields,
                     {**tensors, "scale": np.zeros(size)})
    with pytest.raises(CheckpointError, match=r"zero\.safetensors: tensor 'scale'"):
        load_feature_critic(tmp_path / "zero.safetensors")
    fileformat.write(tmp_path / "short.safetensors", fileformat.FEATURE_CRITIC, fields,
                     {**tensors, "weights": np.ones(size - 1)})
    with pytest.raises(CheckpointError, match=r"short\.safetensors: tensor 'weights' has shape"):
        load_feature_critic(tmp_path / "short.safetensors")
    bach = Path(__file__).resolve().parents[2] / "checkpoints" / "bach.safetensors"
    if bach.exists():
        with pytest.raises(CheckpointError, match="language model, not a feature critic"):
            load_feature_critic(bach)
    assert sibling_critic(Path("checkpoints/bach.safetensors")) == Path("checkpoints/bach.critic.safetensors")
    assert sibling_critic(tmp_path) == tmp_path / "feature_critic.safetensors"


def test_midi_round_trip_keeps_the_features(tmp_path: Path):
    seq = chorale(random.Random(3))
    write_midi(seq, tmp_path / "c.mid")
    back = read_midi(tmp_path / "c.mid")
    assert np.allclose(features.excerpt_features(back), features.excerpt_features(replace(seq)), atol=0.02)
