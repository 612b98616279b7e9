"""Critic figures for issue 18: can a critic tell the shipped sampler's chorales from Bach?
Last line of output: one JSON object.

    .venv/bin/python benchmarks/critic.py                       # shipped bach model, 3 seeds, both critics
    .venv/bin/python benchmarks/critic.py --best-of 8           # each generated piece the best of 8 by
                                                                # checkpoints/bach.critic.safetensors

For each seed s: real excerpts (the first 15 s of every chorale, each at a random stretch and
transposition of the recipe's augmentation) against as many generated pieces of the same
lengths, drawn as ``genrnn sample`` draws them (``session.sample_pieces`` at the kind's
defaults, seeds 100000·s + n); a neural critic (``classify train``'s defaults, a fixed number
of steps so that the figure does not depend on the machine's speed) and the feature critic
(logistic regression on hand-made features) are trained on the training split and measured
on the held-out split, real and generated alike. 50 % = the critic cannot tell them apart.
Mean ± sd over the seeds (sample sd, n − 1).

The same as ``genrnn classify train --label real --generator CKPT --seeds 3 --steps 1000``,
which also keeps every file; this script adds nothing but the summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from genrnn.analysis.tables import spread

REPO = Path(__file__).resolve().parents[1]


def feature_means(data: Any, names: list[str]) -> dict[str, dict[str, float]]:
    """The named features' means over every real and every generated excerpt (both splits)."""
    import numpy as np

    from genrnn.music.features import FEATURES, feature_matrix
    from genrnn.training.feature_critic import decode_examples

    examples = data.train + data.val
    x = feature_matrix(decode_examples(examples))
    real = np.array([e.label == 1 for e in examples])
    return {n: {"real": round(float(x[real, FEATURES.index(n)].mean()), 4),
                "generated": round(float(x[~real, FEATURES.index(n)].mean()), 4)} for n in names}


def one_seed(args: argparse.Namespace, seed: int, folder: Path) -> dict[str, Any]:
    from genrnn import session
    from genrnn.config import ClassifyConfig, sample_config

    start = time.perf_counter()
    settings = sample_config("midi_events", voice_hold=args.voice_hold,  # None: the kind's, as `genrnn sample`
                             tempo_lock=args.tempo_lock)
    data = session.critic_data(args.corpus, args.checkpoint, args.seconds, seed, settings=settings,
                               best_of=args.best_of, critic=args.rerank_critic if args.best_of > 1 else None)
    made = time.perf_counter() - start
    cfg = ClassifyConfig(time_budget=None, max_steps=args.steps, seed=seed, threads=args.threads)
    neural = session.train_classifier(data, {}, cfg, folder)
    features = session.train_feature_critic(data, folder)
    row = {"seed": seed, "neural": round(neural.evaluation.accuracy, 4), "features": round(features.evaluation.accuracy, 4),
           "heldout": data.counts("val"), "train": data.counts("train"), "data_seconds": round(made, 1),
           "neural_seconds": round(neural.seconds, 1), "feature_top": features.evaluation.row()["top_features"],
           "feature_means": feature_means(data, [name for name, _ in features.evaluation.top_features])}
    print(json.dumps(row), file=sys.stderr)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "bach.safetensors"))
    p.add_argument("--corpus", default=str(REPO / "corpora" / "bach_chorales.toml"))
    p.add_argument("--seconds", type=float, default=15.0, help="excerpt length (default 15, the critic's)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1000, help="neural critic steps (default 1000: ~120 s on one core)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--best-of", type=int, default=1, help="each generated piece the best of N (default 1: plain)")
    p.add_argument("--rerank-critic", default=None,
                   help="feature critic for --best-of (default: the checkpoint's own NAME.critic.safetensors)")
    p.add_argument("--voice-hold", type=float, default=None,
                   help="the sampler's voice hold in nats (default: the kind's, as `genrnn sample`)")
    p.add_argument("--no-tempo-lock", dest="tempo_lock", action="store_false",
                   help="let a piece leave its tick grid (default: the grammar's tempo lock, as `genrnn sample`)")
    p.add_argument("--out", help="keep the critics here (DIR/seedS); default a temporary folder")
    args = p.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        rows = [one_seed(args, s, root / f"seed{s}") for s in range(args.first_seed, args.first_seed + args.seeds)]
    print(json.dumps({"checkpoint": args.checkpoint, "corpus": args.corpus, "excerpt_seconds": args.seconds,
                      "best_of": args.best_of, "voice_hold": args.voice_hold, "tempo_lock": args.tempo_lock, "rerank_critic": args.rerank_critic, "neural_steps": args.steps,
                      "neural": spread([r["neural"] for r in rows]), "features": spread([r["features"] for r in rows]),
                      "seeds": rows, "wall_seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
