"""Music end to end: train on a few real chorales and folk tunes, sample with a real MIDI
primer, read the files back with other libraries, eval against held-out pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import pretty_midi
import pytest

from genrnn import session
from genrnn.config import SampleConfig
from genrnn.music import notation
from genrnn.music.midi_io import write_midi
from tests.cli import FEW_TUNES

GENRNN = [sys.executable, "-m", "genrnn.cli"]


def genrnn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*GENRNN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=240)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def primer_mid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BWV 66.6 from the music21 corpus, written by genrnn as a .mid."""
    path = tmp_path_factory.mktemp("primer") / "bwv66.6.mid"
    from music21 import corpus

    work = corpus.getWork("bach/bwv66.6")
    work = sorted(work)[0] if isinstance(work, list) else work
    write_midi(notation.load_score(work), path)
    return path


def test_checkpoint_records_tokenizer_and_recipe(event_run: Path, chorale_recipe: Path):
    info = session.checkpoint_info(event_run / "last.safetensors")
    assert info["tokenizer"]["kind"] == "midi_events"
    corpus = info["training"]["corpus"]
    assert corpus["kind"] == "midi_events" and corpus["recipe_path"] == str(chorale_recipe.resolve())
    assert session.load_model(event_run).kind == "midi_events"


def test_resume_a_recipe_run(event_run: Path):
    proc = genrnn("train", "--resume", event_run, "--max-steps", "45", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert session.checkpoint_info(event_run / "last.safetensors")["training"]["steps"] == 45


def test_sample_continues_a_midi_primer(event_run: Path, primer_mid: Path, tmp_path: Path):
    proc = genrnn("sample", event_run, "--primer", primer_mid, "--primer-seconds", "4", "--seconds", "6",
                  "--num", "2", "--seed", "1", "--out", tmp_path, "--musicxml")
    assert proc.returncode == 0, proc.stderr
    primer = pretty_midi.PrettyMIDI(str(primer_mid))
    want = sorted((n.pitch, round(n.start, 2)) for i in primer.instruments for n in i.notes if n.start < 4.0)
    for name in ("sample_001", "sample_002"):
        pm = pretty_midi.PrettyMIDI(str(tmp_path / f"{name}.mid"))
        notes = [n for i in pm.instruments for n in i.notes]
        got = sorted((n.pitch, round(n.start, 2)) for n in notes if n.start < 4.0 - 0.011)
        assert got == [w for w in want if w[1] < 4.0 - 0.011]
        assert pm.get_end_time() <= 4.0 + 6.0 + 0.05
        markers = [(m.text, t) for t, m in _timed_meta(tmp_path / f"{name}.mid") if m.type == "marker"]
        assert [m[0] for m in markers] == ["primer end"] and markers[0][1] == pytest.approx(4.0, abs=0.01)
        score = notation.parse_score(tmp_path / f"{name}.musicxml")
        assert len(score.flatten().notes) > 0
    assert "primer: " in proc.stderr and "seed 2" in proc.stderr


def _timed_meta(path: Path) -> list[tuple[float, mido.MetaMessage]]:
    out, now = [], 0.0
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.is_meta:
            out.append((now, msg))
    return out


def test_same_seed_same_music_and_seconds_bound(event_run: Path, primer_mid: Path):
    model = session.load_model(event_run)
    primer = session.read_music_primer(model, primer_mid, 3.0)
    a = session.sample_music(model, SampleConfig(seed=5), primer, seconds=5.0)
    b = session.sample_music(model, SampleConfig(seed=5), primer, seconds=5.0)
    assert a.tokens == b.tokens and a.sequence.notes == b.sequence.notes
    assert a.sequence.end_time <= primer.end_time + 5.0 + 1e-6
    # stepped one token at a time (live playback, the TUI), the same performance gives the same notes
    performance = session.perform(model, SampleConfig(seed=5), primer, 5.0)
    ons = [e for events in performance for e in events if e.is_on]
    assert performance.tokens == a.tokens
    generated = [n for n in a.sequence.notes if n.start >= primer.end_time - 1e-9]
    assert sorted((round(e.time, 2), e.pitch) for e in ons) == sorted((round(n.start, 2), n.pitch) for n in generated)


def test_sample_without_out_writes_midi_here(event_run: Path, tmp_path: Path):
    proc = genrnn("sample", event_run, "--seconds", "3", "--seed", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sample_001.mid").is_file()
    assert pretty_midi.PrettyMIDI(str(tmp_path / "sample_001.mid")).get_end_time() <= 3.05


def test_primer_errors_are_one_line(event_run: Path, tiny_run: Path, primer_mid: Path, tmp_path: Path):
    text = tmp_path / "words.txt"
    text.write_text("the king\n")
    assert "MIDI-event model" in one_line_error(genrnn("sample", tiny_run, "--primer", primer_mid))
    assert "give a .mid file" in one_line_error(genrnn("sample", event_run, "--primer", text))
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00abc")
    assert "truncated track" in one_line_error(genrnn("sample", event_run, "--primer", junk))
    silent = tmp_path / "silent.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000),
                                      mido.Message("program_change", program=0, time=10)]))
    mid.save(silent)
    assert "no notes" in one_line_error(genrnn("sample", event_run, "--primer", silent))


