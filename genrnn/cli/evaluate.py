"""``genrnn eval`` and ``genrnn info``."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from genrnn.cli import copycheck
from genrnn.cli._common import CACHE_HELP, add_device_args, emit_json, err, out
from genrnn.config import sample_config
from genrnn.errors import ConfigError

if TYPE_CHECKING:
    from genrnn import session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="loss of a checkpoint on a text file or a corpus recipe's held-out "
                                    "split; music metrics of samples against real pieces")
    p.add_argument("checkpoint")
    p.add_argument("--text", help="a UTF-8 text file or folder")
    p.add_argument("--corpus", metavar="RECIPE", help="a corpus recipe: loss on its held-out split")
    p.add_argument("--samples", type=int, default=0, metavar="N",
                   help="with --corpus: compare N sampled pieces with the held-out real ones")
    p.add_argument("--seconds", type=float, default=None, metavar="S",
                   help="with --samples: length of each sample (default: the median held-out piece's)")
    p.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature (default: the model kind's, as `genrnn sample` uses)")
    p.add_argument("--top-p", type=float, default=None,
                   help="nucleus sampling (default: the model kind's, as `genrnn sample` uses)")
    p.add_argument("--labels", choices=("drawn", "held-out"), default="drawn",
                   help="with --samples, for a conditioned event model: the model draws each sample's "
                        "labels (default), or sample n gets held-out piece n's labels, so both sides "
                        "hold the same mix of keys, modes, rests and voices")
    p.add_argument("--seed", type=int, default=0, help="sample n uses seed + n (default 0)")
    p.add_argument("--cache", help=CACHE_HELP)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--length", type=int, default=1000, metavar="N",
                   help="with --samples, for a text model: characters per sample (default 1000)")
    copycheck.add_eval_args(p)
    p.add_argument("--html", metavar="FILE",
                   help="with --samples: also write one offline HTML page: piano rolls of real and generated "
                        "excerpts, the metric table, the copy check and, with --critic, the critic's figures")
    p.add_argument("--critic", metavar="RUN_DIR", action="append",
                   help="with --html: a `genrnn classify train --label real` run folder (or one critic file, "
                        "such as checkpoints/bach.critic.safetensors) whose held-out figures the page shows "
                        "(repeat for several)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    add_device_args(p)
    p.set_defaults(func=run_eval)

    q = sub.add_parser("info", help="config, vocabulary, parameters and training record of a checkpoint")
    q.add_argument("checkpoint")
    q.add_argument("--json", action="store_true", help="print one JSON line")
    q.set_defaults(func=run_info)


def run_eval(args: argparse.Namespace) -> int:
    from genrnn import session
    if (args.text is None) == (args.corpus is None):
        raise ConfigError("give exactly one of --text FILE|FOLDER or --corpus RECIPE.toml")
    if args.samples < 0:
        raise ConfigError(f"--samples {args.samples}: expected N ≥ 0")
    if (args.html or args.critic) and not args.samples:
        raise ConfigError("--html and --critic show sampled pieces: give --samples N")
    if args.critic and not args.html:
        raise ConfigError("--critic RUN_DIR: its figures go on the page; give --html FILE")
    model = session.load_model(args.checkpoint, device=args.device or "cpu")
    if model.kind == "text":
        return _eval_text(model, args)
    if args.corpus is not None:
        return _eval_corpus(model, args)
    if args.samples:
        raise ConfigError(f"--samples {args.samples}: a {model.kind} model compares samples with a recipe's "
                          f"held-out pieces: give --corpus RECIPE")
    corpus = session.prepare_corpus(text=args.text, tokenizer=model.tokenizer)
    data = np.load(corpus.meta["cache"], mmap_mode="r")
    nats = session.evaluate_model(model, data, seq_len=args.seq_len, device=args.device or "cpu")
    row = {"file": args.text, "tokens": int(len(data)), "nats_per_token": round(nats, 5),
           "bits_per_token": round(nats / math.log(2), 5)}
    if args.json:
        emit_json(row)
    else:
        out.print(f"{args.text}: {row['nats_per_token']:.4f} nats/char, {row['bits_per_token']:.4f} bits/char "
                  f"over {row['tokens']:,} chars")
    return 0


def _eval_corpus(model: session.Model, args: argparse.Namespace) -> int:
    from genrnn import session
    settings = sample_config(model.kind, args.temperature, args.top_p, seed=args.seed)
    report = session.evaluate_music(model, args.corpus, args.samples, settings, args.seconds,
                                    cache_dir=args.cache, device=args.device or "cpu",
                                    held_out_labels=args.labels == "held-out", keep_pieces=True)
    pieces = report.pop("pieces", None)
    if args.samples:
        report["sampling"] = {"temperature": settings.temperature, "top_p": settings.top_p, "seed": settings.seed}
    if pieces is not None:
        report["copies"] = _music_copies(model, args, pieces, report.get("seconds_per_sample", 0.0))
    if args.html:
        _write_html(model, args, report, _tune_rolls(pieces) if model.kind == "abc" else pieces)
    if args.json:
        emit_json(_rounded(report))
        return 0
    unit = "event" if model.kind == "midi_events" else "char"
    out.print(f"{report['recipe']} held-out split: {report['nats_per_token']:.4f} nats/{unit}, "
              f"{report['nats_per_token'] / math.log(2):.4f} bits/{unit} over {report['val_tokens']:,} tokens")
    if "parse_share" in report:
        for line in report["parse_failures"]:
            out.print(f"does not parse: {line}")
        out.print(f"{report['parse_share']:.0%} of {args.samples} sampled tunes parse with music21")
    if "metrics" in report:
        out.print(_metrics_table(report, args.samples))
    if "copies" in report:
        out.print(copycheck.table(report["copies"]))
    return 0


def _music_copies(model: session.Model, args: argparse.Namespace, pieces: dict[str, Any],
                  seconds: float) -> dict[str, Any]:
    """The copy check of eval's samples (and of the held-out real pieces, the reference) against
    the training split: pieces in beats and notes, ABC tunes in characters."""
    from genrnn.analysis.copies import copy_section

    source = args.train_data or args.corpus
    checker = copycheck.open_checker(model, source, args.cache)
    limit = copycheck.limit_of(checker, args.copy_limit)
    if model.kind == "abc":
        generated = [t.text for t in pieces["tunes"]]
        real = pieces["real"]
        return copy_section(checker, generated, real, limit, str(source), f"{len(real)} held-out tunes")
    real = [seq.clipped(seconds) for seq in pieces["real"]]  # cut to the samples' length: equal chances to copy
    return copy_section(checker, pieces["generated"], real, limit, str(source),
                        f"{len(real)} held-out pieces, their first {seconds:g} s")


def _tune_rolls(pieces: dict[str, Any] | None) -> dict[str, Any]:
    """An ABC model's tunes as notes for the page's piano rolls: the generated tunes that
    parse, and as many held-out tunes (parsed with music21; one that does not is left out)."""
    from genrnn.analysis.report import ROLLS
    from genrnn.errors import GenrnnError
    from genrnn.music.notation import abc_to_sequence

    if not pieces:
        return {}
    generated = [t.sequence for t in pieces["tunes"] if t.sequence is not None][:ROLLS]
    real = []
    for n, tune in enumerate(pieces["real"]):
        if len(real) == len(generated):
            break
        try:
            real.append(abc_to_sequence(tune, name=f"held-out tune {n + 1}"))
        except GenrnnError:
            continue
    return {"generated": generated, "real": real}


def _eval_text(model: session.Model, args: argparse.Namespace) -> int:
    """A text model: loss on the file (--text) or on a text recipe's held-out split (--corpus);
    with --samples, N samples of --length characters and their copy check (``_text_copies``)."""
    from genrnn import session

    corpus = session.prepare_corpus(text=args.text, recipe=args.corpus, cache_dir=args.cache,
                                    tokenizer=model.tokenizer)
    if corpus.tokenizer.to_dict() != model.tokenizer.to_dict():
        raise ConfigError(f"{args.corpus}: not a text recipe of the characters {model.path.name} was trained on")
    source = args.text or args.corpus
    data = np.load(corpus.meta["cache"], mmap_mode="r") if args.text else corpus.val
    nats = session.evaluate_model(model, data, seq_len=args.seq_len, device=args.device or "cpu")
    row: dict[str, Any] = {"file": source, "tokens": int(len(data)), "nats_per_token": round(nats, 5),
                           "bits_per_token": round(nats / math.log(2), 5)}
    pieces = _text_copies(model, args, corpus, row) if args.samples else {}
    if args.samples:
        settings = sample_config(model.kind, args.temperature, args.top_p, seed=args.seed)
        row["sampling"] = {"temperature": settings.temperature, "top_p": settings.top_p, "seed": settings.seed,
                           "chars": args.length}
    if args.html:
        _write_html(model, args, {**row, "kind": "text", "samples": args.samples}, pieces)
    if args.json:
        emit_json(_rounded(row))
        return 0
    out.print(f"{source}{'' if args.text else ' held-out split'}: {row['nats_per_token']:.4f} nats/char, "
              f"{row['bits_per_token']:.4f} bits/char over {row['tokens']:,} chars")
    if "copies" in row:
        out.print(copycheck.table(row["copies"]))
    return 0


def _text_copies(model: session.Model, args: argparse.Namespace, corpus: Any, row: dict[str, Any]) -> dict[str, Any]:
    """--samples N for a text model: N samples of --length characters, each one's longest copy
    from the training split (the first 90%, or --train-data) beside as many held-out windows
    of that length (into ``row["copies"]``); the texts, for the page."""
    from genrnn import session
    from genrnn.analysis.copies import TextCopies, copy_section, held_out_windows

    if args.length < 1:
        raise ConfigError(f"--length {args.length}: expected at least 1 character")
    settings = sample_config(model.kind, args.temperature, args.top_p, seed=args.seed)
    ids = session.open_stream(model, settings, None, batch=args.samples).take(args.length)
    source = args.text or args.corpus
    if args.train_data:
        checker = copycheck.open_checker(model, args.train_data, args.cache)
    else:
        checker = TextCopies(np.asarray(corpus.train), model.tokenizer)
        err.print(f"copy check against the training split of {source}: {checker.index.size:,} characters")
    real = held_out_windows(np.asarray(corpus.val), args.samples, args.length)
    row["copies"] = copy_section(checker, ids, real, copycheck.limit_of(checker, args.copy_limit),
                                 str(args.train_data or f"{source}, first 90%"),
                                 f"{len(real)} held-out windows of {args.length} chars")
    return {"texts": [model.decode(x) for x in ids], "real": [model.decode(x.tolist()) for x in real]}


def _write_html(model: session.Model, args: argparse.Namespace, report: dict[str, Any],
                pieces: dict[str, Any] | None) -> None:
    from genrnn.analysis.report import read_critic, write_report

    critics = [read_critic(folder) for folder in args.critic or []]
    path = write_report(args.html, model.path.name, report, pieces or {}, critics,
                        command="genrnn " + " ".join(sys.argv[1:]))
    err.print(f"wrote {path}")


def _metrics_table(report: dict, samples: int) -> Table:
    from genrnn.analysis.tables import metric_cells
    from genrnn.music.metrics import COUNTS, DRUM_FIGURES

    m = report["metrics"]
    given = ", given the held-out labels" if report.get("labels") == "held-out" else ""
    table = Table(title=f"{samples} samples of {report['seconds_per_sample']:.0f} s{given} vs "
                        f"{int(m['pieces']['real'])} held-out pieces")
    for col in ("metric", "generated", "real", "difference"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    band = [name for name in m if "/" in name or name in DRUM_FIGURES]  # per group, then the drums' figures
    for name, row in m.items():
        if name in (*COUNTS, "top_voice_interval_overlap", *band):
            continue
        table.add_row(*metric_cells(name, row))
    table.add_row("top-voice interval overlap", f"{m['top_voice_interval_overlap']['overlap']:.3f}", "-", "")
    if band:  # band music: per instrument group (a GM family or the drums), then the drums' time
        table.add_section()
        for name in band:
            table.add_row(*metric_cells(name, m[name]))
        if "drum_pieces" in m:
            d, k = m["drum_pieces"], m["kick_snare_pieces"]
            table.caption = (f"drum figures over the pieces with drums ({d['generated']:.0f} generated, "
                             f"{d['real']:.0f} real) and, for the kick/snare pattern, two bars or more "
                             f"({k['generated']:.0f}, {k['real']:.0f})")
    return table


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _dropout(cfg: dict) -> str:
    """Dropout between layers, and on the top layer's output when that differs (``--out-dropout``)."""
    out = cfg.get("out_dropout")
    return f"{cfg['dropout']}" + (f", top-layer output {out}" if out is not None and out != cfg["dropout"] else "")


