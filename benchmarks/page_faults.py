"""Page faults of a CPU training step, with glibc's defaults and with freed memory kept (issue 17).

    nice -n -20 .venv/bin/python benchmarks/page_faults.py [--corpus FILE] [--seconds 12] [--pairs 2]

Each run is the plain reference loop of text_shakespeare.py (LSTM 2×256 fp32, dropout 0.1,
B32×T128) in a fresh child process, so the allocator starts as a user's would: ``plain`` as it
is, ``kept`` after ``genrnn.machine.keep_freed_memory()``. The two alternate; each prints minor
page faults per step (getrusage) and the loop's tok/s (windows of 5 steps). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genrnn.machine import cpu_facts  # noqa: E402

CHILD = r"""
import json, resource, sys
sys.path.insert(0, {bench!r})
if {kept!r}:
    from genrnn.machine import keep_freed_memory
    assert keep_freed_memory(), "glibc's mallopt did not take"
import text_shakespeare as ts
from pathlib import Path
train, _, vocab = ts.load_split(Path({corpus!r}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
_, info = ts.reference_loop(train, vocab, {seconds!r})
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({{"steps": info["steps"], "loop_tok_s": info["loop_tok_s"], "faults_per_step": faults / info["steps"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(kept: bool, corpus: Path, seconds: float) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), kept=kept, corpus=str(corpus), seconds=seconds)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "tinyshakespeare.txt")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus}: not found (Tiny Shakespeare; pass --corpus FILE)")
    runs: dict[str, list[dict]] = {"plain": [], "kept": []}
    for _ in range(args.pairs):
        for kind in ("plain", "kept"):
            runs[kind].append(run(kind == "kept", args.corpus, args.seconds))
            r = runs[kind][-1]
            print(f"{kind}: {r['loop_tok_s']:,.0f} tok/s, {r['faults_per_step']:,.0f} faults a step, "
                  f"peak {r['peak_rss_mb']:.0f} MB", file=sys.stderr)
    summary = {kind: {"loop_tok_s": round(statistics.median(r["loop_tok_s"] for r in rs)),
                      "faults_per_step": round(statistics.median(r["faults_per_step"] for r in rs)),
                      "peak_rss_mb": round(max(r["peak_rss_mb"] for r in rs))} for kind, rs in runs.items()}
    print(json.dumps({**cpu_facts(), "seconds": args.seconds, "pairs": args.pairs, **summary,
                      "speedup": round(summary["kept"]["loop_tok_s"] / summary["plain"]["loop_tok_s"], 3)}))


if __name__ == "__main__":
    main()
