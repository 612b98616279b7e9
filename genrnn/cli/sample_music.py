"""``genrnn sample`` for music models: event models write .mid, ABC models write .abc + .mid.

Event models continue the first ``--primer-seconds`` of a ``--primer FILE.mid`` for at most
``--seconds`` of musical time; each sample is one file, the primer included and marked by a
``primer end`` marker. ABC models write whole tunes; tunes music21 cannot parse are listed,
one line each, with a count. Without ``--out`` files go to the current folder.

Everything model-facing goes through ``genrnn.session``; an LSTM on the CPU streams on the
NumPy back-end, so nothing here imports PyTorch.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from genrnn import session
from genrnn.cli import copycheck
from genrnn.cli._common import err, read_text_file
from genrnn.config import SampleConfig, check_best_of
from genrnn.errors import ConfigError
from genrnn.music.instruments import parse_instrument
from genrnn.music.metrics import instrument_group
from genrnn.music.notation import matches_labels
from genrnn.music.notes import MIDI_SUFFIXES

DEFAULT_TUNE_CHARS = 1500


def run(model: session.Model, settings: SampleConfig, args: argparse.Namespace, out: Path | None) -> int:
    if args.seconds <= 0:
        raise ConfigError(f"--seconds {args.seconds:g}: expected a positive number of seconds")
    paths = _sample_paths(out, args.num)
    if model.kind == "abc":
        return _tunes(model, settings, args, paths)
    return _events(model, settings, args, paths)


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
    return replace(settings, seed=None if settings.seed is None else settings.seed + n)


# ---------------------------------------------------------------- event models


def _events(model: session.Model, settings: SampleConfig, args: argparse.Namespace, paths: list[Path]) -> int:
    if args.prime:
        raise ConfigError(f"--prime: {model.path.name} is a MIDI-event model; give --primer FILE.mid")
    asked = list(settings.instruments)
    labels = session.condition_labels(model, [*(args.condition or []), *session.instrument_conditions(model, asked)])
    if args.primer:
        primer = session.read_music_primer(model, args.primer, args.primer_seconds, labels)
        err.print(f"primer: {len(primer.sequence.notes)} notes, {primer.end_time:.2f} s of {args.primer}")
    else:
        primer = session.label_primer(model, labels) if labels else None
    if labels:
        err.print(f"conditioned on {', '.join(labels)}")
    critic = _critic(model, args)
    matched = exact = 0
    for n, path in enumerate(paths):
        if critic is not None:  # --best-of N: sample n is the best of seeds seed + n·N … seed + n·N + N-1
            sample = _best_of(model, _seeded(settings, n * args.best_of), primer, critic, args)
        else:
            cfg = _seeded(settings, n)
            performance = session.perform(model, cfg, primer, args.seconds, args.length, until_end=args.until_end)
            sample = _play(performance, args) if args.play else performance.run().sample()
        written = session.save_piece(sample, path, musicxml=args.musicxml)
        if args.wav:
            written.append(_render(sample.sequence, path, args))
        how = "ended by the model" if sample.ended else f"cut at {args.seconds:g} s"
        note = f"; the model chose {', '.join(sample.drawn_labels)}" if sample.drawn_labels else ""
        if asked:
            played = {instrument_group(n) for n in sample.sequence.notes}
            ok = played == {parse_instrument(a).group for a in asked}
            exact += ok
            note += f"; plays {', '.join(sorted(played)) or 'nothing'}{' (the set asked)' if ok else ''}"
        if {"mode", "key"} & {lb.split("=", 1)[0] for lb in labels}:
            ok, analysed = matches_labels(sample.sequence, labels)
            matched += ok
            note += f"; analysed as {analysed} ({'matches' if ok else 'does not match'})"
        err.print(f"wrote {', '.join(str(p) for p in written)}: {len(sample.sequence.notes)} notes, "
                  f"{sample.generated_seconds:.1f} s generated ({how}), seed {sample.seed}{note}")
        generated = [note for note in sample.sequence.notes if note.start >= sample.primer_end]
        copycheck.check(replace(sample.sequence, notes=generated), args)  # --check-copies
    keys = [lb for lb in labels if lb.split("=", 1)[0] in ("mode", "key")]
    if keys and len(paths) > 1:
        err.print(f"{matched} of {len(paths)} samples match {', '.join(keys)} when analysed")
    if asked and len(paths) > 1:
        err.print(f"{exact} of {len(paths)} samples play exactly {', '.join(sorted(parse_instrument(a).group for a in asked))}")
    return 0


def _critic(model: session.Model, args: argparse.Namespace) -> Any:
    """The critic for ``--best-of N`` (None for 1): ``--critic FILE`` or the model's own."""
    if check_best_of(args.best_of, "--best-of") == 1:
        if args.critic:
            raise ConfigError("--critic is the reranker of --best-of N: give --best-of 2 or more")
        return None
    critic = session.model_critic(model, args.critic)
    err.print(f"best of {args.best_of}: each sample is the piece {critic.path} rates most real")
    return critic


