"""``genrnn jam CKPT --in PORT --out PORT``: play a phrase, hear the model answer (or play along)."""

from __future__ import annotations

import argparse
from pathlib import Path

from genrnn import session
from genrnn.cli._common import emit_json, err, out
from genrnn.config import sample_config
from genrnn.errors import ConfigError
from genrnn.music.instruments import parse_instrument
from genrnn.playback.inputs import open_input
from genrnn.playback.jam import MODES, JamControls, JamOptions, JamSession
from genrnn.playback.phrases import PhraseRules
from genrnn.playback.player import stop_on_signals
from genrnn.playback.ports import open_output


def cc_number(text: str) -> int | None:
    """A controller or note number 0..127, or none/off."""
    if text.strip().lower() in ("none", "off", "-"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number 0..127 or none") from None
    if not 0 <= value <= 127:
        raise argparse.ArgumentTypeError(f"{value}: expected 0..127 or none")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "jam", help="play a phrase into a MIDI input and hear the model answer (or play along)",
        description="Call and response with an event model: your phrases are fed into the model's "
                    "running stream (its state carried all session); when a phrase ends it answers. "
                    "Ctrl-C ends the session; it is saved with --save.")
    p.add_argument("checkpoint", metavar="CKPT", help="a MIDI-event model (.safetensors or run folder)")
    p.add_argument("--in", dest="input", required=True, metavar="PORT",
                   help="an OS MIDI input (any unique part of its name), virtual:NAME, listen:HOST:PORT "
                        "(mido socket senders) or FILE.mid (played in as if a person played it); see `genrnn ports`")
    p.add_argument("--out", dest="output", required=True, metavar="PORT",
                   help="an output as for `genrnn play --port`: OS port, HOST:PORT, virtual:NAME or synth")
    p.add_argument("--mode", choices=MODES, default="answer",
                   help="answer: reply when a phrase ends (default); accompany: play along note by note")
    p.add_argument("--save", type=Path, metavar="FILE.mid", help="write the session (call and answer tracks) here on exit")
    p.add_argument("--json", action="store_true", help="print the session's figures as one JSON line instead of prose")
    g = p.add_argument_group("end of a phrase")
    g.add_argument("--gap", type=float, default=0.6, metavar="S", help="all keys up and this much silence (default 0.6)")
    g.add_argument("--max-call", type=float, default=8.0, metavar="S", help="a phrase this long is answered at once (default 8)")
    g.add_argument("--trigger-cc", type=cc_number, default=64, metavar="CC",
                   help="pressing this controller ends the phrase (default 64, the sustain pedal; none = off)")
    g.add_argument("--adaptive-gap", action="store_true",
                   help="the gap follows your timing: 2.5 × your median note spacing, 0.2 s .. --gap")
    a = p.add_argument_group("the answer")
    a.add_argument("--min-answer", type=float, default=1.0, metavar="S", help="shortest answer (default 1)")
    a.add_argument("--max-answer", type=float, default=8.0, metavar="S", help="longest answer (default 8)")
    a.add_argument("--answer-scale", type=float, default=1.0, metavar="X", help="answer length = call length × X, clamped")
    a.add_argument("--instrument", default=None, metavar="NAME",
                   help="the answer's instrument: a GM program number or name word (default: the call's)")
    a.add_argument("--no-interrupt", action="store_true", help="let the answer finish when you play over it")
    a.add_argument("--temperature", type=float, default=None, help="start value (the mod wheel changes it)")
    a.add_argument("--top-p", type=float, default=None, help="start value (CC --top-p-cc changes it)")
    a.add_argument("--seed", type=int, default=None, help="same seed and same input, same answers")
    c = p.add_argument_group("MIDI controls")
    c.add_argument("--temperature-cc", type=cc_number, default=1, metavar="CC", help="temperature 0.1–2.0 (default 1, the mod wheel)")
    c.add_argument("--top-p-cc", type=cc_number, default=74, metavar="CC", help="top-p 0.05–1.0 (default 74)")
    c.add_argument("--toggle-cc", type=cc_number, default=80, metavar="CC", help="≥ 64 switches answer/accompany (default 80)")
    c.add_argument("--toggle-note", type=cc_number, default=None, metavar="NOTE", help="this key switches answer/accompany")
    s = p.add_argument_group("session")
    s.add_argument("--seconds", type=float, default=None, metavar="S", help="end the session after S seconds")
    s.add_argument("--end-on-close", action="store_true", help="end when the input closes (a file input always does)")
    s.add_argument("--speed", type=float, default=1.0, metavar="X", help="a FILE.mid input plays in X times as fast")
    s.add_argument("--max-notes-per-second", type=float, default=60.0, metavar="N",
                   help="past this rate the player's notes are recorded but not fed to the model (a storm)")
    p.set_defaults(func=run_jam)


