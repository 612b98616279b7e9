"""The jam's voice (a real stream of a tiny event model) and session (real scheduler, clock and
output over an in-memory sink): hearing, answering, accompanying, controls, bad input, saving."""

from __future__ import annotations

import threading
from pathlib import Path

import mido
import pretty_midi
import pytest

from genrnn import session
from genrnn.config import ModelConfig, SampleConfig
from genrnn.errors import ConfigError
from genrnn.playback.clock import RealClock
from genrnn.playback.jam import JamControls, JamOptions, JamSession
from genrnn.playback.phrases import PhraseRules
from genrnn.playback.ports import Output
from genrnn.tokenizers.midi_events import MidiEventTokenizer


@pytest.fixture(scope="module")
def event_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained LSTM event model (seeded): random but real weights, a real stream."""
    torch = pytest.importorskip("torch")
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model

    torch.manual_seed(0)
    tok = MidiEventTokenizer()
    model = RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=24, layers=1))
    return save_model(tmp_path_factory.mktemp("jam") / "tiny.safetensors", model, tok, {})


def voice_of(path: Path, seed: int = 1):  # noqa: ANN201
    model = session.load_model(path)
    return session.open_jam(model, SampleConfig(temperature=1.0, top_p=1.0, seed=seed))


class ListSink:
    """An output that keeps what it is sent; ``fail_after`` sends it vanishes."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[mido.Message] = []
        self.fail_after = fail_after
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise BrokenPipeError(32, "Broken pipe")
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True

    def ons(self) -> int:
        return sum(m.type == "note_on" and m.velocity > 0 for m in self.sent)

    def hanging(self) -> int:
        down: dict[tuple[int, int], int] = {}
        for m in self.sent:
            key = (getattr(m, "channel", -1), getattr(m, "note", -1))
            if m.type == "note_on" and m.velocity > 0:
                down[key] = down.get(key, 0) + 1
            elif m.type in ("note_on", "note_off") and down.get(key):
                down[key] -= 1
        return sum(down.values())


# ---------------------------------------------------------------------------------- the voice


def test_the_voice_hears_the_player_and_answers_at_once(event_model: Path) -> None:
    voice = voice_of(event_model)
    stream = voice.stream
    for i, pitch in enumerate((60, 62, 64)):
        voice.hear(10.0 + i * 0.2, pitch, 90)
        voice.hear(10.1 + i * 0.2, pitch, 0)
    assert voice.counts.fed >= 9 and voice.counts.drawn == 0
    assert not voice.sounding and not voice.player
    events = list(voice.answer(11.0, 1.5))
    assert events and events[0][2] > 0 and events[0][0] == 0.0  # a note, at once
    assert all(0.0 <= t <= 1.5 for t, *_ in events)
    ons = sum(v > 0 for _, _, v, _, _ in events)
    assert ons == sum(v == 0 for _, _, v, _, _ in events)  # every note ends within the answer
    voice.finish_answer(12.5)
    assert not voice.sounding and voice.stream is stream  # one stream, never reset


def test_what_the_model_heard_changes_its_answer(event_model: Path) -> None:
    answers = []
    for pitches in ((60, 64, 67), (40, 41, 42)):
        voice = voice_of(event_model, seed=3)
        for i, p in enumerate(pitches):
            voice.hear(i * 0.3, p, 100)
            voice.hear(i * 0.3 + 0.2, p, 0)
        answers.append(list(voice.answer(1.5, 2.0)))
    assert answers[0] != answers[1]


def test_a_key_held_over_the_answer_is_let_go_once(event_model: Path) -> None:
    voice = voice_of(event_model)
    voice.hear(0.0, 60, 90)
    voice.hear(0.0, 60, 90)  # the same key on a second channel: a re-strike
    assert voice.player[(0, 60)] == 2
    list(voice.answer(1.0, 1.0))
    voice.finish_answer(2.0)
    assert not voice.player and (0, 60) not in voice.sounding
    fed = voice.counts.fed
    voice.hear(2.1, 60, 0)  # its real release later: nothing to feed
    voice.hear(2.1, 60, 0)
    assert voice.counts.fed == fed


def test_accompany_draws_events_for_now_and_releases_them(event_model: Path) -> None:
    voice = voice_of(event_model, seed=5)
    played = []
    for i in range(20):
        voice.hear(i * 0.25, 60 + i % 12, 90)
        events = voice.accompany(i * 0.25 + 0.001)
        assert all(t == i * 0.25 + 0.001 for t, *_ in events)  # each for now
        played += events
        voice.hear(i * 0.25 + 0.2, 60 + i % 12, 0)
    assert played
    assert voice.counts.accompany_calls == 20
    offs = voice.release(6.0)
    down: dict[int, int] = {}
    for _, p, v, _, _ in played + offs:
        down[p] = down.get(p, 0) + (1 if v > 0 else -1)
    assert all(n <= 0 for n in down.values())  # nothing left sounding


