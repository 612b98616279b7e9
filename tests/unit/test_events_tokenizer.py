"""Performance-event tokenizer: layout, round trip on real chorales, streaming decoder."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache

import numpy as np
import pytest

from genrnn.errors import TokenizerError
from genrnn.music import notation
from genrnn.music.notes import Note, NoteSequence, resolve_overlaps
from genrnn.tokenizers import tokenizer_from_dict
from genrnn.tokenizers.midi_events import (
    BIN_VELOCITY,
    END,
    LABEL,
    NOTE_OFF,
    NOTE_ON,
    PAD,
    START,
    TIME_SHIFT,
    VELOCITY,
    EventStreamDecoder,
    MidiEventTokenizer,
    velocity_bin,
)


@lru_cache(maxsize=1)
def chorales() -> tuple[NoteSequence, ...]:
    return tuple(notation.load_score(p) for _, p in notation.chorale_paths(limit=10))


def test_vocabulary_layout():
    tok = MidiEventTokenizer()
    assert (PAD, START, END) == (0, 1, 2)
    assert tok.vocab_size == 3 + 128 + 128 + 100 + 32 == LABEL
    assert tok.token_name(NOTE_ON + 60) == "NOTE_ON_60"
    assert tok.token_name(NOTE_OFF + 127) == "NOTE_OFF_127"
    assert tok.token_name(TIME_SHIFT) == "TIME_SHIFT_10ms"
    assert tok.token_name(TIME_SHIFT + 99) == "TIME_SHIFT_1000ms"
    assert tok.token_name(VELOCITY + 31) == "VELOCITY_31"
    with pytest.raises(TokenizerError, match="out of range"):
        tok.token_name(tok.vocab_size)


def test_velocity_bins_cover_1_to_127():
    bins = [velocity_bin(v) for v in range(1, 128)]
    assert bins[0] == 0 and bins[-1] == 31 and sorted(set(bins)) == list(range(32))
    assert all(velocity_bin(BIN_VELOCITY[b]) == b for b in range(32))


def test_encode_simple_sequence():
    tok = MidiEventTokenizer()
    seq = NoteSequence([Note(60, 100, 0.0, 0.5), Note(64, 100, 0.0, 1.5)])
    names = [tok.token_name(t) for t in tok.encode(seq)]
    assert names == [
        f"VELOCITY_{velocity_bin(100)}", "NOTE_ON_60", "NOTE_ON_64", "TIME_SHIFT_500ms",
        "NOTE_OFF_60", "TIME_SHIFT_1000ms", "NOTE_OFF_64",
    ]


@pytest.mark.parametrize("index", range(10))
def test_round_trip_real_chorales_within_10ms(index: int):
    tok = MidiEventTokenizer()
    seq = chorales()[index]
    seq = NoteSequence([n if i % 3 else Note(n.pitch, 30 + i % 90, n.start, n.end) for i, n in enumerate(seq.notes)])
    want = sorted(resolve_overlaps(seq.notes), key=lambda n: (n.pitch, n.start))
    back = tok.decode(tok.encode(seq))
    got = sorted(back.notes, key=lambda n: (n.pitch, n.start))
    assert len(got) == len(want) > 50
    for a, b in zip(got, want, strict=True):
        assert a.pitch == b.pitch
        assert abs(a.start - b.start) <= 0.01 and abs(a.end - b.end) <= 0.01
        assert velocity_bin(a.velocity) == velocity_bin(b.velocity)


def test_decode_ignores_orphan_offs_and_closes_hanging_notes():
    tok = MidiEventTokenizer()
    ids = [START, NOTE_OFF + 50, NOTE_ON + 60, TIME_SHIFT + 49, NOTE_OFF + 61, NOTE_ON + 62, TIME_SHIFT + 9]
    seq = tok.decode(ids)
    assert [(n.pitch, n.start, round(n.end, 3)) for n in seq.notes] == [(60, 0.0, 0.6), (62, 0.5, 0.6)]


def test_decode_closes_note_started_at_the_very_end_with_minimum_length():
    seq = MidiEventTokenizer().decode([NOTE_ON + 60])
    assert seq.notes[0].end == pytest.approx(0.01)


def test_decode_stops_at_end_and_restrike_splits_note():
    tok = MidiEventTokenizer()
    ids = [START, NOTE_ON + 60, TIME_SHIFT + 9, NOTE_ON + 60, TIME_SHIFT + 9, END, NOTE_ON + 70]
    seq = tok.decode(ids)
    assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in seq.notes] == [(60, 0.0, 0.1), (60, 0.1, 0.2)]


def test_stream_decoder_matches_batch_decode():
    tok = MidiEventTokenizer()
    ids = tok.encode(chorales()[0])
    dec = EventStreamDecoder()
    events = [e for t in ids for e in dec.feed(t)] + dec.close()
    assert dec.time == pytest.approx(chorales()[0].end_time, abs=0.01)
    assert all(b.time >= a.time for a, b in zip(events, events[1:], strict=False))
    ons = sorted((e.pitch, round(e.time, 2)) for e in events if e.is_on)
    assert ons == sorted((n.pitch, round(n.start, 2)) for n in tok.decode(ids).notes)
    assert sum(e.is_on for e in events) == sum(not e.is_on for e in events)


def test_stream_decoder_close_gives_offs_for_hanging():
    dec = EventStreamDecoder()
    dec.feed(VELOCITY + 20)
    (on,) = dec.feed(NOTE_ON + 64)
    assert on.velocity == BIN_VELOCITY[20] and on.time == 0
    dec.feed(TIME_SHIFT + 19)
    offs = dec.close()
    assert [(e.pitch, e.velocity, round(e.time, 2)) for e in offs] == [(64, 0, 0.2)]
    assert dec.close() == []


def test_to_dict_round_trip_with_labels():
    tok = MidiEventTokenizer(labels=["mode=major", "mode=minor"])
    data = json.loads(json.dumps(tok.to_dict()))
    again = tokenizer_from_dict(data)
    assert isinstance(again, MidiEventTokenizer)
    assert again.vocab_size == tok.vocab_size == LABEL + 2
    assert again.token_name(LABEL + 1) == "LABEL_mode=minor"
    ids = again.encode_piece(NoteSequence([Note(60, 80, 0, 1)]), labels=["mode=minor"])
    assert list(ids[:2]) == [START, LABEL + 1] and ids[-1] == END
    with pytest.raises(TokenizerError, match="not in this tokenizer's labels"):
        again.label_id("key=C")
    with pytest.raises(TokenizerError, match="step_seconds"):
        MidiEventTokenizer.from_dict({**data, "step_seconds": 0.02})


def test_transpose_ids_shifts_pitches_only():
    tok = MidiEventTokenizer()
    seq = chorales()[1]
    up = tok.transpose_ids(tok.encode(seq), 3)
    assert up is not None
    assert sorted(n.pitch for n in tok.decode(up).notes) == sorted(n.pitch + 3 for n in tok.decode(tok.encode(seq)).notes)
    assert tok.transpose_ids(tok.encode(NoteSequence([Note(126, 80, 0, 1)])), 3) is None


def test_encode_rejects_non_sequences():
    with pytest.raises(TokenizerError, match="NoteSequence"):
        MidiEventTokenizer().encode("abc")


def test_music_and_tokenizers_import_without_torch():
    code = (
        "import sys; import genrnn.tokenizers.midi_events, genrnn.music.midi_io, "
        "genrnn.music.metrics, genrnn.music.notation; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_encode_dtype_and_shift_chunks():
    tok = MidiEventTokenizer()
    ids = tok.encode(NoteSequence([Note(60, 80, 2.5, 2.6)]))
    assert ids.dtype == np.uint16
    assert [tok.token_name(t) for t in ids[:3]] == ["TIME_SHIFT_1000ms", "TIME_SHIFT_1000ms", "TIME_SHIFT_500ms"]


def _records(pieces: list[NoteSequence], tok: MidiEventTokenizer) -> np.ndarray:
    return np.concatenate([tok.encode_piece(p) for p in pieces])


def test_grids_in_finds_the_grids_of_real_chorales_at_their_stretches_and_none_in_a_performance():
    from genrnn.corpora.augment import stretched

    tok = MidiEventTokenizer()
    pieces = list(chorales())  # nine written at 100 bpm (a 16th of 15 steps), bwv281 at 90
    train = tok.played_in(_records([stretched(p, f) for p in pieces for f in (0.95, 1.0, 1.05)], tok))
    # 0.95 → a 16th of 14 steps, 1.05 → 16; bwv281 ×1.05 keeps 16ths of 18 steps, 1 record in 30
    # here (over the 2 % a grid needs; in the whole corpus 1 in 200, and the grids are 14, 15, 16)
    assert train.grids == (14, 15, 16, 18)
    nine = tok.played_in(_records([stretched(p, f) for p in pieces if p.tempo_bpm == 100 for f in (0.95, 1.0, 1.05)], tok))
    assert nine.grids == (14, 15, 16)
    assert train.velocities == (velocity_bin(pieces[0].notes[0].velocity),)  # music21 writes one velocity
    again = tokenizer_from_dict(json.loads(json.dumps(train.to_dict())))
    assert (again.grids, again.velocities) == (train.grids, train.velocities)
    rng = np.random.default_rng(0)  # the same chorales played: onsets off by up to 20 ms, velocities spread
    played = [NoteSequence([Note(n.pitch, int(rng.integers(30, 110)), max(n.start + rng.uniform(0, 0.02), 0.0),
                                 n.end + rng.uniform(0, 0.02)) for n in p.notes]) for p in pieces]
    performance = tok.played_in(_records(played, tok))
    assert performance.grids is None and "grids" not in performance.to_dict()
    assert performance.velocities == tuple(range(velocity_bin(30), velocity_bin(109) + 1))  # the bins heard
    everything = [NoteSequence([Note(60, v, i * 0.1, i * 0.1 + 0.05) for i, v in enumerate(range(1, 128))])]
    assert tok.played_in(_records(everything, tok)).velocities is None  # every bin heard: nothing to hold


@pytest.mark.parametrize("field, value", [("grids", [0]), ("grids", "15"), ("velocities", [32]), ("grids", [])])
def test_a_bad_grids_or_velocities_field_is_one_clear_error(field: str, value: object):
    data = {**MidiEventTokenizer().to_dict(), field: value}
    with pytest.raises(TokenizerError, match=f"tokenizer field '{field}': expected a non-empty list"):
        tokenizer_from_dict(data)


def test_pitch_order_down_puts_the_melody_first_and_decodes_the_same_notes():
    piece = chorales()[0]
    up, down = MidiEventTokenizer(), MidiEventTokenizer(pitch_order="down")
    a, b = up.encode(piece), down.encode(piece)
    assert sorted(a.tolist()) == sorted(b.tolist())  # the same events, in another order
    first = [int(t) - NOTE_ON for t in b[:8] if NOTE_ON <= t < NOTE_OFF]
    assert first == sorted(first, reverse=True) and first[0] == max(n.pitch for n in piece.notes if n.start == 0)
    assert down.decode(b).notes == up.decode(a).notes
    again = tokenizer_from_dict(json.loads(json.dumps(down.played_in(down.record(b)).to_dict())))
    assert again.pitch_order == "down" and np.array_equal(again.encode(piece), b)
    assert "pitch_order" not in up.to_dict()  # files before the field order up
    with pytest.raises(TokenizerError, match="pitch_order 'sideways'"):
        MidiEventTokenizer(pitch_order="sideways")
    with pytest.raises(TokenizerError, match="tokenizer field 'pitch_order'"):
        tokenizer_from_dict({**up.to_dict(), "pitch_order": 3})
