"""Copy check speed and chance level (issue 18): how long the suffix index of a text corpus takes
to build, how long a sample takes to check, and how much held-out text shares with the training
split by chance (the reference a text model's copies are read against).

    .venv/bin/python benchmarks/copy_check.py --text ../shared/data/tinyshakespeare.txt
    .venv/bin/python benchmarks/copy_check.py --text ../shared/data/tinyshakespeare.txt --scale 10

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", required=True, help="a UTF-8 text file (Tiny Shakespeare)")
    ap.add_argument("--windows", type=int, default=100, help="held-out windows checked (default 100)")
    ap.add_argument("--length", type=int, default=1000, help="characters a window (default 1000)")
    ap.add_argument("--scale", type=int, default=0, help="also a corpus this many times as large")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
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