def test_settings_change_for_the_next_draw(event_model: Path) -> None:
    voice = voice_of(event_model)
    voice.settings = SampleConfig(temperature=0.3, top_p=0.5, seed=1)
    assert voice.stream.settings.temperature == 0.3


# ---------------------------------------------------------------------------------- the session


def note(kind: str, pitch: int, velocity: int = 90, channel: int = 0) -> mido.Message:
    return mido.Message(kind, note=pitch, velocity=velocity, channel=channel)


def run_session(event_model: Path, script: list[tuple[float, mido.Message | None]], sink: ListSink,
                listener: object = None, **options: object) -> JamSession:
    """Deliver ``script`` (seconds before now, message) then run until the input closes."""
    defaults = {"rules": PhraseRules(gap=0.2, max_call=3.0), "min_answer": 0.2, "max_answer": 0.4,
                "end_on_close": True, "max_seconds": 30.0}
    start = RealClock().now() - max(t for t, _ in script) - 0.01
    jam = JamSession(voice_of(event_model), Output(sink, "test"), JamOptions(**{**defaults, **options}), origin=start,
                     listener=listener)
    for t, msg in script:
        jam.deliver(start + t, msg)
    jam.inputs = []
    jam.run([_Closing()])
    return jam


class _Closing:
    """A stand-in input that is already done (the script was delivered before run)."""

    kind = "socket"
    done = threading.Event()

    def __init__(self) -> None:
        from genrnn.playback.inputs import InputCounts

        self.counts = InputCounts(sysex=2, clock=500)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


def phrase(at: float, pitches: list[int], channel: int = 0, step: float = 0.1) -> list[tuple[float, mido.Message]]:
    out = []
    for i, p in enumerate(pitches):
        out += [(at + i * step, note("note_on", p, channel=channel)), (at + i * step + step / 2, note("note_off", p, channel=channel))]
    return out


def test_a_session_answers_each_phrase_and_saves_both_parts(event_model: Path, tmp_path: Path) -> None:
    script = phrase(0.0, [60, 62, 64, 65]) + phrase(1.0, [67, 65, 64], channel=3)
    script += [(1.5, note("note_off", 30))]  # never struck
    script += [(2.0, note("note_on", 72)), (2.05, None)]  # the input closes with a key down
    sink = ListSink()
    jam = run_session(event_model, script, sink)
    s = jam.stats
    assert s.phrases == 3 and s.answers == 3 and s.output_error is None and s.ended == "input ended"
    assert s.call_notes == 8 and s.channels == {0, 3}
    assert s.bad["note-offs without note-on"] == 1 and s.bad["notes on another channel"] == 3
    assert s.bad["input closed mid-phrase"] == 1 and s.bad["sysex messages"] == 2 and s.bad["clock messages"] == 500
    assert sink.ons() == s.answer_notes > 0 and sink.hanging() == 0 and sink.closed
    assert len(s.latencies) == 3 and all(x >= 0 for x in s.latencies)
    path = jam.save(tmp_path / "session.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    by_name = {inst.name: len(inst.notes) for inst in pm.instruments}
    assert by_name["call: Acoustic Grand Piano"] == 8
    assert by_name["answer: Acoustic Grand Piano"] == sink.ons()


def test_a_storm_is_recorded_but_not_all_fed(event_model: Path) -> None:
    script = []
    for i in range(1000):  # 1,000 notes in one second
        script += [(i / 1000, note("note_on", 40 + i % 40)), (i / 1000 + 0.0005, note("note_off", 40 + i % 40))]
    script.append((1.1, None))
    jam = run_session(event_model, script, ListSink(), max_notes_per_second=60.0)
    assert jam.stats.call_notes == 1000
    assert 900 <= jam.stats.bad["storm notes not fed"] < 1000
    assert len(jam.sequences()[0].notes) == 1000
    assert jam.stats.answers >= 1


def test_controllers_steer_temperature_top_p_and_mode(event_model: Path) -> None:
    script = [(0.0, mido.Message("control_change", control=1, value=127)),
              (0.01, mido.Message("control_change", control=74, value=0)),
              (0.02, mido.Message("control_change", control=80, value=127))]
    script += phrase(0.1, [60, 62, 64, 65, 67])
    script.append((1.0, None))
    sink = ListSink()
    jam = run_session(event_model, script, sink)
    assert jam.voice.settings.temperature == pytest.approx(2.0) and jam.voice.settings.top_p == pytest.approx(0.05)
    assert jam.mode == "accompany" and jam.stats.mode_switches == 1
    assert jam.stats.accompany_calls == 5 and jam.stats.answers == 0
    assert sink.hanging() == 0


def test_a_vanished_output_ends_the_session_with_one_reason_and_keeps_the_notes(event_model: Path, tmp_path: Path) -> None:
    script = phrase(0.0, [60, 62, 64]) + phrase(0.6, [60, 62]) + [(1.0, None)]
    jam = run_session(event_model, script, ListSink(fail_after=3), min_answer=1.0, max_answer=1.0)
    assert jam.stats.output_error and "test" in jam.stats.output_error and "Broken pipe" in jam.stats.output_error
    assert jam.stats.ended == "output failed"
    pm = pretty_midi.PrettyMIDI(str(jam.save(tmp_path / "kept.mid")))
    assert {i.name: len(i.notes) for i in pm.instruments}["call: Acoustic Grand Piano"] >= 3


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="--mode"):
        JamOptions(mode="duet")
    with pytest.raises(ConfigError, match="own CC"):
        JamControls(temperature_cc=1, top_p_cc=1)
    with pytest.raises(ConfigError, match="answer length"):
        JamOptions(min_answer=5, max_answer=2)


