"""``genrnn sample``: stream from a checkpoint to stdout, or write N samples to files."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genrnn.cli import copycheck
from genrnn.cli._common import add_device_args, err, out_dir_arg, read_text_file
from genrnn.config import CONDITION_GUIDANCE, SampleConfig, sample_config, sampling_defaults
from genrnn.errors import ConfigError
from genrnn.music.notes import MIDI_SUFFIXES

DEFAULT_LENGTH = 1000

if TYPE_CHECKING:
    from genrnn import session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate text or music from a checkpoint",
                       description="Generate from a checkpoint. Text streams to stdout as it is "
                                   "made; with --out each of --num samples is a file.")
    p.add_argument("checkpoint", help="a .safetensors checkpoint or a run folder")
    p.add_argument("--prime", help="primer text fed before sampling")
    p.add_argument("--primer", help="primer file (.txt or .abc for text models)")
    p.add_argument("--length", type=int, default=None, help=f"tokens to generate (default {DEFAULT_LENGTH})")
    events, text = sampling_defaults("midi_events"), sampling_defaults("text")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"0 = argmax (default {events['temperature']:g} for MIDI-event models, else {text['temperature']:g})")
    p.add_argument("--top-k", type=int, default=0, help="keep the K most likely tokens (0 = off)")
    p.add_argument("--top-p", type=float, default=None,
                   help=f"nucleus sampling mass in (0, 1] (1 = off; default {events['top_p']:g} for MIDI-event "
                        f"models, where it narrows the choice of pitch only and timing is never cut, "
                        f"else {text['top_p']:g})")
    p.add_argument("--seed", type=int, default=None, help="same seed, same output")
    p.add_argument("--condition", action="append", metavar="LABEL",
                   help="generate from a label the model was trained with (--conditioned): "
                        "mode=minor, key=A, file=NAME; repeat for several")
    p.add_argument("--guidance", type=float, default=None, metavar="W",
                   help="classifier-free guidance toward the piece's labels, logits u + W·(c − u) "
                        f"(1 = off; default {CONDITION_GUIDANCE:g} with --condition, else 1)")
    p.add_argument("--num", type=int, default=1, help="number of samples")
    p.add_argument("--out", help="folder to write one file per sample")
    m = p.add_argument_group("music", "MIDI-event and ABC models (--primer FILE.mid for event models)")
    m.add_argument("--primer-seconds", type=float, default=4.0, metavar="S",
                   help="use the first S seconds of a .mid primer (default 4)")
    m.add_argument("--seconds", type=float, default=30.0, metavar="S",
                   help="seconds of music to generate after the primer, at most (default 30)")
    m.add_argument("--until-end", action="store_true",
                   help="let the model end a piece before --seconds (default: run to --seconds)")
    m.add_argument("--max-note-seconds", type=float, default=4.0, metavar="S",
                   help="event models: release a note held this long (0 = off; default 4)")
    m.add_argument("--max-polyphony", type=int, default=0, metavar="N",
                   help="event models: at most N notes of one instrument at once (0 = no limit)")
    m.add_argument("--voice-hold", type=float, default=None, metavar="NATS",
                   help="event models with a voices label: nats taken off moving time on while a voice "
                        f"is silent (0 = off; default {events['voice_hold']:g})")
    m.add_argument("--no-tempo-lock", dest="tempo_lock", action="store_false",
                   help="event models of a quantised corpus: let a piece leave the tick grid it started on "
                        "(default: it keeps it, as the training pieces do)")
    m.add_argument("--instruments", metavar="LIST",
                   help="event models with instruments: the ensemble, e.g. piano,bass,drums (GM families, "
                        "drums, program names such as violin, or numbers); only these play, and a model "
                        "trained with instrument labels is given them")
    m.add_argument("--musicxml", action="store_true", help="also write each sample as MusicXML")
    m.add_argument("--play", metavar="PORT", help="play each sample live to a MIDI port as it is made "
                                                 "(see `genrnn ports`)")
    m.add_argument("--wav", action="store_true", help="also render each sample to .wav (built-in synth)")
    m.add_argument("--soundfont", help="SoundFont for --wav / --play synth")
    m.add_argument("--best-of", type=int, default=1, metavar="N",
                   help="MIDI-event models: draw N pieces for each sample and keep the one the critic "
                        "rates most real (default 1: no reranking)")
    m.add_argument("--critic", metavar="FILE",
                   help="the critic that reranks for --best-of: a feature critic (default: the model's own, "
                        "NAME.critic.safetensors beside NAME.safetensors) or a neural critic "
                        "(classify train --label real's classifier.safetensors, which loads PyTorch)")
    copycheck.add_sample_args(p.add_argument_group("copy check", "text and music models alike"))
    add_device_args(p)
    p.set_defaults(func=run)


def _check_text_args(model: session.Model, args: argparse.Namespace) -> None:
    """Music-only options and MIDI primers are one clear line for a text model."""
    if args.primer and Path(args.primer).suffix.lower() in MIDI_SUFFIXES:
        raise ConfigError(f"--primer {args.primer}: a MIDI primer needs a MIDI-event model; "
                          f"{model.path.name} is a {model.kind} model (give a text or .abc file)")
    for flag, given in (("--musicxml", args.musicxml), ("--play", args.play), ("--wav", args.wav),
                        ("--best-of", args.best_of != 1), ("--critic", args.critic),
                        ("--voice-hold", args.voice_hold is not None), ("--no-tempo-lock", not args.tempo_lock)):
        if given:
            raise ConfigError(f"{flag}: {model.path.name} is a {model.kind} model; {flag} is for music models")


def _primer_ids(model: session.Model, args: argparse.Namespace) -> list[int] | None:
    from genrnn import session

    text = args.prime
    if args.primer:
        text = (text or "") + read_text_file(args.primer, "--primer")
    ids = session.condition_ids(model, args.condition or []) + (model.encode_text(text) if text else [])
    return ids or None


def run(args: argparse.Namespace) -> int:
    from genrnn import session  # no PyTorch yet: an LSTM on the CPU streams without it

    instruments = [n for n in (args.instruments or "").split(",") if n.strip()]
    if args.guidance is None:
        args.guidance = CONDITION_GUIDANCE if args.condition or instruments else 1.0

    def settings_for(kind: str) -> SampleConfig:
        """The user's settings; temperature and top-p not given take the kind's defaults."""
        return sample_config(kind, args.temperature, args.top_p, top_k=args.top_k, seed=args.seed,
                             max_note_seconds=args.max_note_seconds, max_polyphony=args.max_polyphony,
                             guidance=args.guidance, voice_hold=args.voice_hold, instruments=tuple(instruments),
                             tempo_lock=args.tempo_lock)

    settings_for("text")  # checks every value before a model is read
    if args.num < 1:
        raise ConfigError(f"--num {args.num}: expected at least 1")
    out = out_dir_arg(args.out)
    model = session.load_model(args.checkpoint, device=args.device or "cpu")
    settings = settings_for(model.kind)
    if instruments and model.kind != "midi_events":
        raise ConfigError(f"--instruments: {model.path.name} is a {model.kind} model; the ensemble is for "
                          f"MIDI-event models with instruments")
    args.copy_check = None
    if args.check_copies is not None:  # the training data is read before the first sample is made
        checker = copycheck.open_checker(model, args.train_data, args.cache)
        args.copy_check = copycheck.CopyCheck(checker, copycheck.limit_of(checker, args.check_copies))
    elif args.train_data:
        raise ConfigError("--train-data is the copy check's: give it with --check-copies")
    if session.is_music_model(model):
        from genrnn.cli import sample_music

        code = sample_music.run(model, settings, args, out)
    else:
        code = _sample_text(model, settings, args, out)
    if args.copy_check is not None:
        args.copy_check.done()
    return code


def _sample_text(model: Any, settings: SampleConfig, args: argparse.Namespace, out: Path | None) -> int:
    _check_text_args(model, args)
    primer = _primer_ids(model, args)
    length = args.length or DEFAULT_LENGTH
    if out is None:
        _stream_stdout(model, settings, primer, length, args)
    else:
        _write_files(model, settings, primer, length, args, out)
    return 0



def _stream_stdout(model: session.Model, settings: SampleConfig, primer: list[int] | None, length: int,
                   args: argparse.Namespace) -> int:
    from genrnn import session

    write, flush = sys.stdout.write, sys.stdout.flush
    names = model.tokenizer.chars
    for n in range(args.num):
        seed = None if settings.seed is None else settings.seed + n
        stream = session.open_stream(model, replace(settings, seed=seed), primer)
        if args.num > 1:
            write(f"--- sample {n + 1} (seed {stream.seed}) ---\n")
        if args.prime or args.primer:
            write(model.decode(primer))
        tokens = []
        for _, step in zip(range(length), stream, strict=False):
            write(names[step.token])
            flush()
            tokens.append(step.token)
        write("\n")
        flush()
        copycheck.check(tokens, args)
    return 0


def _write_files(model: session.Model, settings: SampleConfig, primer: list[int] | None, length: int,
                 args: argparse.Namespace, out: Path) -> int:
    from genrnn import session

    stream = session.open_stream(model, settings, primer, batch=args.num)
    ids = stream.take(length)
    head = model.decode(primer) if primer else ""
    for n, seq in enumerate(ids, 1):
        path = out / f"sample_{n:03d}.txt"
        path.write_text(head + model.decode(seq), encoding="utf-8")
        err.print(f"wrote {path}")
        copycheck.check(seq, args)
    err.print(f"seed {stream.seed}")
    return 0
