"""Piece labels computed in prep (``rests``) and the training order of records."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from genrnn.corpora.recipes import _shuffled_records, records
from genrnn.errors import ConfigError
from genrnn.generation.conditions import condition_labels
from genrnn.music import notation
from genrnn.music.notes import Note, NoteSequence
from genrnn.tokenizers.midi_events import END, START, MidiEventTokenizer


def _chord(start: float, end: float, pitches=(48, 55, 64, 72)) -> list[Note]:
    return [Note(p, 80, start, end) for p in pitches]


def test_phrase_rests_is_a_silence_of_every_voice():
    legato = NoteSequence(_chord(0, 1) + _chord(1, 2.2) + _chord(2.2, 3))
    assert notation.phrase_rests(legato) == "no"
    breath = NoteSequence(_chord(0, 1.2) + _chord(1.8, 3))  # 0.6 s with nothing sounding
    assert notation.phrase_rests(breath) == "yes"
    one_voice_rests = NoteSequence(_chord(0, 1.2) + [Note(40, 80, 0, 3)] + _chord(1.8, 3))
    assert notation.phrase_rests(one_voice_rests) == "no"  # the bass holds on: not a rest
    drums_fill = NoteSequence(_chord(0, 1.2) + [Note(36, 80, 1.2, 1.8, is_drum=True)] + _chord(1.8, 3))
    assert notation.phrase_rests(drums_fill) == "yes"  # drums are not voices
    assert notation.phrase_rests(NoteSequence(_chord(0, 1) + _chord(1.1, 2))) == "no"  # 0.1 s: articulation
    assert notation.piece_labels(breath, ["mode", "key", "rests"]) == {"rests": "yes"}
    assert "rests=yes" in notation.label_vocabulary(["rests"])


def test_training_records_are_shuffled_reproducibly_and_kept_whole():
    recs = [np.array([START, 10 + i, 20 + i, END], np.uint16) for i in range(30)]
    ids = np.concatenate(recs)
    a, b = _shuffled_records(ids, "genrnn"), _shuffled_records(ids, "genrnn")
    np.testing.assert_array_equal(a, b)  # the same salt, the same order
    assert not np.array_equal(a, ids)  # but not file order
    assert sorted(map(tuple, records(a))) == sorted(map(tuple, records(ids)))  # every record, intact
    assert not np.array_equal(_shuffled_records(ids, "other"), a)


def test_keys_name_their_mode_and_conditions_follow():
    def model(labels):
        return SimpleNamespace(path=Path("m.safetensors"), kind="midi_events",
                               tokenizer=MidiEventTokenizer(labels))

    new = model(notation.label_vocabulary(["mode", "key", "rests"]))
    assert condition_labels(new, ["mode=minor", "key=A"]) == ["mode=minor", "key=Am"]
    assert condition_labels(new, ["key=A", "mode=minor"]) == ["mode=minor", "key=Am"]
    assert condition_labels(new, ["mode=minor", "key=Am"]) == ["mode=minor", "key=Am"]
    assert condition_labels(new, ["mode=major", "key=Bb"]) == ["mode=major", "key=Bb"]
    assert condition_labels(new, ["key=Bbm"]) == ["key=Bbm"]
    with pytest.raises(ConfigError, match="give key=A for A major"):
        condition_labels(new, ["mode=major", "key=Am"])
    # a model made before keys named their mode: key=A is a tonic beside the mode
    old = model(["mode=major", "mode=minor", *(f"key={p}" for p in notation.PITCH_NAMES)])
    assert condition_labels(old, ["mode=minor", "key=A"]) == ["mode=minor", "key=A"]
    with pytest.raises(ConfigError, match="not one of"):
        condition_labels(old, ["key=Am"])