def options_from(args: argparse.Namespace) -> JamOptions:
    program = None
    if args.instrument is not None:
        inst = parse_instrument(args.instrument)
        if inst.program is None:
            raise ConfigError(f"--instrument {args.instrument!r}: name one GM program (a number or a name word), not a family or the drums")
        program = inst.program
    rules = PhraseRules(gap=args.gap, max_call=args.max_call, trigger_cc=args.trigger_cc, adaptive=args.adaptive_gap)
    controls = JamControls(temperature_cc=args.temperature_cc, top_p_cc=args.top_p_cc, toggle_cc=args.toggle_cc,
                           toggle_note=args.toggle_note)
    return JamOptions(mode=args.mode, rules=rules, controls=controls, min_answer=args.min_answer,
                      max_answer=args.max_answer, answer_scale=args.answer_scale, program=program,
                      interrupt=not args.no_interrupt, max_notes_per_second=args.max_notes_per_second,
                      max_seconds=args.seconds, end_on_close=args.end_on_close)


def run_jam(args: argparse.Namespace) -> int:
    options = options_from(args)
    model = session.load_model(args.checkpoint)
    settings = sample_config(model.kind, args.temperature, args.top_p, seed=args.seed)
    voice = session.open_jam(model, settings, options.program)
    sessions: list[JamSession] = []  # the input is opened (and its name checked) before the output
    inp = open_input(args.input, lambda t, msg: sessions[0].deliver(t, msg), speed=args.speed)
    try:
        jam = JamSession(voice, open_output(args.output), options)
    except BaseException:
        inp.close()
        raise
    sessions.append(jam)
    err.print(f"jam: {model.path.name} listening on {inp.name}, answering to {args.output} ({options.mode} mode; "
              f"Ctrl-C ends)")
    for line in options.controls.describe():
        err.print(f"  {line}")
    try:
        with stop_on_signals(jam) as caught:  # type: ignore[arg-type]  # anything with stop()
            stats = jam.run([inp])
    finally:  # an error or a second Ctrl-C: what was played is saved all the same
        saved = jam.save(args.save) if args.save else None
    summary = stats.summary()
    if summary["output_error"]:
        err.print(f"genrnn jam: the output failed: {summary['output_error']}; the session ended")
    if args.json:
        emit_json({**summary, "saved": None if saved is None else str(saved), "signal": caught[0] if caught else None})
    else:
        report(summary, caught, saved)
    return 1 if stats.output_error else 0


def report(summary: dict, caught: list[str], saved: Path | None) -> None:
    how = f"stopped ({caught[0]})" if caught else summary["ended"] or "ended"
    out.print(f"{how}: {summary['phrases']} phrases, {summary['answers']} answers "
              f"({summary['interrupted']} cut short), {summary['call_notes']} notes in, {summary['answer_notes']} out"
              + ("" if summary["output_error"] else ", all notes released"))
    if summary["latency_p50_ms"] is not None:
        out.print(f"phrase end → first answer note: p50 {summary['latency_p50_ms']:.1f} ms, "
                  f"p95 {summary['latency_p95_ms']:.1f} ms (the gap excluded); timing p99 {summary['jitter_p99_ms']:.2f} ms")
    if summary["accompany_p95_ms"] is not None:
        out.print(f"accompany: note in → model's events out p95 {summary['accompany_p95_ms']:.1f} ms")
    if summary["bad"]:
        out.print("survived: " + ", ".join(f"{n} {what}" for what, n in sorted(summary["bad"].items())))
    if saved is not None:
        out.print(f"saved {saved} (tracks: call, answer)")