def _other_info(path: str, info: dict[str, Any]) -> int:
    """``genrnn info`` on a harmonizer or classifier file: its own record, and what reads it."""
    kind = str(info["format"]).removeprefix("genrnn-").replace("-", " ")
    table = Table(title=f"{path} — a {kind} (`genrnn {'harmonize' if kind == 'harmonizer' else 'classify'}`)",
                  show_header=False)
    for k, v in info.items():
        if k == "format":
            continue
        if isinstance(v, dict):
            for k2, v2 in v.items():
                if not isinstance(v2, (dict, list)):
                    table.add_row(f"{k}.{k2}", str(v2))
        else:
            table.add_row(k, str(v))
    out.print(table)
    return 0


def _grids_ms(grids: list[int]) -> str:
    """Tick grids (10 ms steps) as a reader says them: "140 ms, 150 ms, 160 ms"."""
    return ", ".join(f"{g * 10} ms" for g in grids)


def _held(tokenizer: dict) -> list[tuple[str, str]]:
    """An event model's rows for what its training data holds, which the grammar keeps a piece
    to (generation/grammar.py): the tick grids (the tempo lock) and the velocity bins."""
    if tokenizer.get("kind") != "midi_events":
        return []
    grids = tokenizer.get("grids")
    velocities = tokenizer.get("velocities")
    return [("time grids", f"{_grids_ms(grids)} (the tempo lock keeps a piece on one)"
             if grids else "none (not a quantised corpus: time is free)"),
            ("velocities", f"{len(velocities) if velocities else 'all'} of {tokenizer.get('velocity_bins')} bins")]


