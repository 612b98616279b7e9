"""Bach chorale figures for issue 4. Last line of output: one JSON object.

    .venv/bin/python benchmarks/music_bach.py            # prep + tokenizer + metric references
    .venv/bin/python benchmarks/music_bach.py --limit 40 # a quick run on the first 40 chorales

Prep is timed cold (a fresh temporary cache folder) and from that cache. Round-trip error is
measured on the held-out chorales. Metric references: one half of the held-out chorales
against the other, and the same with pitches shuffled in time within each voice.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from genrnn.corpora.base import PreparedCorpus
from genrnn.corpora.recipes import prepare, records
from genrnn.music import metrics, notation
from genrnn.music.notes import NoteSequence, resolve_overlaps

REPO = Path(__file__).resolve().parents[1]


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
        seq = notation.load_chorale(paths[name])
        again = tok.decode(tok.encode(seq))
        a = sorted(resolve_overlaps(seq.notes), key=lambda n: (n.pitch, n.start))
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


def generation_figures(corpus: PreparedCorpus, real: list[NoteSequence]) -> dict[str, Any] | None:
    """TODO(lead): once the trainer and Generator exist, fill this in:

    1. train the default music preset on ``corpus`` (state its budget, ≤ 30 min on the 2-core box);
    2. time one stream: seconds of music generated per second of compute (target ≥ 100×),
       using ``genrnn.tokenizers.midi_events.EventStreamDecoder`` to track musical time;
    3. decode N samples and return ``metrics.compare(samples, real)`` — print both sides;
       targets: first-order within 10%, top-voice overlap ≥ 0.90, vertical consonance within
       0.03 of real.
    """
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", type=Path, default=REPO / "corpora" / "bach_chorales.toml")
    parser.add_argument("--limit", type=int, default=0, help="first N chorales only (0 = all)")
    args = parser.parse_args()
    corpus, prep = prep_figures(args.recipe, args.limit or None)
    print(f"prep: {prep}")
    real, trip = round_trip_figures(corpus)
    print(f"round trip: {trip}")
    quality = metric_figures(real)
    print(f"metrics on held-out halves: {quality}")
    result = {"benchmark": "music_bach", **prep, **trip, "metrics": quality,
              "generation": generation_figures(corpus, real)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
