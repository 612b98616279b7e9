"""``genrnn sample`` for music models: event models write .mid, ABC models write .abc + .mid.

Event models continue the first ``--primer-seconds`` of a ``--primer FILE.mid`` for at most
``--seconds`` of musical time; each sample is one file, the primer included and marked by a
``primer end`` marker. ABC models write whole tunes; tunes music21 cannot parse are listed,
one line each, with a count. Without ``--out`` files go to the current folder.

``model`` is a ``session.Model`` or, on the CPU, the torch-free ``light.LightModel`` with its
``open_stream``: the model-facing work is generation/pieces.py either way, and nothing here
imports PyTorch unless ``--play`` needs the PyTorch stream.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genrnn.cli._common import err, read_text_file
from genrnn.config import SampleConfig
from genrnn.errors import ConfigError
from genrnn.generation import music, pieces
from genrnn.generation.conditions import condition_labels
from genrnn.music.notes import MIDI_SUFFIXES

DEFAULT_TUNE_CHARS = 1500


def light_ok(model: Any, args: argparse.Namespace) -> bool:
    """Whether the torch-free sampler can do all that ``args`` ask of this music model."""
    if model.kind == "midi_events":
        return not args.play
    return model.kind == "abc"


def run(model: Any, settings: SampleConfig, args: argparse.Namespace, out: Path | None,
        open_stream: pieces.OpenStream) -> int:
    if args.seconds <= 0:
        raise ConfigError(f"--seconds {args.seconds:g}: expected a positive number of seconds")
    paths = _sample_paths(out, args.num)
    if model.kind == "abc":
        return _tunes(model, settings, args, paths, open_stream)
    return _events(model, settings, args, paths, open_stream)


def _sample_paths(out: Path | None, num: int) -> list[Path]:
    """out/sample_001 ...; in the current folder, the first numbers not taken yet."""
    if out is not None:
        return [out / f"sample_{n:03d}" for n in range(1, num + 1)]
    taken = {p.stem for p in Path.cwd().glob("sample_*.*")}
    names: list[Path] = []
    n = 1
    while len(names) < num:
        if f"sample_{n:03d}" not in taken:
            names.append(Path.cwd() / f"sample_{n:03d}")
        n += 1
    return names


def _seeded(settings: SampleConfig, n: int) -> SampleConfig:
    seed = None if settings.seed is None else settings.seed + n
    return SampleConfig(**{**settings.__dict__, "seed": seed})


# ---------------------------------------------------------------- event models


def _events(model: Any, settings: SampleConfig, args: argparse.Namespace, paths: list[Path],
            open_stream: pieces.OpenStream) -> int:
    if args.prime:
        raise ConfigError(f"--prime: {model.path.name} is a MIDI-event model; give --primer FILE.mid")
    labels = condition_labels(model, args.condition or [])
    if args.primer:
        primer = pieces.read_primer(model, args.primer, args.primer_seconds, labels)
        err.print(f"primer: {len(primer.sequence.notes)} notes, {primer.end_time:.2f} s of {args.primer}")
    else:
        primer = music.empty_primer(model.tokenizer, labels) if labels else None
    if labels:
        err.print(f"conditioned on {', '.join(labels)}")
    matched = 0
    for n, path in enumerate(paths):
        cfg = _seeded(settings, n)
        sample = _play(model, cfg, primer, args) if args.play else pieces.sample_piece(
            model, open_stream, cfg, primer, args.seconds, args.length, until_end=args.until_end)
        written = pieces.save_piece(sample, path, musicxml=args.musicxml)
        if args.wav:
            written.append(_render(sample.sequence, path, args))
        how = "ended by the model" if sample.ended else f"cut at {args.seconds:g} s"
        note = f"; the model chose {', '.join(sample.drawn_labels)}" if sample.drawn_labels else ""
        if labels:
            ok, analysed = _matches(sample.sequence, labels)
            matched += ok
            note += f"; analysed as {analysed} ({'matches' if ok else 'does not match'})"
        err.print(f"wrote {', '.join(str(p) for p in written)}: {len(sample.sequence.notes)} notes, "
                  f"{sample.generated_seconds:.1f} s generated ({how}), seed {sample.seed}{note}")
    if labels and len(paths) > 1:
        err.print(f"{matched} of {len(paths)} samples match {', '.join(labels)} when analysed")
    return 0


def _matches(seq: Any, labels: list[str]) -> tuple[bool, str]:
    """Whether music21's key profiles find the asked mode/key in a generated piece."""
    from genrnn.errors import MidiConversionError
    from genrnn.music.notation import analyse_key

    try:
        key = analyse_key(seq)
    except MidiConversionError:
        return False, "no notes"
    found = key.labels
    wanted = dict(lb.split("=", 1) for lb in labels if lb.split("=", 1)[0] in found)  # not rests=…
    if wanted.get("mode") == "minor" and not wanted.get("key", "m").endswith("m"):
        found["key"] = key.tonic  # a model made before keys named their mode: key=A is the tonic
    return all(found[kind] == value for kind, value in wanted.items()), f"{key.tonic} {key.mode}"