def _best_of(model: session.Model, settings: SampleConfig, primer: Any, critic: Any, args: argparse.Namespace) -> Any:
    """Draw ``--best-of`` pieces, keep the one the critic rates most real (then play it to
    ``--play``: a piece must be finished before it can be rated)."""
    ranked = session.rerank(model, settings, args.best_of, critic, primer, args.seconds, args.length,
                            until_end=args.until_end)
    others = sorted(s for k, s in enumerate(ranked.scores) if k != ranked.chosen)
    err.print(f"kept seed {ranked.sample.seed}: P(real) {ranked.score:.2f}, the others "
              f"{', '.join(f'{s:.2f}' for s in others)}")
    if args.play:
        _play_sequence(ranked.sample.sequence, args)
    return ranked.sample


def _play_sequence(seq: Any, args: argparse.Namespace) -> None:
    from genrnn.playback.events import sequence_events
    from genrnn.playback.player import play_stream, stop_on_signals
    from genrnn.playback.scheduler import Scheduler

    scheduler = Scheduler()
    with stop_on_signals(scheduler):
        stats = play_stream(iter(sequence_events(seq)), args.play, soundfont=args.soundfont, scheduler=scheduler)
    err.print(f"played to {args.play}: {stats.notes} notes, timing p99 {stats.late_p99 * 1e3:.2f} ms")


def _play(performance: Any, args: argparse.Namespace) -> Any:
    """Generate while playing to ``--play PORT``: the tokens played are the sample saved."""
    import itertools

    from genrnn.playback.events import sequence_events
    from genrnn.playback.player import play_stream, stop_on_signals
    from genrnn.playback.scheduler import Scheduler

    head = sequence_events(performance.primer.sequence)
    scheduler = Scheduler()
    with stop_on_signals(scheduler):
        stats = play_stream(itertools.chain(head, session.performance_messages(performance)), args.play,
                            soundfont=args.soundfont, scheduler=scheduler)
    err.print(f"played to {args.play}: {stats.notes} notes, timing p99 {stats.late_p99 * 1e3:.2f} ms")
    return performance.sample()


def _render(seq: Any, path: Path, args: argparse.Namespace) -> Path:
    from genrnn.playback.synth import render_wav

    return render_wav(seq, path.with_suffix(".wav"), soundfont=args.soundfont).path


# ---------------------------------------------------------------- ABC models


def _tunes(model: session.Model, settings: SampleConfig, args: argparse.Namespace, paths: list[Path]) -> int:
    if args.play or args.musicxml:
        raise ConfigError("--play and --musicxml are for MIDI-event models; an ABC model writes .abc and .mid")
    if args.best_of != 1 or args.critic:
        raise ConfigError(f"--best-of and --critic are for MIDI-event models; {model.path.name} is an ABC model")
    session.condition_labels(model, args.condition or [])  # ABC models have none: one clear error
    text = args.prime or ""
    if args.primer:
        if Path(args.primer).suffix.lower() in MIDI_SUFFIXES:
            raise ConfigError(f"--primer {args.primer}: a MIDI primer needs a MIDI-event model; "
                              f"{model.path.name} is an ABC model (give a text or .abc file)")
        text += read_text_file(args.primer, "--primer")
    bad = 0
    for n, path in enumerate(paths):
        tune = session.write_tune(model, _seeded(settings, n), text or None, args.length or DEFAULT_TUNE_CHARS)
        abc = session.save_tune_text(tune, path)  # the tune is out before music21 has loaded
        cut = "" if tune.ended else f" (cut at {args.length or DEFAULT_TUNE_CHARS} chars)"
        err.print(f"wrote {abc}{cut}, seed {tune.seed}")
        copycheck.check(tune.text[len(text):] if text and tune.text.startswith(text) else tune.text, args)
        session.check_tune(tune, path.name)
        if tune.error is not None:
            bad += 1
            err.print(f"{abc}: does not parse: {tune.error}")
            continue
        written = session.save_tune(tune, path)[1:]
        if args.wav:
            written.append(_render(tune.sequence, path, args))
        err.print(f"wrote {', '.join(str(p) for p in written)}")
    err.print(f"{len(paths) - bad} of {len(paths)} tunes parse with music21"
              + (f"; {bad} do not (listed above, .abc kept, no .mid)" if bad else ""))
    return 0
