"""Bach chorale figures for issue 4. Last line of output: one JSON object.

    .venv/bin/python benchmarks/music_bach.py            # prep + tokenizer + metric references
    .venv/bin/python benchmarks/music_bach.py --limit 40 # a quick run on the first 40 chorales
    # generation figures: train the default music preset (20 min) into DIR, or reuse a run;
    # --abc-checkpoint adds the share of sampled folk tunes that music21 parses
    .venv/bin/python benchmarks/music_bach.py --train runs/music_bach --abc-checkpoint runs/folk
    .venv/bin/python benchmarks/music_bach.py --skip-prep --checkpoint runs/music_bach

Prep is timed cold (a fresh temporary cache folder) and from that cache. Round-trip error is
measured on the held-out chorales. Metric references: one half of the held-out chorales
against the other, and the same with pitches shuffled in time within each voice.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.config import sampling_defaults
from genrnn.corpora.base import PreparedCorpus
from genrnn.corpora.recipes import prepare, records
from genrnn.music import metrics, notation
from genrnn.music.notes import NoteSequence, resolve_overlaps

REPO = Path(__file__).resolve().parents[1]
EVENT_DEFAULTS = sampling_defaults("midi_events")


def prep_figures(recipe: Path, limit: int | None) -> tuple[PreparedCorpus, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = recipe
        if limit:
            path = Path(tmp) / f"{recipe.stem}.toml"
            path.write_text(recipe.read_text() + f"\nlimit = {limit}\n")
        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        prepare(path, cache_dir=cache)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        corpus = prepare(path, cache_dir=cache)
        cached = time.perf_counter() - start
        corpus = PreparedCorpus(np.array(corpus.train), np.array(corpus.val), corpus.tokenizer, corpus.meta)
    meta = corpus.meta
    return corpus, {
        "prep_cold_s": round(cold, 2),
        "prep_cached_s": round(cached, 3),
        "pieces_train": meta["pieces"]["train"],
        "pieces_val": meta["pieces"]["val"],
        "train_records": meta["pieces"]["train_records"],
        "tokens_train": meta["tokens"]["train"],
        "tokens_val": meta["tokens"]["val"],
        "skipped": meta["skipped"]["summary"],
    }


def round_trip_figures(corpus: PreparedCorpus) -> tuple[list[NoteSequence], dict[str, Any]]:
    """Held-out chorales as music21 reads them → events → notes: worst onset/offset error."""
    tok = corpus.tokenizer
    pieces = [tok.decode(r) for r in records(corpus.val)]
    paths = dict(notation.chorale_paths())
    worst, notes = 0.0, 0
    for name in corpus.meta["piece_names"]["val"]:
        seq = notation.load_score(paths[name])
        again = tok.decode(tok.encode(seq))
        # A tokenizer that merges instruments (the chorales') makes every part one performance,
        # so a part that doubles another in unison (bwv136.6's violin over the soprano) is one note.
        merged = seq.notes if tok.instruments is not None else [replace(n, program=0) for n in seq.notes]
        a = sorted(resolve_overlaps(merged), key=lambda n: (n.pitch, n.start))
        b = sorted(again.notes, key=lambda n: (n.pitch, n.start))
        if len(a) != len(b):
            return pieces, {"round_trip_error": f"note count {len(a)} != {len(b)}"}
        worst = max([worst] + [max(abs(x.start - y.start), abs(x.end - y.end)) for x, y in zip(a, b, strict=True)])
        notes += len(a)
    return pieces, {"round_trip_notes": notes, "round_trip_max_error_ms": round(worst * 1000, 3)}


def metric_figures(real: list[NoteSequence]) -> dict[str, Any]:
    a, b = real[0::2], real[1::2]
    rng = np.random.default_rng(0)
    same = metrics.compare(a, b)
    shuffled = metrics.compare([metrics.shuffled_pitches(s, rng) for s in a], b)
    diatonic = metrics.compare([metrics.random_diatonic(s, rng) for s in a], b)
    out: dict[str, Any] = {}
    for name in (*metrics.FIRST_ORDER, "vertical_consonance"):
        out[name] = {"half_a": round(same[name]["generated"], 4), "half_b": round(same[name]["real"], 4),
                     "shuffled_a": round(shuffled[name]["generated"], 4)}
    out["top_voice_overlap"] = {
        "real_vs_real": round(same["top_voice_interval_overlap"]["overlap"], 4),
        "shuffled_vs_real": round(shuffled["top_voice_interval_overlap"]["overlap"], 4),
        "random_diatonic_vs_real": round(diatonic["top_voice_interval_overlap"]["overlap"], 4),
    }
    return out


def _train_default(corpus_recipe: Path, out: Path, budget: float | None) -> Path:
    """Train the default music preset (its own budget unless ``budget``) into ``out``."""
    from genrnn import session

    corpus = session.prepare_corpus(recipe=corpus_recipe)
    trainer = session.make_trainer(corpus, "music", {}, {"time_budget": budget}, out)
    trainer.fit()
    return out


def speed_figures(model: Any, tokens: int = 3000, seed: int = 0) -> dict[str, Any]:
    """One stream: seconds of music generated per second of compute (decoder time / wall)."""
    from genrnn import session
    from genrnn.config import SampleConfig
    from genrnn.tokenizers.midi_events import EventStreamDecoder

    stream = session.open_stream(model, SampleConfig(temperature=1.0, seed=seed))
    decoder = EventStreamDecoder()
    next(stream)  # warm up
    start = time.perf_counter()
    for _ in range(tokens):
        decoder.feed(next(stream).token)
        decoder.ended = False  # keep counting across the model's END tokens
    wall = time.perf_counter() - start
    return {"tokens": tokens, "music_seconds": round(decoder.time, 2), "compute_seconds": round(wall, 3),
            "tokens_per_second": round(tokens / wall, 1), "x_real_time": round(decoder.time / wall, 1),
            "target_x_real_time": 100}


RANDOM_SETS = 5000  # random chorale sets the size of the held-out split (seed 0)


def chorale_empty_times(seconds: float, held_out: list[str]) -> dict[str, float]:
    """Bach's empty time in the first ``seconds`` of every chorale music21 ships (as the samples
    are cut): over all of them, the training and the held-out split, and the share of random
    sets of the held-out split's size that rest as much as it does. The held-out 32 rest 2.2×
    as much as all 349, more than 99 % of such sets do, so issue 18's rests are judged against
    all 349."""
    from genrnn.music.features import windows

    names, cut = zip(*[(n, windows(notation.load_score(p), seconds)[0]) for n, p in notation.chorale_paths()],
                     strict=True)
    empty = np.array([metrics.empty_time_ratio(s) for s in cut])
    val = np.isin(names, held_out)
    rng = np.random.default_rng(0)
    sets = np.array([empty[rng.choice(len(empty), int(val.sum()), replace=False)].mean() for _ in range(RANDOM_SETS)])
    return {"all": round(float(empty.mean()), 4), "training": round(float(empty[~val].mean()), 4),
            "held_out": round(float(empty[val].mean()), 4),
            "random_sets_resting_as_much": round(float((sets >= empty[val].mean()).mean()), 4)}


def voice_time(seqs: list[NoteSequence]) -> dict[str, float]:
    """The mean share of a piece's sounding time with exactly three and exactly four notes."""
    at = [metrics.time_at_polyphony(s) for s in seqs]
    return {f"at_{k}": round(float(np.mean([a[k] / max(sum(a[1:]), 1e-9) if len(a) > k else 0.0 for a in at])), 4)
            for k in (3, 4)}