def _play(model: Any, cfg: SampleConfig, primer: Any, args: argparse.Namespace) -> Any:
    """Generate while playing to ``--play PORT``; the tokens played are the sample saved."""
    import itertools

    from genrnn import session
    from genrnn.playback.events import sequence_events
    from genrnn.playback.player import play_stream, stop_on_signals
    from genrnn.playback.scheduler import Scheduler

    stream = session.open_stream(model, cfg, primer.ids if primer else None)
    start = primer.end_time if primer else 0.0
    tokens: list[int] = []
    live = session.music_messages(stream, args.seconds, start, record=tokens, until_end=args.until_end)
    head = sequence_events(primer.sequence) if primer else []
    scheduler = Scheduler()
    with stop_on_signals(scheduler):
        stats = play_stream(itertools.chain(head, live), args.play, soundfont=args.soundfont,
                            scheduler=scheduler)
    err.print(f"played to {args.play}: {stats.notes} notes, timing p99 {stats.late_p99 * 1e3:.2f} ms")
    return session.finish_music_sample(model, primer, tokens, args.seconds, stream.seed)


def _render(seq: Any, path: Path, args: argparse.Namespace) -> Path:
    from genrnn.playback.synth import render_wav

    return render_wav(seq, path.with_suffix(".wav"), soundfont=args.soundfont).path


# ---------------------------------------------------------------- ABC models


def _tunes(model: Any, settings: SampleConfig, args: argparse.Namespace, paths: list[Path],
           open_stream: pieces.OpenStream) -> int:
    if args.play or args.musicxml:
        raise ConfigError("--play and --musicxml are for MIDI-event models; an ABC model writes .abc and .mid")
    condition_labels(model, args.condition or [])  # ABC models have none: one clear error
    text = args.prime or ""
    if args.primer:
        if Path(args.primer).suffix.lower() in MIDI_SUFFIXES:
            raise ConfigError(f"--primer {args.primer}: a MIDI primer needs a MIDI-event model; "
                              f"{model.path.name} is an ABC model (give a text or .abc file)")
        text += read_text_file(args.primer, "--primer")
    bad = 0
    for n, path in enumerate(paths):
        tune = pieces.write_tune(model, open_stream, _seeded(settings, n), text or None,
                                 args.length or DEFAULT_TUNE_CHARS)
        abc = pieces.save_tune_text(tune, path)  # the tune is out before music21 has loaded
        cut = "" if tune.ended else f" (cut at {args.length or DEFAULT_TUNE_CHARS} chars)"
        err.print(f"wrote {abc}{cut}, seed {tune.seed}")
        pieces.check_tune(tune, path.name)
        if tune.error is not None:
            bad += 1
            err.print(f"{abc}: does not parse: {tune.error}")
            continue
        written = pieces.save_tune(tune, path)[1:]
        if args.wav:
            written.append(_render(tune.sequence, path, args))
        err.print(f"wrote {', '.join(str(p) for p in written)}")
    err.print(f"{len(paths) - bad} of {len(paths)} tunes parse with music21"
              + (f"; {bad} do not (listed above, .abc kept, no .mid)" if bad else ""))
    return 0
