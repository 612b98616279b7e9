"""Copy check speed and chance level (issue 18): how long the suffix index of a text corpus takes
to build, how long a sample takes to check, and how much held-out text shares with the training
split by chance (the reference a text model's copies are read against); for an event model, its
pieces' copies of all the voices and of the top line alone (a tune), beside the held-out pieces'.

    .venv/bin/python benchmarks/copy_check.py --text ../shared/data/tinyshakespeare.txt
    .venv/bin/python benchmarks/copy_check.py --text ../shared/data/tinyshakespeare.txt --scale 10
    .venv/bin/python benchmarks/copy_check.py --checkpoint checkpoints/bach.safetensors --corpus corpora/bach_chorales.toml

``--scale N`` also indexes a corpus N times as large: the file's lines in N seeded shuffles, so
every line recurs N times (the hard case for a suffix array: long repeats) but no longer run.
Progress on stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from genrnn.analysis.copies import SuffixIndex, distribution, held_out_windows

VAL_FRACTION = 0.1  # the text corpora's held-out tail (corpora/text.py)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def _measure(train: np.ndarray, val: np.ndarray, windows: int, length: int) -> dict[str, float]:
    start = time.perf_counter()
    index = SuffixIndex(train)
    built = time.perf_counter() - start
    samples = held_out_windows(val, windows, length)
    start = time.perf_counter()
    longest = [index.longest(w)[0] for w in samples]
    checked = time.perf_counter() - start
    return {"train_chars": int(len(train)), "build_seconds": round(built, 3),
            "ms_per_sample": round(1000 * checked / max(len(samples), 1), 2), "samples": len(samples),
            "sample_chars": length, "held_out_longest_copy": distribution(longest)}


def _music(checkpoint: str, recipe: str, samples: int, seconds: float, seed: int) -> dict[str, object]:
    """Longest copies of all the voices and of the top line, generated (the kind's defaults) and held out."""
    from genrnn import session
    from genrnn.analysis.copies import MusicCopies, top_line, training_pieces
    from genrnn.config import sample_config
    from genrnn.corpora import recipes

    train = training_pieces(recipe)
    model = session.load_model(checkpoint)
    generated = [p.sequence for p in session.sample_pieces(model, samples, sample_config(model.kind, seed=seed), seconds)]
    real = [s.clipped(seconds) for s in recipes.val_sequences(recipes.prepare(recipe, overrides=recipes.PIECES_AS_WRITTEN))]
    out: dict[str, object] = {"checkpoint": checkpoint, "recipe": recipe, "seconds": seconds, "seed": seed}
    for part, read in (("all voices", lambda s: s), ("top line", top_line)):
        checker = MusicCopies([(name, read(seq)) for name, seq in train])
        for side, pieces in (("generated", generated), ("held-out", real)):
            rows = [checker.check(read(s)) for s in pieces]
            out[f"{part}, {side}"] = {"pieces": len(rows), "beats": distribution([r.beats for r in rows]),
                                      "notes": distribution([r.events for r in rows]),
                                      "past 8 beats": sum(r.beats > 8 for r in rows)}
            print(f"{part}, {side}: {out[f'{part}, {side}']}", file=sys.stderr)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", help="a UTF-8 text file (Tiny Shakespeare)")
    ap.add_argument("--checkpoint", help="an event model: its pieces' copies (with --corpus, its recipe)")
    ap.add_argument("--corpus", help="the event model's recipe")
    ap.add_argument("--samples", type=int, default=100, help="event model: pieces drawn (default 100)")
    ap.add_argument("--seconds", type=float, default=28.8, help="event model: seconds a piece (default 28.8)")
    ap.add_argument("--windows", type=int, default=100, help="held-out windows checked (default 100)")
    ap.add_argument("--length", type=int, default=1000, help="characters a window (default 1000)")
    ap.add_argument("--scale", type=int, default=0, help="also a corpus this many times as large")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.checkpoint:
        if not args.corpus:
            ap.error("--checkpoint needs --corpus RECIPE")
        result = _music(args.checkpoint, args.corpus, args.samples, args.seconds, args.seed)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(result))
        return 0
    if not args.text:
        ap.error("give --text FILE, or --checkpoint CKPT --corpus RECIPE")
    text = open(args.text, encoding="utf-8").read()
    codes = _codes(text)
    split = int(len(codes) * (1 - VAL_FRACTION))
    result = {"file": args.text, "corpus": _measure(codes[:split], codes[split:], args.windows, args.length)}
    print(f"{len(codes):,} chars: {result['corpus']}", file=sys.stderr)
    if args.scale > 1:
        lines = text[: len(text[:split])].splitlines(keepends=True)
        rng = np.random.default_rng(args.seed)
        big = "".join("".join(lines[i] for i in rng.permutation(len(lines))) for _ in range(args.scale))
        result["scaled"] = {"times": args.scale, **_measure(_codes(big), codes[split:], args.windows, args.length)}
        print(f"×{args.scale}: {result['scaled']}", file=sys.stderr)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