def test_eval_corpus_samples(event_run: Path, chorale_recipe: Path):
    proc = genrnn("eval", event_run, "--corpus", chorale_recipe, "--samples", "2", "--seconds", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["nats_per_token"] > 0 and report["samples"] == 2
    m = report["metrics"]
    for name in ("pitch_class_entropy", "scale_consistency", "polyphony", "note_density", "pitch_range",
                 "empty_time_ratio", "vertical_consonance"):
        assert set(m[name]) >= {"generated", "real"}
    assert 0.0 <= m["top_voice_interval_overlap"]["overlap"] <= 1.0
    table = genrnn("eval", event_run, "--corpus", chorale_recipe, "--samples", "1", "--seconds", "3")
    assert table.returncode == 0 and "vertical consonance" in table.stdout and "nats/event" in table.stdout


@pytest.fixture(scope="module")
def abc_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    recipe = tmp_path_factory.mktemp("recipes") / "few_tunes.toml"
    recipe.write_text(FEW_TUNES)
    out = tmp_path_factory.mktemp("runs") / "tunes"
    corpus = session.prepare_corpus(recipe=recipe)
    session.make_trainer(corpus, "tiny", {"hidden": 64}, {"max_steps": 80, "seed": 1}, out).fit()
    return out


def test_abc_model_writes_tunes_and_reports_parsing(abc_run: Path, tmp_path: Path):
    proc = genrnn("sample", abc_run, "--num", "3", "--seed", "1", "--length", "400", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    abcs = sorted(tmp_path.glob("*.abc"))
    assert [p.name for p in abcs] == ["sample_001.abc", "sample_002.abc", "sample_003.abc"]
    lines = proc.stderr.strip().splitlines()
    summary = lines[-1]
    assert summary.split(" of ")[1].startswith("3 tunes parse")
    parsed = int(summary.split(" of ")[0])
    assert len([ln for ln in lines if "does not parse" in ln]) == 3 - parsed
    assert len(list(tmp_path.glob("*.mid"))) == parsed
    for mid in tmp_path.glob("*.mid"):
        assert pretty_midi.PrettyMIDI(str(mid)).instruments
    wrong = one_line_error(genrnn("sample", abc_run, "--primer", tmp_path / "x.mid"))
    assert "MIDI-event model" in wrong


def test_play_live_to_a_socket_port_and_render_wav(event_run: Path, primer_mid: Path, tmp_path: Path):
    from tests.receivers import Receiver

    rec = Receiver()
    try:
        proc = genrnn("sample", event_run, "--primer", primer_mid, "--primer-seconds", "1", "--seconds", "2",
                      "--seed", "3", "--out", tmp_path, "--play", rec.address, "--wav")
        heard = rec.result()
    finally:
        rec.kill()
    assert proc.returncode == 0, proc.stderr
    saved = pretty_midi.PrettyMIDI(str(tmp_path / "sample_001.mid"))
    assert heard.note_ons == heard.note_offs == sum(len(i.notes) for i in saved.instruments) > 0
    assert (tmp_path / "sample_001.wav").stat().st_size > 44