def quality_figures(model: Any, real: list[NoteSequence], samples: int, seed: int = 0,
                    temperature: float = 1.0, top_p: float = 1.0, voice_hold: float | None = None,
                    labels: list[list[str]] | None = None, held_out: list[str] | None = None,
                    tempo_lock: bool = True) -> dict[str, Any]:
    """``samples`` pieces as long as the median held-out piece vs the held-out ones: unprimed
    (a conditioned model draws its labels), or piece n given ``labels[n]`` (cycled).
    ``held_out``: the held-out chorales' names, for Bach's rests over all chorales."""
    from genrnn import session
    from genrnn.config import sample_config

    cap = float(np.median([s.end_time for s in real]))
    start = time.perf_counter()
    settings = sample_config("midi_events", temperature, top_p, voice_hold, seed=seed, tempo_lock=tempo_lock)
    pieces = session.sample_pieces(model, samples, settings, cap, labels)
    wall = time.perf_counter() - start
    cmp = metrics.compare([p.sequence for p in pieces], real)
    out: dict[str, Any] = {"samples": samples, "labels": "held-out" if labels else "drawn",
                           "temperature": temperature, "top_p": top_p,
                           "max_note_seconds": settings.max_note_seconds, "voice_hold": settings.voice_hold,
                           "tempo_lock": settings.tempo_lock, "seconds_each": round(cap, 1), "sampling_seconds": round(wall, 2)}
    checks = {}
    for name in (*metrics.FIRST_ORDER, "vertical_consonance"):
        row = cmp[name]
        out[name] = {"generated": round(row["generated"], 4), "real": round(row["real"], 4),
                     "rel_diff": round(row["rel_diff"], 4), "abs_diff": round(row["abs_diff"], 4)}
        if name == "vertical_consonance":
            checks[name] = abs(row["abs_diff"]) <= 0.03
        elif name == "empty_time_ratio":
            checks[name] = abs(row["abs_diff"]) <= 0.10 * max(row["real"], 0.1)
        elif name == "onset_grid_share":  # issue 18: within 2 points of Bach's
            checks[name] = abs(row["abs_diff"]) <= 0.02
        else:
            checks[name] = abs(row["rel_diff"]) <= 0.10
    bach = chorale_empty_times(cap, held_out or [])  # issue 18: within 30 % of Bach's
    generated = cmp["empty_time_ratio"]["generated"]
    out["empty_time_all_chorales"] = {"generated": round(generated, 4), "real": bach["all"],
                                      "rel_diff": round(generated / bach["all"] - 1, 4), "bach": bach}
    checks["empty_time_all_chorales"] = abs(generated / bach["all"] - 1) <= 0.30
    out["voice_time"] = {"generated": voice_time([p.sequence for p in pieces]), "real": voice_time(real)}
    overlap = cmp["top_voice_interval_overlap"]["overlap"]
    out["top_voice_overlap"] = round(overlap, 4)
    checks["top_voice_overlap"] = overlap >= 0.90
    out["passes"] = checks
    out["all_pass"] = all(checks.values())
    return out


