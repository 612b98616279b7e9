"""music21 access: chorales, ABC in, MusicXML out, key analysis."""

from __future__ import annotations

from pathlib import Path

import mido
import pretty_midi
import pytest

from genrnn.errors import MidiConversionError
from genrnn.music import notation
from genrnn.music.notes import Note, NoteSequence

TUNE = """X:1
T:Test
M:6/8
L:1/8
K:G
GAB cde | d2B G3 | A2B c2A | G6 |]
"""


def test_chorales_ship_offline():
    paths = notation.chorale_paths()
    assert len(paths) > 300
    assert all(p.is_file() for _, p in paths[:20])


def test_chorale_loads_four_voices():
    name, path = notation.chorale_paths(limit=1)[0]
    seq = notation.load_score(path)
    assert len(seq) > 100 and seq.tempo_bpm == notation.DEFAULT_BPM
    assert seq.time_signature in {(3, 4), (4, 4)}
    assert 30 <= min(n.pitch for n in seq.notes) < max(n.pitch for n in seq.notes) <= 84


def test_abc_collections_ship():
    paths = notation.abc_collection_paths(["oneills1850"])
    tunes = notation.split_abc_tunes(paths[0].read_text())
    assert len(paths) > 10 and len(tunes) > 10 and all(t.startswith("X:") for t in tunes)
    with pytest.raises(MidiConversionError, match="no ABC collection"):
        notation.abc_collection_paths(["nonesuch"])


def test_abc_to_sequence():
    seq = notation.abc_to_sequence(TUNE)
    assert [n.pitch for n in seq.notes[:3]] == [67, 69, 71]
    assert seq.time_signature == (6, 8)
    assert notation.abc_to_sequence(TUNE.replace("X:1\n", "")).notes == seq.notes


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "empty ABC"), ("X:1\nT:no key\nabc|\n", "no K:"), ("X:1\nK:G\n% nothing\n", "no notes"),
     ("X:1\nK:G\n" + "a" * 60_000, "longer than")],
)
def test_bad_abc_names_the_reason(text: str, match: str):
    with pytest.raises(MidiConversionError, match=match):
        notation.abc_to_sequence(text, name="bad tune")


def test_abc_to_midi_reads_back_in_mido_and_pretty_midi(tmp_path: Path):
    path = notation.abc_to_midi(TUNE, tmp_path / "tune.mid")
    notes_on = [m.note for t in mido.MidiFile(path).tracks for m in t if m.type == "note_on"]
    assert notes_on[:3] == [67, 69, 71]
    assert len(pretty_midi.PrettyMIDI(str(path)).instruments[0].notes) == len(notes_on)


def test_musicxml_of_a_chorale_parses_back(tmp_path: Path):
    _, path = notation.chorale_paths(limit=1)[0]
    seq = notation.load_score(path)
    out = notation.write_musicxml(seq, tmp_path / "c.musicxml")
    score = notation.parse_score(out)
    back = notation.score_to_sequence(score)
    assert len(score.parts) == 4
    assert sorted({n.pitch for n in back.notes}) == sorted({n.pitch for n in seq.notes})


def test_musicxml_quantises_loose_timing(tmp_path: Path):
    seq = NoteSequence([Note(60, 80, 0.013, 0.49), Note(62, 80, 0.51, 0.66), Note(64, 80, 0.67, 0.83)], tempo_bpm=120)
    score = notation.parse_score(notation.write_musicxml(seq, tmp_path / "q.musicxml"))
    offsets = [float(n.offset) for n in score.flatten().notes]
    assert offsets == pytest.approx([0.0, 1.0, 4 / 3], abs=1e-6)  # 16th and triplet grid


def test_musicxml_without_notes_is_an_error_and_drums_alone_are_a_percussion_part(tmp_path: Path):
    import music21

    with pytest.raises(MidiConversionError, match="no notes"):
        notation.write_musicxml(NoteSequence([]), tmp_path / "x.musicxml")
    drums = NoteSequence([Note(36, 80, 0, 0.25, is_drum=True), Note(38, 80, 0.5, 0.75, is_drum=True)])
    score = music21.converter.parse(notation.write_musicxml(drums, tmp_path / "drums.musicxml"))
    assert [p.partName for p in score.parts] == ["Drums"] and len(score.flatten().notes) == 2


def test_musicxml_has_one_named_part_per_instrument(tmp_path: Path):
    import music21

    seq = NoteSequence([Note(60, 80, 0, 1, program=0), Note(64, 80, 0, 1, program=0), Note(40, 90, 0, 2, program=33),
                        Note(72, 70, 1, 2, program=73), Note(36, 100, 0, 0.25, is_drum=True)])
    score = music21.converter.parse(notation.write_musicxml(seq, tmp_path / "band.musicxml"))
    names = [p.partName for p in score.parts]
    assert names == ["Acoustic Grand Piano", "Electric Bass (finger)", "Flute", "Drums"]
    piano = score.parts[0].flatten()
    assert [sorted(p.midi for p in c.pitches) for c in piano.getElementsByClass("Chord")] == [[60, 64]]
    programs = [p.getInstrument().midiProgram for p in score.parts[:3]]
    assert programs == [0, 33, 73]


def test_key_analysis_agrees_with_music21():
    for _, path in notation.chorale_paths(limit=6):
        score = notation.parse_score(path)
        mine = notation.analyse_key(notation.score_to_sequence(score))
        theirs = score.analyze("key")
        assert (mine.tonic, mine.mode) == (notation.PITCH_NAMES[theirs.tonic.pitchClass], theirs.mode)


def test_key_label_transposes_and_vocabulary():
    key = notation.KeyLabel("A", "minor", 0.9)
    assert key.transposed(3).labels == {"key": "Cm", "mode": "minor"}
    assert notation.KeyLabel("Bb", "major", 0.9).transposed(-1).labels == {"key": "A", "mode": "major"}
    assert notation.label_vocabulary(["mode"]) == ["mode=major", "mode=minor"]
    keys = notation.label_vocabulary(["key"])
    assert len(keys) == 24 and keys[0] == "key=C" and keys[12] == "key=Cm" and "key=Bbm" in keys
    assert [notation.key_tonic(k) for k in ("Am", "Bb", "Bbm", "C#m", "F")] == ["A", "Bb", "Bb", "C#", "F"]
    with pytest.raises(MidiConversionError, match="unknown label"):
        notation.label_vocabulary(["tempo"])