def test_a_model_with_instruments_hears_the_call_as_its_program_and_answers_in_another(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model
    from genrnn.tokenizers.midi_events import INSTRUMENT

    torch.manual_seed(0)
    tok = MidiEventTokenizer(instruments="programs")
    path = save_model(tmp_path / "band.safetensors",
                      RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1)), tok, {})
    voice = voice_of(path)
    voice.hear(0.0, 40, 90, program=33)  # a bass
    assert voice.slot == tok.instrument_id(33) - INSTRUMENT
    voice.hear(0.3, 40, 0, program=33)
    events = list(voice.answer(1.0, 1.0, program=40))  # a violin answers
    assert events and {program for _, _, _, program, _ in events} == {40}
    voice.finish_answer(2.0)
    assert not voice.sounding


def test_call_and_answer_parts_are_separate_named_tracks(tmp_path: Path) -> None:
    from genrnn.music.midi_io import write_midi_parts
    from genrnn.music.notes import Note, NoteSequence

    call = NoteSequence([Note(60, 90, 0.0, 0.5), Note(62, 90, 0.5, 1.0)])
    answer = NoteSequence([Note(60, 80, 1.2, 1.6), Note(40, 80, 1.2, 2.0, program=33)])
    path = write_midi_parts([("call", call), ("answer", answer), ("silence", NoteSequence())], tmp_path / "s.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    got = sorted((i.name, i.program, len(i.notes)) for i in pm.instruments)
    assert got == [("answer: Acoustic Grand Piano", 0, 1), ("answer: Electric Bass (finger)", 33, 1),
                   ("call: Acoustic Grand Piano", 0, 2)]
    assert "silence" in [t.name for t in mido.MidiFile(path).tracks]


def test_a_listener_hears_the_call_and_the_answer_as_they_happen(event_model: Path) -> None:
    heard: list[tuple[str, float, str]] = []
    script = phrase(0.0, [60, 62, 64]) + [(0.5, None)]
    sink = ListSink()
    run_session(event_model, script, sink, listener=lambda part, t, msg: heard.append((part, t, msg.type)))
    calls = [h for h in heard if h[0] == "call"]
    answers = [h for h in heard if h[0] == "answer"]
    assert [kind for _, _, kind in calls] == ["note_on", "note_off"] * 3
    assert calls[0][1] == pytest.approx(0.0, abs=1e-6)
    assert len(answers) == len(sink.sent) and min(t for _, t, _ in answers) > calls[-1][1]


def test_strikes_sharing_a_time_stamp_are_all_kept_in_the_saved_session(tmp_path: Path) -> None:
    from genrnn.music.midi_io import write_midi_parts
    from genrnn.playback.jam import NoteRecorder

    rec = NoteRecorder(100.0)
    for channel in (0, 0, 1, 0, 2):  # one socket read: five strikes of one pitch at one time
        rec.message(100.5, note("note_on", 60, channel=channel))
        rec.message(100.5, note("note_off", 60, channel=channel))
    rec.close_all(101.0)
    assert len(rec.notes) == 5 and len({n.start for n in rec.notes}) == 5
    pm = pretty_midi.PrettyMIDI(str(write_midi_parts([("call", rec.sequence())], tmp_path / "r.mid")))
    assert sum(len(i.notes) for i in pm.instruments) == 5


def test_an_answer_instrument_the_model_never_heard_is_refused_before_the_jam(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from genrnn.errors import ConfigError
    from genrnn.models.rnn import RNNLanguageModel
    from genrnn.models.weights import save_model

    torch.manual_seed(0)
    tok = MidiEventTokenizer(instruments="programs", played=[40, 41, 42])  # a string quartet's model
    path = save_model(tmp_path / "quartet.safetensors",
                      RNNLanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed=8, hidden=16, layers=1)), tok, {})
    model = session.load_model(path)
    settings = SampleConfig(temperature=1.0, top_p=1.0, seed=1)
    assert session.open_jam(model, settings, program=42) is not None  # a cello answers
    with pytest.raises(ConfigError, match="never heard them; it plays"):
        session.open_jam(model, settings, program=0)  # a piano: refused now, not at the first answer


def test_the_model_cannot_end_the_jam_even_before_its_first_answer(event_model: Path) -> None:
    from genrnn.tokenizers.midi_events import END

    voice = voice_of(event_model)
    voice.hear(0.0, 60, 90)
    assert voice.stream.grammars[0].mask(voice.settings)[END]  # accompaniment draws never END