def folk_figures(abc_checkpoint: Path, tunes: int, seed: int = 0,
                 temperature: float = sampling_defaults("abc")["temperature"]) -> dict[str, Any]:
    from genrnn import session
    from genrnn.config import SampleConfig

    model = session.load_model(abc_checkpoint)
    start = time.perf_counter()
    done = [session.sample_tune(model, SampleConfig(temperature=temperature, seed=seed + n), name=f"tune {n + 1}")
            for n in range(tunes)]
    ok = sum(t.parses for t in done)
    return {"checkpoint": str(abc_checkpoint), "training": _training_summary(model),
            "tunes": tunes, "temperature": temperature, "parse": ok, "parse_share": round(ok / tunes, 3), "target_share": 0.9,
            "ended_by_model": sum(t.ended for t in done), "seconds": round(time.perf_counter() - start, 1),
            "failures": [t.error for t in done if t.error][:10]}


def _training_summary(model: Any) -> dict[str, Any]:
    tr = model.training
    cfg = model.config
    return {"preset": tr.get("preset"), "steps": tr.get("steps"), "tokens": tr.get("tokens"),
            "wall_time_s": tr.get("wall_time"), "time_budget_s": tr.get("train_config", {}).get("time_budget"),
            "best_val_loss": tr.get("best_val_loss"), "machine": tr.get("machine"),
            "model": f"{cfg.cell} {cfg.layers}x{cfg.hidden} emb {cfg.embed}"}


def held_out_labels(model: Any, recipe: Path, real: list[NoteSequence]) -> list[list[str]]:
    """Each held-out chorale's labels, as the model's corpus gives them, in ``real``'s order."""
    from genrnn import session
    from genrnn.corpora.recipes import val_labels, val_sequences

    corpus = session.prepare_corpus(recipe=recipe, conditioned=True,
                                    label_kinds=session.kinds_of_labels(model.tokenizer))
    same = [len(s.notes) for s in val_sequences(corpus)] == [len(s.notes) for s in real]
    if not same:
        raise SystemExit("the labelled corpus's held-out pieces are not the benchmark's")
    return val_labels(corpus)


