"""``genrnn harmonize``: many-to-many, a melody in and the voices under it out.

    genrnn harmonize train --out runs/harmonizer [--voices bass|atb] [--time-budget S] [--seed N]
    genrnn harmonize MELODY.mid --out OUT.mid [--checkpoint CKPT] [--musicxml] [--temperature T]

The first form trains on the Bach chorales of the music21 corpus (genrnn.training.harmonizer);
the second writes OUT.mid: the melody exactly as it was, plus the new voice(s) on their own
tracks, at the melody's tempo. Both print a rich table, or with ``--json`` one JSON line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from genrnn.cli._common import CACHE_HELP, emit_json, err, out
from genrnn.config import HarmonizeConfig
from genrnn.errors import ConfigError

DEFAULT_RUN = Path("runs/harmonizer")
TRAIN_ONLY = ("voices", "time_budget", "max_epochs", "batch_size", "lr", "hidden", "decoder_hidden", "layers",
              "limit", "val_percent", "threads", "cache", "bf16")
HARMONIZE_ONLY = ("checkpoint", "musicxml", "temperature")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "harmonize", help="write a bass line (or alto, tenor and bass) under a melody",
        description="`genrnn harmonize MELODY.mid --out OUT.mid` adds voices under a MIDI melody with a "
                    "model trained on the Bach chorales; `genrnn harmonize train --out DIR` trains that model.")
    p.add_argument("target", metavar="MELODY.mid|train", help="a MIDI melody to harmonize, or `train`")
    p.add_argument("--out", help="harmonizing: the .mid to write (default MELODY-harmonized.mid); "
                                 f"training: the run folder (default {DEFAULT_RUN})")
    p.add_argument("--seed", type=int, default=None, help="sampling / training seed (default 0)")
    p.add_argument("--json", action="store_true", help="one JSON line on stdout instead of the table")
    h = p.add_argument_group("harmonizing")
    h.add_argument("--checkpoint", help="a harmonizer checkpoint or run folder (default: "
                                        "runs/harmonizer/best.safetensors, else checkpoints/harmonizer.safetensors)")
    h.add_argument("--musicxml", action="store_true", help="also write OUT.musicxml (one part per voice)")
    h.add_argument("--temperature", type=float, default=None,
                   help="0 = the most likely voices (default); above 0 samples, e.g. 0.8")
    t = p.add_argument_group("training (`genrnn harmonize train`)")
    t.add_argument("--voices", choices=("bass", "atb"), default=None, help="bass (default), or alto+tenor+bass")
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS", help="default 300")
    t.add_argument("--max-epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None, help="chorales per step (default 4)")
    t.add_argument("--lr", type=float, default=None, help="peak AdamW learning rate (default 5e-3)")
    t.add_argument("--hidden", type=int, default=None, help="encoder LSTM units per direction (default 96)")
    t.add_argument("--decoder-hidden", type=int, default=None, help="decoder LSTM units (default 160)")
    t.add_argument("--layers", type=int, default=None, help="encoder layers (default 2)")
    t.add_argument("--limit", type=int, default=None, help="use the first N chorales only")
    t.add_argument("--val-percent", type=float, default=None, help="chorales held out, by name hash (default 10)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy CPU)")
    t.add_argument("--cache", help=CACHE_HELP)
    t.add_argument("--bf16", action="store_true", help="store the weights as bfloat16 (half the file)")
    p.set_defaults(func=run_harmonize)


def run_harmonize(args: argparse.Namespace) -> int:
    if args.target == "train":
        _reject(args, HARMONIZE_ONLY, "harmonizing a melody, not to `harmonize train`")
        return _train(args)
    _reject(args, TRAIN_ONLY, "`genrnn harmonize train`, not to harmonizing a melody")
    return _harmonize(args)


def _reject(args: argparse.Namespace, names: tuple[str, ...], where: str) -> None:
    given = [n for n in names if getattr(args, n) not in (None, False)]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ConfigError(f"{flags}: applies to {where}")


# ------------------------------------------------------------------ harmonize a melody

def _harmonize(args: argparse.Namespace) -> int:
    from genrnn import session

    melody_path = Path(args.target)
    if not melody_path.is_file():
        raise ConfigError(f"{melody_path}: no such MIDI file (give a .mid melody, or `train`)")
    target = Path(args.out) if args.out else Path(f"{melody_path.stem}-harmonized.mid")
    temperature = 0.0 if args.temperature is None else args.temperature
    harmonizer = session.load_harmonizer(args.checkpoint)
    xml = target.with_suffix(".musicxml") if args.musicxml else None
    result = session.harmonize_file(harmonizer, melody_path, target, temperature, args.seed or 0, xml)
    if args.json:
        emit_json(_payload(result, temperature, args.seed or 0))
        return 0
    for line in result.melody.notes_info:
        err.print(f"note: {line}")
    _print_result(result, temperature)
    return 0


def _payload(r: Any, temperature: float, seed: int) -> dict[str, Any]:
    m = r.melody
    return {"command": "harmonize", "out": str(r.out), "musicxml": str(r.musicxml) if r.musicxml else None,
            "checkpoint": str(r.checkpoint), "voices": list(r.lines), "frames": m.frames,
            "frame_seconds": m.frame_seconds, "tempo_bpm": m.tempo_bpm, "notes": r.notes,
            "ranges": _ranges(r), "consonance": r.consonance, "consonance_by_voice": r.consonance_by_voice,
            "polyphonic_input": m.polyphonic, "dropped_notes": m.dropped_notes, "octave_shift": m.octave_shift,
            "off_grid_share": m.off_grid_share, "temperature": temperature, "seed": seed, "notes_info": m.notes_info}


def _ranges(r: Any) -> dict[str, list[int]]:
    from genrnn.music.voices import token_pitch

    out_ = {"melody": [min(n.pitch for n in r.melody.notes), max(n.pitch for n in r.melody.notes)]}
    for v, tokens in r.lines.items():
        pitches = [token_pitch(int(t)) - r.melody.octave_shift for t in tokens if t >= 2]
        if pitches:
            out_[v] = [min(pitches), max(pitches)]
    return out_


def _print_result(r: Any, temperature: float) -> None:
    from genrnn.music.notation import PITCH_NAMES

    def name(p: int) -> str:
        return f"{PITCH_NAMES[p % 12]}{p // 12 - 1}"

    m = r.melody
    table = Table(title=f"{m.name} harmonized: {m.frames} frames of 16ths at {m.tempo_bpm:g} bpm "
                        f"({m.frames * m.frame_seconds:.1f} s), temperature {temperature:g}")
    for col in ("voice", "notes", "range", "consonance with the melody"):
        table.add_column(col, justify="left" if col in ("voice", "range") else "right")
    ranges = _ranges(r)
    for v in ("melody", "alto", "tenor", "bass"):
        if v in r.notes:
            lo, hi = ranges.get(v, [0, 0])
            cons = "" if v == "melody" else f"{r.consonance_by_voice[v]:.2f}"
            table.add_row(v, str(r.notes[v]), f"{name(lo)}–{name(hi)}" if v in ranges else "-", cons)
    out.print(table)
    out.print(f"vertical consonance of the result: {r.consonance:.2f} (Bach's chorales: about 0.86; "
              f"random pitches in the same rhythm: about 0.68)")
    out.print(f"wrote {r.out} (melody as given + {', '.join(r.lines)} on their own tracks)")
    if r.musicxml:
        out.print(f"wrote {r.musicxml}")


# ------------------------------------------------------------------ train

def _train(args: argparse.Namespace) -> int:
    from genrnn import session

    cfg = _train_config(args)
    run = Path(args.out) if args.out else DEFAULT_RUN
    quiet = args.json

    def on_data(data: Any, n_train: int, n_val: int) -> None:
        if quiet:
            return
        how = "from the cache" if data.cached else f"prepared in {data.seconds:.0f} s"
        skipped = ", ".join(f"{len(v)} {k}" for k, v in data.skipped.items()) or "none"
        err.print(f"{len(data.grids)} chorales ({how}; skipped: {skipped}): {n_train} to train, "
                  f"{n_val} held out · voices {cfg.voices} · {cfg.time_budget:g} s budget · seed {cfg.seed}")

    def on_epoch(row: dict[str, Any]) -> None:
        if quiet:
            return
        voices = [v for v in ("bass", "tenor", "alto") if f"{v}_onset_acc" in row]
        onsets = " ".join(f"{v} {row[f'{v}_onset_acc']:.1%}" for v in voices)
        err.print(f"  epoch {row['epoch']:3d} {row['elapsed']:6.0f} s  train {row['train_loss']:.3f}  "
                  f"held-out {row['val_loss']:.3f}  {voices[0]} frames {row[f'{voices[0]}_frame_acc']:.1%}  "
                  f"onsets right: {onsets}{'  *' if row['best'] else ''}")

    result = session.train_harmonizer(cfg, run, args.cache, on_epoch, on_data, dtype="bf16" if args.bf16 else None)
    size = result.checkpoint.stat().st_size
    if args.json:
        emit_json({"command": "harmonize train", "checkpoint": str(result.checkpoint), "bytes": size,
                   "epochs": len(result.history), "held_out": result.training.get("held_out"),
                   "evaluation": result.evaluation, "parameters": result.training["parameters"],
                   "wall_seconds": result.training["wall_seconds"]})
        return 0
    _print_evaluation(result, size)
    return 0


def _train_config(args: argparse.Namespace) -> HarmonizeConfig:
    plain = {"voices": args.voices, "time_budget": args.time_budget, "max_epochs": args.max_epochs,
             "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "limit": args.limit,
             "val_percent": args.val_percent, "threads": args.threads}
    model = {k: v for k, v in (("hidden", args.hidden), ("decoder_hidden", args.decoder_hidden),
                               ("layers", args.layers)) if v is not None}
    return HarmonizeConfig(**{k: v for k, v in plain.items() if v is not None}, model=model)


def _print_evaluation(result: Any, size: int) -> None:
    ev = result.evaluation
    table = Table(title=f"held-out chorales ({ev['pieces']}) harmonized from the soprano alone, against Bach")
    for col in ("voice", "pitch right", "pitch class right", "below the melody", "notes (Bach's)"):
        table.add_column(col, justify="left" if col == "voice" else "right")
    for v in ("alto", "tenor", "bass"):
        if f"{v}_pitch_acc" in ev:
            table.add_row(v, f"{ev[f'{v}_pitch_acc']:.1%}", f"{ev[f'{v}_pitch_class_acc']:.1%}",
                          f"{ev[f'{v}_below_melody']:.1%}", f"{ev[f'{v}_notes']} ({ev[f'{v}_notes_real']})")
    out.print(table)
    out.print(f"vertical consonance: generated {ev['consonance_generated']:.3f} · Bach {ev['consonance_real']:.3f} · "
              f"shuffled-pitch baseline {ev['consonance_shuffled']:.3f}")
    held = result.training.get("held_out", {})
    out.print(f"best epoch {result.training.get('best_epoch')} of {len(result.history)}: held-out loss "
              f"{held.get('val_loss', float('nan')):.3f} · {result.training['parameters']:,} parameters · "
              f"{result.training['wall_seconds']:.0f} s")
    out.print(f"checkpoint: {result.checkpoint} ({size / 1e6:.2f} MB)")