def _metre(cfg: dict) -> list[tuple[str, str]]:
    """A model told the phase of every step (``train --metre``, models/metre.py)."""
    if not cfg.get("metre_period"):
        return []
    return [("metre input", f"phase of {cfg['metre_period']} grid units on the piece's grid "
                            f"({_grids_ms(cfg['metre_grids'])})")]


def run_info(args: argparse.Namespace) -> int:
    from genrnn import session
    info = session.checkpoint_info(args.checkpoint)
    if args.json:
        emit_json(info)
        return 0
    if "format" in info:  # a harmonizer, a classifier or a feature critic
        return _other_info(args.checkpoint, info)
    cfg, tr = info["model_config"], info["training"]
    table = Table(title=str(args.checkpoint), show_header=False)
    rows = [("kind", info["kind"]),
            ("cell", cfg["cell"]), ("layers × hidden", f"{cfg['layers']} × {cfg['hidden']}"),
            ("embedding", cfg["embed"]), ("dropout", _dropout(cfg)),
            ("vocabulary", f"{cfg['vocab_size']} tokens ({info['tokenizer'].get('kind')})"),
            ("parameters", f"{info['parameters']:,}"), ("training steps", tr.get("steps")),
            ("tokens seen", f"{tr.get('tokens', 0):,}"), ("wall time", f"{tr.get('wall_time')} s"),
            ("val loss", tr.get("val_loss")), ("best val loss", tr.get("best_val_loss")),
            ("labels", ", ".join(info["tokenizer"].get("labels", [])) or "-"),
            *_held(info["tokenizer"]), *_metre(cfg),
            ("preset", tr.get("preset")), ("corpus", tr.get("corpus", {}).get("source")),
            ("recipe", tr.get("corpus", {}).get("recipe_path", "-")),
            ("corpus sha256", (tr.get("corpus", {}).get("sha256") or "")[:16]),
            ("machine", tr.get("machine")), ("genrnn", info.get("genrnn_version"))]
    for k, v in rows:
        table.add_row(k, str(v))
    out.print(table)
    return 0