def generation_figures(real: list[NoteSequence], args: argparse.Namespace,
                       held_out: list[str]) -> dict[str, Any] | None:
    """Speed of one stream and generated vs held-out chorales, after the default music
    preset's training budget (``--checkpoint`` reuses a run; ``--train DIR`` trains one)."""
    from genrnn import session

    ckpt = args.checkpoint
    if ckpt is None and args.train is not None:
        ckpt = _train_default(args.recipe, args.train, args.train_budget)
    out: dict[str, Any] = {}
    if ckpt is not None:
        model = session.load_model(ckpt)
        out["training"] = _training_summary(model)
        out["speed"] = speed_figures(model)
        print(f"generation speed: {out['speed']}")
        labels = held_out_labels(model, args.recipe, real) if args.labels == "held-out" else None
        out["quality"] = quality_figures(model, real, args.samples, seed=args.seed,
                                         temperature=args.temperature, top_p=args.top_p,
                                         voice_hold=args.voice_hold, labels=labels, held_out=held_out,
                                         tempo_lock=args.tempo_lock)
        for name, row in out["quality"].items():
            print(f"  {name}: {row}")
    if args.abc_checkpoint is not None:
        out["folk"] = folk_figures(args.abc_checkpoint, args.tunes)
        print(f"folk tunes: {out['folk']}")
    return out or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", type=Path, default=REPO / "corpora" / "bach_chorales.toml")
    parser.add_argument("--limit", type=int, default=0, help="first N chorales only (0 = all)")
    parser.add_argument("--checkpoint", type=Path, help="a trained chorale model (run folder or .safetensors)")
    parser.add_argument("--train", type=Path, metavar="DIR", help="train the default music preset into DIR first")
    parser.add_argument("--train-budget", type=float, help="seconds (default: the music preset's budget)")
    # 170, not one piece per held-out chorale: pooled consonance over 34 pieces moved between
    # 0.78 and 0.87 from seed to seed (a few dense pieces hold most of the note pairs).
    parser.add_argument("--samples", type=int, default=170, help="sampled chorales to compare (default 170)")
    parser.add_argument("--temperature", type=float, default=EVENT_DEFAULTS["temperature"],
                        help=f"sampling temperature (default {EVENT_DEFAULTS['temperature']:g}, as `genrnn sample`)")
    parser.add_argument("--top-p", type=float, default=EVENT_DEFAULTS["top_p"],
                        help=f"nucleus sampling mass (default {EVENT_DEFAULTS['top_p']:g}, as `genrnn sample`)")
    parser.add_argument("--voice-hold", type=float, default=EVENT_DEFAULTS["voice_hold"],
                        help=f"nats against a silent voice (default {EVENT_DEFAULTS['voice_hold']:g}, as `genrnn sample`)")
    parser.add_argument("--no-tempo-lock", dest="tempo_lock", action="store_false",
                        help="let a piece leave its tick grid (default: the grammar's tempo lock, as `genrnn sample`)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sampled piece (default 0)")
    parser.add_argument("--abc-checkpoint", type=Path, help="a folk_abc model: share of sampled tunes that parse")
    parser.add_argument("--tunes", type=int, default=50, help="sampled folk tunes (default 50)")
    parser.add_argument("--labels", choices=("drawn", "held-out"), default="drawn",
                        help="a conditioned model draws each sample's labels (default), or sample n gets "
                             "held-out chorale n's labels (the same mix of keys, modes, rests, voices)")
    parser.add_argument("--skip-prep", action="store_true", help="use the cached corpus (no cold prep timing)")
    args = parser.parse_args()
    if args.skip_prep:
        corpus = prepare(args.recipe)
        prep: dict[str, Any] = {"prep": "skipped (cached corpus)"}
    else:
        corpus, prep = prep_figures(args.recipe, args.limit or None)
    print(f"prep: {prep}")
    real, trip = round_trip_figures(corpus)
    print(f"round trip: {trip}")
    quality = metric_figures(real)
    print(f"metrics on held-out halves: {quality}")
    result = {"benchmark": "music_bach", **prep, **trip, "metrics": quality,
              "generation": generation_figures(real, args, corpus.meta["piece_names"]["val"])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
