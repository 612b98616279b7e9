"""Texture of pieces drawn from labels (one-to-many), as `genrnn sample --condition` draws them.
Last line of output: one JSON object.

    .venv/bin/python benchmarks/conditions.py --condition voices=4               # guidance 2, as the CLI
    .venv/bin/python benchmarks/conditions.py --condition voices=4 --guidance 1  # unguided
    .venv/bin/python benchmarks/conditions.py --condition rests=yes
    .venv/bin/python benchmarks/conditions.py                                    # no label: all drawn

``--num`` pieces of ``--seconds`` (seeds ``--seed`` + n, the kind's sampling defaults unless
``--temperature`` / ``--top-p`` are given) and, over
them: the share of sounding time with exactly three and exactly four notes (each piece's share,
averaged), pooled vertical consonance, mean empty-time ratio, polyphony and onset-grid share.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    from music_bach import voice_time

    from genrnn import session
    from genrnn.config import CONDITION_GUIDANCE, sample_config
    from genrnn.music import metrics

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "bach.safetensors"))
    p.add_argument("--condition", action="append", default=[], metavar="LABEL")
    p.add_argument("--guidance", type=float, default=None,
                   help=f"default {CONDITION_GUIDANCE:g} with --condition, else 1 (as `genrnn sample`)")
    p.add_argument("--temperature", type=float, default=None, help="default: the kind's, as `genrnn sample`")
    p.add_argument("--top-p", type=float, default=None, help="default: the kind's, as `genrnn sample`")
    p.add_argument("--no-tempo-lock", dest="tempo_lock", action="store_false",
                   help="let a piece leave its tick grid (default: the grammar's tempo lock, as `genrnn sample`)")
    p.add_argument("--num", type=int, default=40)
    p.add_argument("--seconds", type=float, default=28.8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    guidance = args.guidance if args.guidance is not None else (CONDITION_GUIDANCE if args.condition else 1.0)
    model = session.load_model(args.checkpoint)
    labels = session.condition_labels(model, args.condition)
    settings = sample_config(model.kind, args.temperature, args.top_p, seed=args.seed, guidance=guidance,
                             tempo_lock=args.tempo_lock)
    start = time.perf_counter()
    pieces = session.sample_pieces(model, args.num, settings, args.seconds, [labels] if labels else None)
    seqs = [piece.sequence for piece in pieces]
    print(json.dumps({"checkpoint": args.checkpoint, "condition": labels, "guidance": guidance, "tempo_lock": args.tempo_lock,
                      "temperature": settings.temperature, "top_p": settings.top_p, "num": args.num,
                      "seconds": args.seconds, "seed": args.seed, "voice_time": voice_time(seqs),
                      "consonance": round(metrics.vertical_consonance(seqs), 4),
                      "empty_time": round(float(np.mean([metrics.empty_time_ratio(s) for s in seqs])), 4),
                      "polyphony": round(float(np.mean([metrics.polyphony(s) for s in seqs])), 3),
                      "onset_grid": round(float(np.mean([metrics.onset_grid_share(s) for s in seqs])), 4),
                      "sampling_seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
